package net

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/tree"
)

func TestJavaStringHash(t *testing.T) {
	// Values java.lang.String.hashCode gives.
	for s, want := range map[string]int32{"": 0, "a": 97, "ip": 3367, "digest": -1331913276, "127.0.0.1": 1505998205} {
		if got := javaStringHash(s); got != want {
			t.Errorf("hash(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestWhoAmIOrderAndNames(t *testing.T) {
	// Order seen from Apache ZooKeeper 3.8's whoami for this connection.
	ids := []tree.Id{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: "user:2Om+GBbT2q/tS6pdvACZbbm7/1A="}}
	got := whoAmI(ids)
	want := []tree.Id{{Scheme: "digest", ID: "user"}, {Scheme: "ip", ID: "127.0.0.1"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("whoAmI (-want +got):\n%s", d)
	}
}
