package net

import (
	"strings"
	"unicode/utf16"

	"zabd/tree"
)

// whoAmI is the whoAmI answer for a connection's identities: ZooKeeper
// lists them as ClientInfo{scheme, user}, where user is the provider's
// user name (digest: the part before ':'; ip: the address; a scheme with
// no provider: empty), in the iteration order of the Java
// ConcurrentHashMap-backed set that holds them — which clients print, so
// zkCli's whoami output matches line for line.
func whoAmI(ids []tree.Id) []tree.Id {
	out := make([]tree.Id, 0, len(ids))
	for _, id := range javaSetOrder(ids) {
		user := ""
		switch id.Scheme {
		case "digest":
			user, _, _ = strings.Cut(id.ID, ":")
		case "ip", "sasl", "x509":
			user = id.ID
		}
		out = append(out, tree.Id{Scheme: id.Scheme, ID: user})
	}
	return out
}

// javaSetOrder orders ids as a java.util.concurrent.ConcurrentHashMap keyed
// by jute's Id.hashCode iterates them: by bucket, then insertion order.
// (Exact for tables that never resized — up to 12 entries, far more than a
// connection has; beyond that the order is by bucket of the final table.)
func javaSetOrder(ids []tree.Id) []tree.Id {
	n := 16
	for len(ids) > n*3/4 {
		n *= 2
	}
	buckets := make([][]tree.Id, n)
	for _, id := range ids {
		h := 17
		h = 37*h + int(javaStringHash(id.Scheme))
		h = 37*h + int(javaStringHash(id.ID))
		h32 := uint32(int32(h))
		spread := (h32 ^ (h32 >> 16)) & 0x7fffffff
		b := int(spread) & (n - 1)
		buckets[b] = append(buckets[b], id)
	}
	out := make([]tree.Id, 0, len(ids))
	for _, b := range buckets {
		out = append(out, b...)
	}
	return out
}

// javaStringHash is java.lang.String.hashCode over UTF-16 code units.
func javaStringHash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}
