package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/net/secure/securetest"
)

// TestEnsembleOverTLS runs a 3-member ensemble with sslQuorum=true (each
// member's certificate verified by its peers, the quorum and election
// ports TLS only): a leader is elected, writes through a follower reach
// every member; after the leader is killed the others elect a new one over TLS and it
// rejoins.
func TestEnsembleOverTLS(t *testing.T) {
	certs := securetest.Write(t, t.TempDir())
	e := newEnsembleEach(t, 3, func(int) string {
		return fmt.Sprintf("sslQuorum=true\nssl.quorum.keyStore.location=%s\nssl.quorum.keyStore.password=%s\nssl.quorum.trustStore.location=%s\nssl.quorum.trustStore.password=%s\n",
			certs.ServerP12, securetest.Password, certs.TrustP12, securetest.Password)
	})
	leader := e.waitModes(60 * time.Second)
	follower := leader%3 + 1
	c, err := e.connect(follower)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 20 {
		if _, err := c.Create(fmt.Sprintf("/tls-%02d", i), []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3; i++ {
		m, err := e.connect(i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Sync("/"); err != nil {
			t.Fatal(err)
		}
		kids, _, err := m.Children("/")
		m.Close()
		if err != nil || len(kids) != 21 { // 20 and /zookeeper
			t.Errorf("server %d: %d children (%v), want 21", i, len(kids), err)
		}
	}
	e.kill(leader)
	next := e.waitModes(60 * time.Second)
	e.start(leader)
	e.waitModes(60 * time.Second)
	e.logf("leader %d killed, %d elected over TLS, %d back", leader, next, leader)
	for i := 1; i <= 3; i++ {
		if s := e.log(i); strings.Contains(s, "first record does not look like a TLS handshake") {
			t.Errorf("server %d saw a plain-text peer:\n%s", i, s)
		}
	}
}
