// Package sasl is the server side of ZooKeeper's SASL authentication:
// the DIGEST-MD5 mechanism (RFC 2831, qop "auth") that Apache
// ZooKeeper's Java client speaks with a JAAS "Client" section, checked
// against the users of a JAAS "Server" section (user_<name>="<password>"),
// and the parser of that JAAS file.
//
// Invariants: an Exchange is a deterministic state machine (its nonce
// comes from the Rand it is given), it never reveals whether a user exists
// (an unknown user and a wrong password fail alike, after the same work),
// a response is checked against the exchange's own nonce, realm and
// digest-uri, and a finished or failed exchange accepts nothing more.
package sasl

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// ZooKeeper's names for the mechanism's server (ZooKeeperSaslServer):
// the protocol and server name make the digest-uri the client sends,
// "zookeeper/zk-sasl-md5", and the server name is the realm.
const (
	Protocol   = "zookeeper"
	ServerName = "zk-sasl-md5"
)

// ErrAuthFailed is every failed exchange's error (wrapped with the reason,
// for the server's log, never for the client).
var ErrAuthFailed = errors.New("sasl: authentication failed")

// Exchange is one DIGEST-MD5 authentication, server side.
type Exchange struct {
	users map[string]string
	rand  io.Reader
	nonce string
	state int // 0: challenge not sent; 1: waiting for the response; 2: done; 3: failed
	authz string
}

// NewDigestMD5 starts an exchange against users (name to password);
// random makes the nonce.
func NewDigestMD5(users map[string]string, random io.Reader) *Exchange {
	return &Exchange{users: users, rand: random}
}

// Done reports whether the exchange authenticated the client.
func (e *Exchange) Done() bool { return e.state == 2 }

// AuthorizationID is the authenticated identity, the user name (as
// ZooKeeper's server makes the id from it); "" until Done. A client may
// not ask to act as another user (an authzid other than its name fails).
func (e *Exchange) AuthorizationID() string {
	if e.state != 2 {
		return ""
	}
	return e.authz
}

// Step takes the client's token and returns the server's. The first call
// (with the empty token ZooKeeper's DIGEST-MD5 client opens with; any
// other is another mechanism, refused) returns the challenge; the second checks the client's response and returns
// rspauth, completing the exchange.
func (e *Exchange) Step(in []byte) ([]byte, error) {
	switch e.state {
	case 0:
		if len(in) > 0 {
			// A DIGEST-MD5 client opens with an empty token; a GSSAPI
			// (Kerberos) one opens with its own.
			e.state = 3
			return nil, fmt.Errorf("%w: the client opened with a %d-byte token: it speaks another mechanism than DIGEST-MD5 (Kerberos/GSSAPI is not supported)", ErrAuthFailed, len(in))
		}
		var b [16]byte
		if _, err := io.ReadFull(e.rand, b[:]); err != nil {
			e.state = 3
			return nil, fmt.Errorf("sasl: making a nonce: %w", err)
		}
		e.nonce = base64.RawStdEncoding.EncodeToString(b[:])
		e.state = 1
		return []byte(fmt.Sprintf(`realm="%s",nonce="%s",qop="auth",charset=utf-8,algorithm=md5-sess`, ServerName, e.nonce)), nil
	case 1:
		out, err := e.check(in)
		if err != nil {
			e.state = 3
			return nil, fmt.Errorf("%w: %v", ErrAuthFailed, err)
		}
		e.state = 2
		return out, nil
	}
	return nil, fmt.Errorf("%w: the exchange is over", ErrAuthFailed)
}

// check verifies a digest-response and returns rspauth.
func (e *Exchange) check(in []byte) ([]byte, error) {
	f, err := parseDirectives(string(in))
	if err != nil {
		return nil, err
	}
	user, realm, nonce, cnonce, nc, qop, uri, resp := f["username"], f["realm"], f["nonce"], f["cnonce"], f["nc"], f["qop"], f["digest-uri"], f["response"]
	switch {
	case user == "" || cnonce == "" || nc == "" || resp == "":
		return nil, errors.New("a response without username, cnonce, nc or response")
	case nonce != e.nonce:
		return nil, errors.New("the response's nonce is not the challenge's")
	case qop != "" && qop != "auth":
		return nil, fmt.Errorf("qop %q: only auth is offered", qop)
	case uri != Protocol+"/"+ServerName:
		return nil, fmt.Errorf("digest-uri %q, want %s/%s", uri, Protocol, ServerName)
	case realm != "" && realm != ServerName:
		return nil, fmt.Errorf("realm %q, want %s", realm, ServerName)
	case nc != "00000001":
		return nil, fmt.Errorf("nonce count %s on a fresh nonce", nc)
	}
	if qop == "" {
		qop = "auth"
	}
	pass, known := e.users[user]
	if !known {
		pass = "\x00 no such user" // the same work, a response that cannot match
	}
	authz := f["authzid"]
	if authz != "" && authz != user {
		return nil, fmt.Errorf("user %q asked to act as %q", user, authz)
	}
	want, rsp := digests(user, realm, pass, nonce, cnonce, authz, nc, qop, uri)
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(resp))) != 1 || !known {
		return nil, fmt.Errorf("user %q: wrong password or no such user", user)
	}
	e.authz = user
	return []byte("rspauth=" + rsp), nil
}

// digests are RFC 2831's response-value the client must send and the
// rspauth the server answers, for qop auth:
// HEX(KD(HEX(H(A1)), nonce:nc:cnonce:qop:HEX(H(A2)))) with A2 =
// "AUTHENTICATE:" + digest-uri, and ":" + digest-uri for rspauth.
func digests(user, realm, pass, nonce, cnonce, authz, nc, qop, uri string) (response, rspauth string) {
	ha1 := hexMD5(a1(user, realm, pass, nonce, cnonce, authz))
	kd := func(a2 string) string {
		return hexMD5([]byte(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + hexMD5([]byte(a2))))
	}
	return kd("AUTHENTICATE:" + uri), kd(":" + uri)
}

// a1 is RFC 2831's A1 for md5-sess: H(user:realm:password) then
// :nonce:cnonce[:authzid]. Strings representable in ISO 8859-1 are hashed
// in it, as the RFC asks of a charset=utf-8 exchange (Java does so).
func a1(user, realm, pass, nonce, cnonce, authz string) []byte {
	h := md5.Sum([]byte(latin1(user) + ":" + latin1(realm) + ":" + latin1(pass)))
	out := append(h[:], []byte(":"+nonce+":"+cnonce)...)
	if authz != "" {
		out = append(out, []byte(":"+authz)...)
	}
	return out
}

func latin1(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return s
		}
		b = append(b, byte(r))
	}
	return string(b)
}

func hexMD5(b []byte) string {
	h := md5.Sum(b)
	return hex.EncodeToString(h[:])
}

// parseDirectives splits key=value,key="quoted value" pairs.
func parseDirectives(s string) (map[string]string, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("a response that is not UTF-8")
	}
	out := map[string]string{}
	for i := 0; i < len(s); {
		for i < len(s) && (s[i] == ',' || s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			break
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq <= 0 {
			return nil, fmt.Errorf("directive without a value at %d", i)
		}
		key := strings.ToLower(strings.TrimSpace(s[i : i+eq]))
		i += eq + 1
		var val strings.Builder
		if i < len(s) && s[i] == '"' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					val.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '"' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quoted value of %s", key)
			}
		} else {
			j := strings.IndexByte(s[i:], ',')
			if j < 0 {
				j = len(s) - i
			}
			val.WriteString(strings.TrimSpace(s[i : i+j]))
			i += j
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("directive %s given twice", key)
		}
		out[key] = val.String()
	}
	return out, nil
}
