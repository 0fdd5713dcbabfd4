package sasl

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// RFC 2831's example (section 4): chris / secret on elwood.innosoft.com.
func TestDigestsRFC2831Example(t *testing.T) {
	resp, rsp := digests("chris", "elwood.innosoft.com", "secret", "OA6MG9tEQGm2hh", "OA6MHXh6VqTrRk", "", "00000001", "auth", "imap/elwood.innosoft.com")
	if resp != "d388dad90d4bbd760a152321f2143af7" || rsp != "ea40f60335c427b5527b84dbabcdfffd" {
		t.Errorf("response %s rspauth %s, want the RFC's d388dad9... and ea40f603...", resp, rsp)
	}
}

// client answers a challenge as a DIGEST-MD5 client would.
func client(t *testing.T, challenge []byte, user, pass, authz, uri string) []byte {
	t.Helper()
	f, err := parseDirectives(string(challenge))
	if err != nil {
		t.Fatal(err)
	}
	cnonce := "c1c2c3"
	resp, _ := digests(user, f["realm"], pass, f["nonce"], cnonce, authz, "00000001", "auth", uri)
	s := fmt.Sprintf(`charset=utf-8,username="%s",realm="%s",nonce="%s",nc=00000001,cnonce="%s",digest-uri="%s",maxbuf=65536,response=%s,qop=auth`,
		user, f["realm"], f["nonce"], cnonce, uri, resp)
	if authz != "" {
		s += fmt.Sprintf(`,authzid="%s"`, authz)
	}
	return []byte(s)
}

func TestExchange(t *testing.T) {
	users := map[string]string{"bob": "bobsecret", "zoë": "pässword"}
	uri := Protocol + "/" + ServerName
	for _, tc := range []struct {
		name, user, pass, authz, uri string
		ok                           bool
		id                           string
	}{
		{"right", "bob", "bobsecret", "", uri, true, "bob"},
		{"latin-1 name and password", "zoë", "pässword", "", uri, true, "zoë"},
		{"authzid", "bob", "bobsecret", "bob", uri, true, "bob"},
		{"authzid of another user", "bob", "bobsecret", "super", uri, false, ""},
		{"wrong password", "bob", "nope", "", uri, false, ""},
		{"no such user", "eve", "x", "", uri, false, ""},
		{"another service", "bob", "bobsecret", "", "imap/zk-sasl-md5", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewDigestMD5(users, bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
			ch, err := e.Step(nil)
			if err != nil || !strings.Contains(string(ch), `realm="zk-sasl-md5"`) || !strings.Contains(string(ch), `qop="auth"`) {
				t.Fatalf("challenge %q, %v", ch, err)
			}
			out, err := e.Step(client(t, ch, tc.user, tc.pass, tc.authz, tc.uri))
			if (err == nil) != tc.ok || e.Done() != tc.ok || e.AuthorizationID() != tc.id {
				t.Fatalf("ok=%v done=%v id=%q err=%v", err == nil, e.Done(), e.AuthorizationID(), err)
			}
			if tc.ok && !strings.HasPrefix(string(out), "rspauth=") {
				t.Errorf("final token %q", out)
			}
			if _, err := e.Step(nil); err == nil {
				t.Errorf("a third step accepted")
			}
		})
	}
	// A client opening with a token of its own (GSSAPI) is refused.
	g := NewDigestMD5(users, bytes.NewReader(make([]byte, 16)))
	if _, err := g.Step([]byte{0x60, 0x82, 0x02}); err == nil || !strings.Contains(err.Error(), "GSSAPI") {
		t.Errorf("a GSSAPI first token: %v", err)
	}
	// A response to another exchange's nonce fails.
	a := NewDigestMD5(users, bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
	b := NewDigestMD5(users, bytes.NewReader(bytes.Repeat([]byte{2}, 64)))
	cha, _ := a.Step(nil)
	b.Step(nil)
	if _, err := b.Step(client(t, cha, "bob", "bobsecret", "", uri)); err == nil {
		t.Errorf("a response to another nonce accepted")
	}
}

func TestParseJAAS(t *testing.T) {
	text := `
/* ZooKeeper's server and client sections */
Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_super="adminsecret"
       user_bob="bob \"quoted\" secret";  // trailing comment
};
# another
Client {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="bob"
       password="bobsecret";
};
`
	dir := t.TempDir()
	path := filepath.Join(dir, "jaas.conf")
	os.WriteFile(path, []byte(text), 0o600)
	users, err := DigestUsers(path, "Server")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users["super"] != "adminsecret" || users["bob"] != `bob "quoted" secret` {
		t.Errorf("users %q", users)
	}
	for _, tc := range []struct{ text, section, want string }{
		{text, "Other", "has no Other section"},
		{"Server { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true; };", "Server", "Kerberos is not"},
		{"Server { org.apache.zookeeper.server.auth.DigestLoginModule required; };", "Server", "lists no user_"},
		{"Server { org.apache.zookeeper.server.auth.DigestLoginModule maybe user_a=\"b\"; };", "Server", "flag"},
		{"Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_a=\"b; };", "Server", "unterminated"},
	} {
		os.WriteFile(path, []byte(tc.text), 0o600)
		if _, err := DigestUsers(path, tc.section); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.text, err, tc.want)
		}
	}
}

func FuzzExchange(f *testing.F) {
	f.Add([]byte(`username="bob",realm="zk-sasl-md5",nonce="x",nc=00000001,cnonce="y",digest-uri="zookeeper/zk-sasl-md5",response=00,qop=auth`))
	f.Fuzz(func(t *testing.T, in []byte) {
		e := NewDigestMD5(map[string]string{"bob": "s"}, bytes.NewReader(make([]byte, 16)))
		e.Step(nil)
		if _, err := e.Step(in); err == nil && e.AuthorizationID() == "" {
			t.Fatalf("done without an identity")
		}
	})
}
