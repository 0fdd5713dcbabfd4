package transport

import (
	"crypto/tls"
	"testing"

	"zabd/net/secure"
	"zabd/net/secure/securetest"
	"zabd/zab/peer"
)

// With ServerTLS and ClientTLS (sslQuorum) members talk over TLS with
// each other's certificates verified; a member speaking plain text to a
// TLS port is closed, and one whose certificate another CA issued is
// refused at the handshake.
func TestTLSBetweenMembers(t *testing.T) {
	certs := securetest.Write(t, t.TempDir())
	r, err := secure.New(secure.Config{KeyStore: certs.ServerPEM, TrustStore: certs.CA})
	if err != nil {
		t.Fatal(err)
	}
	withTLS := func(c *Config) {
		c.ServerTLS = r.ServerConfigMutual()
		c.ClientTLS = func(string) *tls.Config { return r.ClientConfig("localhost:0", true) }
	}
	h := newHarness(t)
	a := h.start(1, []peer.ID{1, 2}, loopback, withTLS)
	b := h.start(2, []peer.ID{1, 2}, loopback, withTLS)
	a.Send(ack(1, 2, 7))
	if m := recv(t, b); m.SyncID != 7 || m.From != 1 {
		t.Fatalf("got %v", m)
	}
	b.Send(ack(2, 1, 8))
	if m := recv(t, a); m.SyncID != 8 {
		t.Fatalf("got %v", m)
	}

	// Plain text to the TLS quorum port: closed.
	plain := dialRaw(t, b.Addrs().Quorum).handshake(quorumPort, 1, 2).msg(t, ack(1, 2, 9))
	plain.flush(t)
	plain.waitClosed(t)

	// A certificate from another CA: the handshake fails.
	other := certs.ClientConfig(&certs.OtherClient)
	other.InsecureSkipVerify = true
	c, err := tls.Dial("tcp", b.Addrs().Quorum, other)
	if err == nil {
		c.Write([]byte{0})
		var buf [1]byte
		_, err = c.Read(buf[:])
		c.Close()
	}
	if err == nil {
		t.Errorf("a member with another CA's certificate was served")
	}
}
