package net

import (
	"crypto/tls"
	"io"
	"log/slog"
	stdnet "net"
	"strings"
	"sync"
	"testing"
	"time"

	"zabd/net/secure"
	"zabd/net/secure/securetest"
	"zabd/tree"
)

// tlsServer serves a heldProc over TLS (ssl.clientAuth=want) on a
// loopback port, with the x509 provider or without, port unification as
// asked; it returns the server and its address.
func tlsServer(t *testing.T, certs securetest.Files, x509, unified bool, logs io.Writer) (*Server, string) {
	t.Helper()
	r, err := secure.New(secure.Config{KeyStore: certs.ServerPEM, TrustStore: certs.CA, ClientAuth: "want"})
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(Config{FourLetterWords: []string{"*"}, X509: x509, Logger: slog.New(slog.NewTextHandler(logs, nil))},
		&heldProc{watches: tree.NewWatches()})
	ln, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.ServeTLS(ln, r.TLSConfig(), unified)
	t.Cleanup(s.Close)
	return s, ln.Addr().String()
}

// wordOverTLS sends a four-letter word over a TLS connection and returns
// what came back before the server closed it.
func wordOverTLS(t *testing.T, addr string, cfg *tls.Config, word string) (string, error) {
	t.Helper()
	c, err := tls.DialWithDialer(&stdnet.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestTLSClientCertificates(t *testing.T) {
	certs := securetest.Write(t, t.TempDir())

	// Without the x509 provider a presented certificate is refused, as
	// ZooKeeper refuses it; a client without one is served.
	logs := &syncWriter{w: &strings.Builder{}}
	_, addr := tlsServer(t, certs, false, false, logs)
	if out, err := wordOverTLS(t, addr, certs.ClientConfig(nil), "ruok"); out != "imok" {
		t.Errorf("no certificate, ruok over TLS: %q, %v", out, err)
	}
	if out, _ := wordOverTLS(t, addr, certs.ClientConfig(&certs.Client), "ruok"); out != "" {
		t.Errorf("a certificate without the x509 provider: answered %q", out)
	}

	// With it, the connection carries the subject as its x509 id.
	s, addr := tlsServer(t, certs, true, false, io.Discard)
	c, err := tls.Dial("tcp", addr, certs.ClientConfig(&certs.Client))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The server registers the connection once its side of the handshake
	// is done; the client sends nothing, so it stays open meanwhile.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ids []tree.Id
		for _, cn := range s.connections() {
			cn.mu.Lock()
			ids = append(ids, cn.auth...)
			cn.mu.Unlock()
		}
		if len(ids) == 2 && ids[1] == (tree.Id{Scheme: tree.SchemeX509, ID: securetest.ClientSubject}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the connection's ids: %v, want ip and x509 %s", ids, securetest.ClientSubject)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Port unification: plain text and TLS on one port.
	_, addr = tlsServer(t, certs, true, true, io.Discard)
	if out, _ := wordOverTLS(t, addr, certs.ClientConfig(nil), "ruok"); out != "imok" {
		t.Errorf("TLS ruok on the unified port: %q", out)
	}
	pc, err := stdnet.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	pc.SetDeadline(time.Now().Add(10 * time.Second))
	pc.Write([]byte("ruok"))
	b, _ := io.ReadAll(pc)
	pc.Close()
	if string(b) != "imok" {
		t.Errorf("plain ruok on the unified port: %q", b)
	}
	if !strings.Contains(logs.String(), "authProvider.x509") {
		t.Errorf("the refusal's log line does not name the fix:\n%s", logs.String())
	}
}

// syncWriter serializes writes to w (log lines from the connections'
// goroutines) and reads of it.
type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}
