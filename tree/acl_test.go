package tree

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDigestID(t *testing.T) {
	// Values from ZooKeeper 3.8's DigestAuthenticationProvider main().
	for in, want := range map[string]string{
		"super:test": "super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
		"u:p":        "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=",
		"nocolon":    "nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g=",
	} {
		if got := DigestID(in); got != want {
			t.Errorf("DigestID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	super := DigestID("super:test")
	tests := []struct {
		scheme, cred, super string
		want                []Id
		err                 Code
	}{
		{"digest", "u:p", super, []Id{{SchemeDigest, DigestID("u:p")}}, CodeOK},
		{"digest", "super:test", super, []Id{{SchemeSuper, ""}, {SchemeDigest, super}}, CodeOK},
		{"digest", "super:test", "", []Id{{SchemeDigest, super}}, CodeOK},
		{"ip", "", "", nil, CodeOK},
		{"world", "anyone", "", nil, CodeAuthFailed},
		{"super", "x", "", nil, CodeAuthFailed},
		{"sasl", "x", "", nil, CodeAuthFailed},
	}
	for _, tc := range tests {
		got, err := Authenticate(tc.scheme, []byte(tc.cred), tc.super)
		if CodeOf(err) != tc.err {
			t.Errorf("Authenticate(%s, %s): err %v, want %v", tc.scheme, tc.cred, err, tc.err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Authenticate(%s, %s) (-want +got):\n%s", tc.scheme, tc.cred, diff)
		}
	}
}

func TestFixupACL(t *testing.T) {
	dig := Id{SchemeDigest, DigestID("u:p")}
	auth := []Id{{SchemeIP, "10.0.0.1"}, dig, {SchemeSuper, ""}}
	tests := []struct {
		name string
		in   []ACL
		want []ACL
		err  Code
	}{
		{"world anyone", OpenACLUnsafe, OpenACLUnsafe, CodeOK},
		{"duplicates dropped", []ACL{OpenACLUnsafe[0], OpenACLUnsafe[0]}, OpenACLUnsafe, CodeOK},
		{"empty", nil, nil, CodeInvalidACL},
		{"world someone", []ACL{{PermRead, Id{SchemeWorld, "someone"}}}, nil, CodeInvalidACL},
		{"auth expands to digest ids only", []ACL{{PermAll, AuthIDs}}, []ACL{{PermAll, dig}}, CodeOK},
		{"digest ok", []ACL{{PermRead, Id{SchemeDigest, "a:b"}}}, []ACL{{PermRead, Id{SchemeDigest, "a:b"}}}, CodeOK},
		{"digest empty user ok", []ACL{{PermRead, Id{SchemeDigest, ":b"}}}, []ACL{{PermRead, Id{SchemeDigest, ":b"}}}, CodeOK},
		{"digest trailing colons", []ACL{{PermRead, Id{SchemeDigest, "a:b::"}}}, []ACL{{PermRead, Id{SchemeDigest, "a:b::"}}}, CodeOK},
		{"digest no colon", []ACL{{PermRead, Id{SchemeDigest, "ab"}}}, nil, CodeInvalidACL},
		{"digest empty hash", []ACL{{PermRead, Id{SchemeDigest, "a:"}}}, nil, CodeInvalidACL},
		{"digest three parts", []ACL{{PermRead, Id{SchemeDigest, "a:b:c"}}}, nil, CodeInvalidACL},
		{"ip v4", []ACL{{PermRead, Id{SchemeIP, "10.0.0.0/8"}}}, []ACL{{PermRead, Id{SchemeIP, "10.0.0.0/8"}}}, CodeOK},
		{"ip v6", []ACL{{PermRead, Id{SchemeIP, "2001:db8::/32"}}}, []ACL{{PermRead, Id{SchemeIP, "2001:db8::/32"}}}, CodeOK},
		{"ip bad octet", []ACL{{PermRead, Id{SchemeIP, "300.0.0.1"}}}, nil, CodeInvalidACL},
		{"ip bad bits", []ACL{{PermRead, Id{SchemeIP, "1.2.3.4/33"}}}, nil, CodeInvalidACL},
		{"ip v6 bad bits", []ACL{{PermRead, Id{SchemeIP, "::1/129"}}}, nil, CodeInvalidACL},
		{"ip hostname", []ACL{{PermRead, Id{SchemeIP, "localhost"}}}, nil, CodeInvalidACL},
		{"super is not a provider", []ACL{{PermRead, Id{SchemeSuper, ""}}}, nil, CodeInvalidACL},
		{"unknown scheme", []ACL{{PermRead, Id{"x509", "CN=a"}}}, nil, CodeInvalidACL},
		{"one bad entry fails all", []ACL{OpenACLUnsafe[0], {PermRead, Id{"nope", ""}}}, nil, CodeInvalidACL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fixupACL(tc.in, auth, false, false)
			if CodeOf(err) != tc.err {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// With the x509 provider: x509 ACLs are valid, and "auth" expands to a
	// certificate's id (an authenticated scheme).
	x509 := []Id{{SchemeIP, "127.0.0.1"}, {SchemeX509, "CN=client,O=zabd"}}
	got, err := fixupACL([]ACL{{PermRead, Id{"x509", "CN=a"}}, {PermAll, Id{SchemeAuth, ""}}}, x509, true, false)
	if err != nil || len(got) != 2 || got[1].ID != x509[1] {
		t.Errorf("x509 on: %v, %v", got, err)
	}
	if err := checkACL(got, PermWrite, x509); err != nil {
		t.Errorf("the certificate's subject may not write a node it created: %v", err)
	}
	if err := checkACL(got, PermWrite, []Id{{SchemeX509, "CN=other"}}); CodeOf(err) != CodeNoAuth {
		t.Errorf("another subject: %v, want NoAuth", err)
	}
	if _, err := fixupACL([]ACL{{PermRead, Id{"x509", ""}}}, x509, true, false); CodeOf(err) != CodeInvalidACL {
		t.Errorf("an empty x509 id: %v", err)
	}
	// With the SASL provider: sasl ids are valid (name, or name[/host]@realm)
	// and authenticated.
	saslIDs := []Id{{SchemeSASL, "bob"}}
	got, err = fixupACL([]ACL{{PermAll, Id{SchemeAuth, ""}}, {PermRead, Id{SchemeSASL, "zk/host@EXAMPLE.COM"}}}, saslIDs, false, true)
	if err != nil || len(got) != 2 || got[0].ID != saslIDs[0] || checkACL(got, PermWrite, saslIDs) != nil {
		t.Errorf("sasl on: %v, %v", got, err)
	}
	for _, bad := range []string{"a@", "@R", "a@b@c"} {
		if _, err := fixupACL([]ACL{{PermRead, Id{SchemeSASL, bad}}}, nil, false, true); CodeOf(err) != CodeInvalidACL {
			t.Errorf("sasl id %q: %v", bad, err)
		}
	}
	if _, err := fixupACL([]ACL{{PermRead, Id{SchemeSASL, "bob"}}}, nil, false, false); CodeOf(err) != CodeInvalidACL {
		t.Errorf("sasl ACL without the provider: %v", err)
	}
	if _, err := fixupACL(CreatorAllACL, []Id{{SchemeIP, "1.2.3.4"}}, false, false); CodeOf(err) != CodeInvalidACL {
		t.Errorf("auth ACL with only ip auth: %v, want InvalidACL", err)
	}
}

func TestIPMatches(t *testing.T) {
	tests := []struct {
		id, expr string
		want     bool
	}{
		{"10.1.2.3", "10.1.2.3", true},
		{"10.1.2.3", "10.1.2.4", false},
		{"10.1.2.3", "10.0.0.0/8", true},
		{"11.1.2.3", "10.0.0.0/8", false},
		{"10.1.2.3", "10.1.2.0/31", false},
		{"10.1.2.3", "0.0.0.0/0", true},
		{"192.168.1.130", "192.168.1.128/25", true},
		{"192.168.1.127", "192.168.1.128/25", false},
		{"0:0:0:0:0:0:0:1", "::1", true},
		{"2001:db8:0:0:0:0:0:1", "2001:db8::/32", true},
		{"2001:db9:0:0:0:0:0:1", "2001:db8::/32", false},
		{"10.1.2.3", "::/0", false}, // different families never match
		{"10.1.2.3", "10.1.2.3/x", false},
		{"bad", "10.1.2.3", false},
	}
	for _, tc := range tests {
		if got := ipMatches(tc.id, tc.expr); got != tc.want {
			t.Errorf("ipMatches(%q, %q) = %v, want %v", tc.id, tc.expr, got, tc.want)
		}
	}
}

func TestACLEnforcement(t *testing.T) {
	h := newHarness(t, Config{})
	user := []Id{{SchemeIP, "10.0.0.7"}, {SchemeDigest, DigestID("u:p")}}
	anon := []Id{{SchemeIP, "10.0.0.8"}}
	superIDs, _ := Authenticate("digest", []byte("super:test"), DigestID("super:test"))
	superIDs = append(superIDs, Id{SchemeIP, "10.0.0.9"})

	// "auth" expands to the creator's digest id.
	r := Request{Op: OpCreate, Path: "/mine", Data: []byte("secret"), ACL: CreatorAllACL, Auth: user}
	h.must(0, r)
	got := h.tr.Read(Request{Op: OpGetACL, Path: "/mine", Auth: user}, 0)
	if diff := cmp.Diff([]ACL{{PermAll, Id{SchemeDigest, DigestID("u:p")}}}, got.ACL); diff != "" {
		t.Errorf("expanded ACL (-want +got):\n%s", diff)
	}
	// ip ACL: read for the 10.0.0.0/24 network.
	h.must(0, Request{Op: OpCreate, Path: "/net", ACL: []ACL{
		{PermRead, Id{SchemeIP, "10.0.0.0/24"}},
		{PermAll, Id{SchemeDigest, DigestID("u:p")}},
	}, Auth: user})

	tests := []struct {
		name string
		req  Request
		want Code
	}{
		{"owner reads", Request{Op: OpGetData, Path: "/mine", Auth: user}, CodeOK},
		{"anon cannot read", Request{Op: OpGetData, Path: "/mine", Auth: anon}, CodeNoAuth},
		{"anon exists has no ACL check", Request{Op: OpExists, Path: "/mine", Auth: anon}, CodeOK},
		{"anon getChildren", Request{Op: OpGetChildren, Path: "/mine", Auth: anon}, CodeNoAuth},
		{"anon getChildren2", Request{Op: OpGetChildren2, Path: "/mine", Auth: anon}, CodeNoAuth},
		{"anon getAllChildrenNumber", Request{Op: OpGetAllChildrenNumber, Path: "/mine", Auth: anon}, CodeNoAuth},
		{"anon getACL", Request{Op: OpGetACL, Path: "/mine", Auth: anon}, CodeNoAuth},
		{"super reads", Request{Op: OpGetData, Path: "/mine", Auth: superIDs}, CodeOK},
		{"ip in network reads", Request{Op: OpGetData, Path: "/net", Auth: anon}, CodeOK},
		{"ip outside network", Request{Op: OpGetData, Path: "/net", Auth: []Id{{SchemeIP, "10.0.1.8"}}}, CodeNoAuth},
	}
	for _, tc := range tests {
		if got := h.tr.Read(tc.req, 0).Err; got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// getACL with READ but not ADMIN hides digest hashes.
	got = h.tr.Read(Request{Op: OpGetACL, Path: "/net", Auth: anon}, 0)
	want := []ACL{{PermRead, Id{SchemeIP, "10.0.0.0/24"}}, {PermAll, Id{SchemeDigest, "u:x"}}}
	if diff := cmp.Diff(want, got.ACL); diff != "" {
		t.Errorf("redacted getACL (-want +got):\n%s", diff)
	}

	writes := []struct {
		name string
		req  Request
		want Code
	}{
		{"anon setData", Request{Op: OpSetData, Path: "/net", Version: -1, Auth: anon}, CodeNoAuth},
		{"owner setData", Request{Op: OpSetData, Path: "/net", Version: -1, Auth: user}, CodeOK},
		{"anon create child", Request{Op: OpCreate, Path: "/mine/x", ACL: OpenACLUnsafe, Auth: anon}, CodeNoAuth},
		{"super writes /zookeeper/config", Request{Op: OpSetData, Path: "/zookeeper/config", Version: -1, Auth: superIDs}, CodeOK},
		{"super setACL", Request{Op: OpSetACL, Path: "/mine", ACL: OpenACLUnsafe, Version: -1, Auth: superIDs}, CodeOK},
		{"now anyone", Request{Op: OpGetData, Path: "/mine", Auth: anon}, CodeOK},
	}
	for _, tc := range writes {
		var got Code
		if tc.req.Op.IsWrite() {
			res, _ := h.do(0, tc.req)
			got = res.Err
		} else {
			got = h.tr.Read(tc.req, 0).Err
		}
		if got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCheckACLEmptyAllowsAll(t *testing.T) {
	if err := checkACL(nil, PermAdmin, nil); err != nil {
		t.Errorf("empty ACL: %v", err)
	}
	if err := checkACL(ReadACLUnsafe, PermWrite, nil); CodeOf(err) != CodeNoAuth {
		t.Errorf("read-only ACL, write: %v", err)
	}
	if err := checkACL(ReadACLUnsafe, PermRead|PermAdmin, nil); err != nil {
		t.Errorf("any of the bits suffices: %v", err)
	}
}

// A list fixupACL keeps as it is comes back without a copy (a create's ACL
// is nearly always world:anyone); one it changes is a new slice.
func TestFixupACLCopiesOnlyWhatItChanges(t *testing.T) {
	kept := []ACL{{PermRead, Id{SchemeDigest, "a:b"}}, OpenACLUnsafe[0]}
	got, err := fixupACL(kept, nil, false, false)
	if err != nil || len(got) != 2 || &got[0] != &kept[0] {
		t.Errorf("fixupACL(%v) = %v, %v: want the same slice back", kept, got, err)
	}
	if allocs := testing.AllocsPerRun(100, func() { fixupACL(kept, nil, false, false) }); allocs != 0 {
		t.Errorf("fixupACL of a settled list allocated %.0f times, want 0", allocs)
	}
	dup := []ACL{OpenACLUnsafe[0], OpenACLUnsafe[0]}
	got, err = fixupACL(dup, nil, false, false)
	if err != nil || len(got) != 1 || &got[0] == &dup[0] {
		t.Errorf("fixupACL(%v) = %v, %v: want a new one-entry slice", dup, got, err)
	}
}
