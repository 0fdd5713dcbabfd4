package tree

import (
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"strings"
)

// Auth schemes with a server-side provider in a default ZooKeeper 3.8
// (ProviderRegistry): "ip" and "digest". "world" is only meaningful as
// world:anyone; "super" is granted by digest auth against the super digest;
// "auth" in an ACL expands to the creator's authenticated ids.
const (
	SchemeWorld  = "world"
	SchemeAuth   = "auth"
	SchemeDigest = "digest"
	SchemeIP     = "ip"
	SchemeSuper  = "super"
	// SchemeX509 is a client certificate's subject (RFC 2253), given to a
	// connection whose TLS handshake verified it, as ZooKeeper's
	// X509AuthenticationProvider does.
	SchemeX509 = "x509"
	// SchemeSASL is a user SASL authenticated (ZooKeeper's
	// SASLAuthenticationProvider).
	SchemeSASL = "sasl"
)

// DigestID returns the digest-scheme id for "user:password":
// "user:" + base64(sha1("user:password")) (DigestAuthenticationProvider.
// generateDigest). Without a colon the whole string is the user.
func DigestID(userPassword string) string {
	user, _, _ := strings.Cut(userPassword, ":")
	sum := sha1.Sum([]byte(userPassword))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// Authenticate handles an OpAuth packet (ZooKeeperServer.processPacket with
// the scheme's provider) and returns the ids the session gains:
//   - "digest": DigestID(cred), preceded by Id{"super", ""} when that id
//     equals superDigest (non-empty);
//   - "ip": none here (ZooKeeper adds the peer address, which net already
//     puts into Request.Auth);
//   - any other scheme: CodeAuthFailed.
func Authenticate(scheme string, cred []byte, superDigest string) ([]Id, error) {
	switch scheme {
	case SchemeDigest:
		id := DigestID(string(cred))
		var ids []Id
		if superDigest != "" && id == superDigest {
			ids = append(ids, Id{Scheme: SchemeSuper})
		}
		return append(ids, Id{Scheme: SchemeDigest, ID: id}), nil
	case SchemeIP:
		return nil, nil
	}
	return nil, CodeAuthFailed
}

// checkACL is ZooKeeperServer.checkACL: nil if ids may do perm (any of its
// bits) on a node with acl, else CodeNoAuth. An empty ACL allows everything;
// a "super" id passes every check.
func checkACL(acl []ACL, perm int32, ids []Id) error {
	if len(acl) == 0 {
		return nil
	}
	for _, id := range ids {
		if id.Scheme == SchemeSuper {
			return nil
		}
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		switch a.ID.Scheme {
		case SchemeWorld:
			if a.ID.ID == "anyone" {
				return nil
			}
		case SchemeIP:
			for _, id := range ids {
				if id.Scheme == SchemeIP && ipMatches(id.ID, a.ID.ID) {
					return nil
				}
			}
		case SchemeDigest, SchemeX509, SchemeSASL: // an exact id match
			for _, id := range ids {
				if id == a.ID {
					return nil
				}
			}
		}
	}
	return CodeNoAuth
}

// fixupACL is PrepRequestProcessor.fixupACL: drop duplicates, reject an
// empty list, keep world:anyone, expand "auth" into the requester's
// authenticated ids (digest ones; "ip" is not an authenticated scheme),
// and require every other id to belong to a known scheme and be well formed.
// Any failure is CodeInvalidACL.
func fixupACL(acl []ACL, auth []Id, x509, sasl bool) ([]ACL, error) {
	if settledACL(acl, x509, sasl) {
		return acl, nil // nothing to drop or expand: no copy
	}
	uniq := make([]ACL, 0, len(acl))
	for _, a := range acl {
		if !containsACL(uniq, a) {
			uniq = append(uniq, a)
		}
	}
	if len(uniq) == 0 {
		return nil, CodeInvalidACL
	}
	out := make([]ACL, 0, len(uniq))
	for _, a := range uniq {
		if a.ID.Scheme == SchemeAuth {
			valid := false
			for _, id := range auth {
				if id.Scheme == SchemeDigest || id.Scheme == SchemeX509 || id.Scheme == SchemeSASL { // the isAuthenticated() providers
					valid = true
					out = append(out, ACL{Perms: a.Perms, ID: id})
				}
			}
			if !valid {
				return nil, CodeInvalidACL
			}
			continue
		}
		if !wellFormedID(a.ID, x509, sasl) {
			return nil, CodeInvalidACL
		}
		out = append(out, a)
	}
	return out, nil
}

// wellFormedID says whether id may stand in a znode's ACL as it is (an
// "auth" id never does: fixupACL expands it).
func wellFormedID(id Id, x509, sasl bool) bool {
	switch id.Scheme {
	case SchemeWorld:
		return id.ID == "anyone"
	case SchemeDigest:
		return validDigestID(id.ID)
	case SchemeIP:
		return validIPID(id.ID)
	case SchemeX509:
		return x509 && id.ID != ""
	case SchemeSASL:
		return sasl && validSASLID(id.ID)
	}
	return false
}

// settledACL says whether fixupACL would return acl as it is: not empty,
// no duplicate, no "auth" id to expand, and every id well formed.
func settledACL(acl []ACL, x509, sasl bool) bool {
	if len(acl) == 0 {
		return false
	}
	for i, a := range acl {
		if containsACL(acl[:i], a) {
			return false
		}
		if a.ID.Scheme == SchemeAuth || !wellFormedID(a.ID, x509, sasl) {
			return false
		}
	}
	return true
}

// validSASLID is SASLAuthenticationProvider.isValid: any name without @,
// else name[/host]@realm.
func validSASLID(id string) bool {
	name, realm, found := strings.Cut(id, "@")
	if !found {
		return true
	}
	return name != "" && realm != "" && !strings.Contains(realm, "@") && !strings.HasPrefix(name, "/") && !strings.HasSuffix(name, "/")
}

func containsACL(acl []ACL, a ACL) bool {
	for _, x := range acl {
		if x == a {
			return true
		}
	}
	return false
}

// validDigestID is DigestAuthenticationProvider.isValid: id.split(":") has
// exactly two parts, Java's split dropping trailing empty parts.
func validDigestID(id string) bool {
	// Two parts once the trailing empty ones are gone: one ':' once the
	// trailing ones are cut.
	return strings.Count(strings.TrimRight(id, ":"), ":") == 1
}

// redactDigest is what getACL shows a reader without ADMIN for a digest id:
// everything from the first ':' replaced by ":x".
func redactDigest(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		return id[:i] + ":x"
	}
	return id
}

// validIPID is IPAuthenticationProvider.isValid: an IPv4 or IPv6 address,
// optionally "/bits" with 0 <= bits <= address bits.
func validIPID(id string) bool {
	addr, bitsStr, hasBits := strings.Cut(id, "/")
	b := ipBytes(addr)
	if b == nil {
		return false
	}
	if hasBits {
		bits, ok := javaParseInt(bitsStr, 10)
		if !ok || bits < 0 || bits > int64(len(b)*8) {
			return false
		}
	}
	return true
}

// ipMatches is IPAuthenticationProvider.matches: the session's address id
// against an ACL expression "addr[/bits]".
func ipMatches(id, expr string) bool {
	addr, bitsStr, hasBits := strings.Cut(expr, "/")
	aclAddr := ipBytes(addr)
	if aclAddr == nil {
		return false
	}
	bits := int64(len(aclAddr) * 8)
	if hasBits {
		var ok bool
		bits, ok = javaParseInt(bitsStr, 10)
		if !ok || bits < 0 || bits > int64(len(aclAddr)*8) {
			return false
		}
	}
	remote := ipBytes(id)
	if remote == nil || len(remote) != len(aclAddr) {
		return false
	}
	maskIP(aclAddr, int(bits))
	maskIP(remote, int(bits))
	return string(remote) == string(aclAddr)
}

func maskIP(b []byte, bits int) {
	start := bits / 8
	m := ^byte((1 << (8 - bits%8)) - 1)
	for ; start < len(b); start++ {
		b[start] &= m
		m = 0
	}
}

// ipBytes parses an IPv4 (dotted quad) or IPv6 address the way ZooKeeper's
// IPAuthenticationProvider does (a ':' means IPv6, else a '.' means IPv4);
// nil if malformed.
func ipBytes(s string) []byte {
	switch {
	case strings.Contains(s, ":"):
		return ipv6Bytes(s)
	case strings.Contains(s, "."):
		parts := strings.Split(s, ".")
		if len(parts) != 4 {
			return nil
		}
		b := make([]byte, 4)
		for i, p := range parts {
			v, ok := javaParseInt(p, 10)
			if !ok || v < 0 || v > 255 {
				return nil
			}
			b[i] = byte(v)
		}
		return b
	}
	return nil
}

func ipv6Bytes(s string) []byte {
	parts := strings.Split(s, "::")
	var seg1, seg2 []string
	switch len(parts) {
	case 1:
		seg1 = strings.Split(parts[0], ":")
		if len(seg1) != 8 {
			return nil
		}
	case 2:
		if parts[0] != "" {
			seg1 = strings.Split(parts[0], ":")
		}
		if parts[1] != "" {
			seg2 = strings.Split(parts[1], ":")
		}
		if len(seg1)+len(seg2) >= 8 {
			return nil
		}
	default:
		return nil
	}
	b := make([]byte, 16)
	if !ipv6Segments(b[:0], seg1) || !ipv6Segments(b[16-2*len(seg2):16-2*len(seg2)], seg2) {
		return nil
	}
	return b
}

func ipv6Segments(dst []byte, segs []string) bool {
	for _, s := range segs {
		if s == "" || len(s) > 4 {
			return false
		}
		v, ok := javaParseInt(s, 16)
		if !ok {
			return false
		}
		dst = append(dst, byte(v>>8), byte(v))
	}
	return true
}

// javaParseInt is Integer.parseInt(s, base) for ASCII input: an optional
// sign, at least one digit, within int32.
func javaParseInt(s string, base int) (int64, bool) {
	if s == "" || s[0] == ' ' || strings.ContainsAny(s, "_ ") {
		return 0, false
	}
	if s[0] == '+' {
		s = s[1:]
		if s == "" || s[0] == '-' || s[0] == '+' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, base, 32)
	if err != nil {
		return 0, false
	}
	return v, true
}
