package secure

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"zabd/net/secure/securetest"
)

// handshake serves one TLS handshake with cfg and dials it with client;
// it returns the server certificate the client saw and each side's error.
func handshake(t *testing.T, cfg *tls.Config, client *tls.Config) (serverSubject string, cerr, serr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			serr = err
			return
		}
		defer c.Close()
		tc := tls.Server(c, cfg)
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		serr = tc.Handshake()
		if serr == nil {
			tc.Write([]byte("x")) // TLS 1.3: the client learns of a refusal on its first read
		}
	}()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), client)
	if err == nil {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		var b [1]byte
		_, err = c.Read(b[:])
		serverSubject = c.ConnectionState().PeerCertificates[0].Subject.String()
		c.Close()
	}
	wg.Wait()
	return serverSubject, err, serr
}

func TestStoreTypesAndClientAuth(t *testing.T) {
	f := securetest.Write(t, t.TempDir())
	stores := []struct {
		name              string
		key, keyType      string
		trust, trustType  string
		keyPass, trustPas string
	}{
		{"PEM by extension", f.ServerPEM, "", f.CA, "", "", ""},
		{"PKCS12 by extension", f.ServerP12, "", f.TrustP12, "", securetest.Password, securetest.Password},
		{"JKS by extension", f.ServerJKS, "", f.TrustJKS, "", securetest.Password, securetest.Password},
		{"PKCS12 named", f.ServerP12, "pkcs12", f.CA, "PEM", securetest.Password, ""},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			r, err := New(Config{KeyStore: st.key, KeyStoreType: st.keyType, KeyStorePassword: st.keyPass,
				TrustStore: st.trust, TrustStoreType: st.trustType, TrustStorePassword: st.trustPas})
			if err != nil {
				t.Fatal(err)
			}
			subj, cerr, serr := handshake(t, r.TLSConfig(), f.ClientConfig(&f.Client))
			if cerr != nil || serr != nil || !strings.Contains(subj, "CN=localhost") {
				t.Fatalf("client with a good certificate: client %v, server %v, server cert %q", cerr, serr, subj)
			}
			// need (the default): no certificate, or one from another CA, is refused.
			if _, _, serr := handshake(t, r.TLSConfig(), f.ClientConfig(nil)); serr == nil {
				t.Errorf("need: a client without a certificate got through")
			}
			if _, _, serr := handshake(t, r.TLSConfig(), f.ClientConfig(&f.OtherClient)); serr == nil {
				t.Errorf("need: a certificate from another CA got through")
			}
		})
	}
	for _, tc := range []struct {
		auth      string
		noCert    bool
		otherCert bool
	}{
		{"want", true, true}, // a client whose certificate no trusted CA issued sends none: no identity, but served
		{"none", true, true},
	} {
		r, err := New(Config{KeyStore: f.ServerPEM, TrustStore: f.CA, ClientAuth: tc.auth})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, serr := handshake(t, r.TLSConfig(), f.ClientConfig(nil)); (serr == nil) != tc.noCert {
			t.Errorf("%s, no certificate: %v", tc.auth, serr)
		}
		if _, _, serr := handshake(t, r.TLSConfig(), f.ClientConfig(&f.OtherClient)); (serr == nil) != tc.otherCert {
			t.Errorf("%s, another CA's certificate: %v", tc.auth, serr)
		}
	}
}

func TestRefusedConfigurations(t *testing.T) {
	dir := t.TempDir()
	f := securetest.Write(t, dir)
	mismatch := filepath.Join(dir, "mismatch.pem")
	key, _ := os.ReadFile(f.OtherKey)
	cert, _ := os.ReadFile(f.ClientCert)
	os.WriteFile(mismatch, append(key, cert...), 0o600)
	encrypted := filepath.Join(dir, "enc.pem")
	os.WriteFile(encrypted, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), 0o600)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "ssl.keyStore.location is not set"},
		{Config{KeyStore: f.ServerP12, KeyStorePassword: "wrong"}, f.ServerP12 + " (PKCS12)"},
		{Config{KeyStore: f.ServerJKS, KeyStorePassword: "wrong"}, f.ServerJKS + " (JKS)"},
		{Config{KeyStore: filepath.Join(dir, "server.store")}, "cannot tell the store's type from its name"},
		{Config{KeyStore: f.ServerPEM, KeyStoreType: "BCFKS"}, "keytool -importkeystore"},
		{Config{KeyStore: f.CA}, "no private key"},
		{Config{KeyStore: mismatch}, "does not match the certificate"},
		{Config{KeyStore: encrypted}, "encrypted"},
		{Config{KeyStore: f.ServerPEM, ClientAuth: "maybe"}, "ssl.clientAuth"},
		{Config{KeyStore: f.ServerPEM, Protocol: "TLSv1.1"}, "TLS 1.2 and 1.3 only"},
		{Config{KeyStore: f.ServerPEM, CipherSuites: []string{"TLS_RSA_WITH_RC4_128_SHA"}}, "not a cipher suite"},
		{Config{KeyStore: f.ServerPEM, TrustStore: f.ServerP12, TrustStorePassword: "wrong"}, "trust store"},
		{Config{KeyStore: filepath.Join(dir, "missing.pem")}, "no such file"},
	} {
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want it to say %q", tc.cfg, err, tc.want)
		}
	}
}

func TestVersionsAndSuites(t *testing.T) {
	f := securetest.Write(t, t.TempDir())
	r, err := New(Config{KeyStore: f.ServerPEM, TrustStore: f.CA, Protocol: "TLSv1.3"})
	if err != nil {
		t.Fatal(err)
	}
	old := f.ClientConfig(&f.Client)
	old.MaxVersion = tls.VersionTLS12
	if _, cerr, _ := handshake(t, r.TLSConfig(), old); cerr != nil {
		t.Errorf("ssl.protocol=TLSv1.3 refused a TLS 1.2 client: %v", cerr)
	}
	r, err = New(Config{KeyStore: f.ServerPEM, TrustStore: f.CA, EnabledProtocols: []string{"TLSv1.3"},
		CipherSuites: []string{"TLS_AES_128_GCM_SHA256"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, serr := handshake(t, r.TLSConfig(), old); serr == nil {
		t.Errorf("ssl.enabledProtocols=TLSv1.3 took a TLS 1.2 client")
	}
	r, err = New(Config{KeyStore: f.ServerPEM, TrustStore: f.CA, Protocol: "TLSv1.2",
		CipherSuites: []string{"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}})
	if err != nil {
		t.Fatal(err)
	}
	c := f.ClientConfig(&f.Client)
	c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
	c.MaxVersion = tls.VersionTLS12
	if _, _, serr := handshake(t, r.TLSConfig(), c); serr == nil {
		t.Errorf("a suite outside ssl.ciphersuites was negotiated")
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }
func (c *fakeClock) set(t time.Time)     { c.mu.Lock(); c.now = t; c.mu.Unlock() }
func subjectOf(t *testing.T, r *Reloader) string {
	return r.current().Certificates[0].Leaf.Subject.String()
}

// The key store rotated on disk is served from the next handshake once
// the once-a-second check sees it; a file that does not load leaves the
// previous certificate in use.
func TestReload(t *testing.T) {
	f := securetest.Write(t, t.TempDir())
	clock := &fakeClock{}
	clock.set(time.Unix(1000, 0))
	r, err := New(Config{KeyStore: f.ServerPEM, TrustStore: f.CA, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	first := subjectOf(t, r)
	rotated := f.RotateServer(t)
	if got := subjectOf(t, r); got != first {
		t.Errorf("reloaded within a second of the last check: %q", got)
	}
	clock.Add(time.Second)
	if got := subjectOf(t, r); got != rotated.Subject.String() {
		t.Errorf("after the rotation: serving %q, want %q", got, rotated.Subject)
	}
	subj, cerr, serr := handshake(t, r.TLSConfig(), f.ClientConfig(&f.Client))
	if cerr != nil || serr != nil || subj != rotated.Subject.String() {
		t.Errorf("a handshake after the rotation: %q, %v, %v", subj, cerr, serr)
	}
	// A broken file: the rotated certificate stays.
	if err := os.WriteFile(f.ServerPEM, []byte("half a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Second)
	if got := subjectOf(t, r); got != rotated.Subject.String() || r.reloadErr == nil {
		t.Errorf("after a broken rotation: serving %q (err %v), want the previous %q", got, r.reloadErr, rotated.Subject)
	}
}
