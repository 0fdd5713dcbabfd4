package zkcli

import (
	"bytes"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/go-cmp/cmp"

	"zabd/tree"
)

func TestSplitLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"ls /", []string{"ls", "/"}},
		{"  create   /a   b  ", []string{"create", "/a", "b"}},
		{`create /a "hello world"`, []string{"create", "/a", "hello world"}},
		{`set /a 'x y z'`, []string{"set", "/a", "x y z"}},
		{`set /a ""`, []string{"set", "/a", ""}},
		{`set /a a"b`, []string{"set", "/a", `a"b`}},
		{"", nil},
	} {
		t.Run(tc.line, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, SplitLine(tc.line)); diff != "" {
				t.Errorf("SplitLine(%q) (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

func TestParseOpts(t *testing.T) {
	spec := optSpec{'s': false, 'w': false, 'v': true}
	for _, tc := range []struct {
		name     string
		words    []string
		wantArgs []string
		wantOpts map[byte]string
		wantErr  string
	}{
		{"plain", []string{"get", "/a"}, []string{"get", "/a"}, map[byte]string{}, ""},
		{"flags before", []string{"get", "-s", "-w", "/a"}, []string{"get", "/a"}, map[byte]string{'s': "", 'w': ""}, ""},
		{"bundled", []string{"get", "-sw", "/a"}, []string{"get", "/a"}, map[byte]string{'s': "", 'w': ""}, ""},
		{"after path", []string{"set", "/a", "d", "-v", "3"}, []string{"set", "/a", "d"}, map[byte]string{'v': "3"}, ""},
		{"attached value", []string{"set", "-v3", "/a", "d"}, []string{"set", "/a", "d"}, map[byte]string{'v': "3"}, ""},
		{"double dash ends", []string{"set", "/a", "--", "-s"}, []string{"set", "/a", "-s"}, map[byte]string{}, ""},
		{"unknown", []string{"get", "-x", "/a"}, nil, nil, "Unrecognized option: -x"},
		{"negative data", []string{"set", "/a", "-1"}, nil, nil, "Unrecognized option: -1"},
		{"missing value", []string{"set", "/a", "d", "-v"}, nil, nil, "Missing argument for option: v"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseOpts(tc.words, spec)
			if tc.wantErr != "" {
				if err == nil || err.Msg != tc.wantErr || err.Kind != KindUsage {
					t.Fatalf("parseOpts(%q) error = %v, want usage error %q", tc.words, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseOpts(%q): %v", tc.words, err)
			}
			if diff := cmp.Diff(tc.wantArgs, got.args); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantOpts, got.opts); diff != "" {
				t.Errorf("opts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidatePath(t *testing.T) {
	for _, tc := range []struct {
		path string
		seq  bool
		want string
	}{
		{"/", false, ""},
		{"/a/b", false, ""},
		{"/a/", true, ""},
		{"", false, "Path length must be > 0"},
		{"a", false, "Path must start with / character"},
		{"/a/", false, "Path must not end with / character"},
		{"/a//b", false, `Invalid path string "/a//b" caused by empty node name specified @3`},
		{"/a/./b", false, `Invalid path string "/a/./b" caused by relative paths not allowed @3`},
		{"/a/..", false, `Invalid path string "/a/.." caused by relative paths not allowed @4`},
		{"/a/..b", false, ""},
		{"/a\x01", false, `Invalid path string "/a` + "\x01" + `" caused by invalid character @2`},
		{"/\u00e9\x00", false, `Invalid path string "/` + "\u00e9\x00" + `" caused by null character not allowed @2`},
	} {
		if got := ValidatePath(tc.path, tc.seq); got != tc.want {
			t.Errorf("ValidatePath(%q, %v) = %q, want %q", tc.path, tc.seq, got, tc.want)
		}
	}
}

func TestJavaDate(t *testing.T) {
	ms := time.Date(2026, 11, 22, 1, 2, 4, 0, time.UTC).UnixMilli()
	if got, want := JavaDate(ms, time.UTC), "Sun Nov 22 01:02:04 UTC 2026"; got != want {
		t.Errorf("JavaDate = %q, want %q", got, want)
	}
}

func TestWriteStat(t *testing.T) {
	st := &zk.Stat{Czxid: 5, Mzxid: 0xd, Ctime: 0, Mtime: 1000, Version: 2, Cversion: 3,
		Aversion: 1, EphemeralOwner: -1, DataLength: 2, NumChildren: 3, Pzxid: 9}
	var b bytes.Buffer
	WriteStat(&b, st, time.UTC)
	want := "cZxid = 0x5\nctime = Thu Jan 01 00:00:00 UTC 1970\nmZxid = 0xd\n" +
		"mtime = Thu Jan 01 00:00:01 UTC 1970\npZxid = 0x9\ncversion = 3\n" +
		"dataVersion = 2\naclVersion = 1\nephemeralOwner = 0xffffffffffffffff\n" +
		"dataLength = 2\nnumChildren = 3\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteStat (-want +got):\n%s", diff)
	}
}

func TestACLFormatAndParse(t *testing.T) {
	var b bytes.Buffer
	WriteACL(&b, zk.ACL{Perms: zk.PermAll, Scheme: "world", ID: "anyone"})
	WriteACL(&b, zk.ACL{Perms: zk.PermRead | zk.PermAdmin, Scheme: "ip", ID: "10.0.0.1,x%"})
	if want := "'world,'anyone\n: cdrwa\n'ip,'10.0.0.1%2Cx%25\n: ra\n"; b.String() != want {
		t.Errorf("WriteACL = %q, want %q", b.String(), want)
	}

	var warn bytes.Buffer
	got := ParseACL("world:anyone:rw,digest:u:h=:cdrwaq,bad", &warn)
	want := []zk.ACL{
		{Perms: tree.PermRead | tree.PermWrite, Scheme: "world", ID: "anyone"},
		{Perms: tree.PermAll, Scheme: "digest", ID: "u:h="},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseACL (-want +got):\n%s", diff)
	}
	if w := "Unknown perm type: q\nbad does not have the form scheme:id:perm\n"; warn.String() != w {
		t.Errorf("ParseACL warnings = %q, want %q", warn.String(), w)
	}
}

func TestMessages(t *testing.T) {
	for _, tc := range []struct {
		code tree.Code
		want string
	}{
		{tree.CodeNoNode, "Node does not exist: /x"},
		{tree.CodeNodeExists, "Node already exists: /x"},
		{tree.CodeNotEmpty, "Node not empty: /x"},
		{tree.CodeBadVersion, "version No is not valid : /x"},
		{tree.CodeNoAuth, "Insufficient permission : /x"},
		{tree.CodeInvalidACL, "Acl is not valid : /x"},
		{tree.CodeNoChildrenForEphemerals, "Ephemerals cannot have children: /x"},
		{tree.CodeNoWatcher, "KeeperErrorCode = No such watcher for /x"},
		{tree.CodeUnimplemented, "KeeperErrorCode = Unimplemented for /x"},
		{tree.Code(-999), "KeeperErrorCode = Unknown error -999 for /x"},
	} {
		if got := CliMessage(tc.code, "/x"); got != tc.want {
			t.Errorf("CliMessage(%v) = %q, want %q", tc.code, got, tc.want)
		}
	}
	// go-zookeeper's errors map back to the wire codes.
	for err, want := range map[error]tree.Code{
		zk.ErrNoNode: tree.CodeNoNode, zk.ErrBadVersion: tree.CodeBadVersion,
		zk.ErrConnectionClosed: tree.CodeConnectionLoss,
	} {
		if got := codeOf(err); got != want {
			t.Errorf("codeOf(%v) = %v, want %v", err, got, want)
		}
	}
}

func TestWatchRegistry(t *testing.T) {
	r := newWatchRegistry()
	r.add(watchData, "/a")
	r.add(watchChild, "/a")
	r.add(watchPersistent, "/b")
	r.fire(zk.EventNodeDataChanged, "/a")
	if r[watchData]["/a"] || !r[watchChild]["/a"] {
		t.Fatalf("after NodeDataChanged: data=%v child=%v, want false true", r[watchData]["/a"], r[watchChild]["/a"])
	}
	r.fire(zk.EventNodeDeleted, "/b")
	check, remove := kindsFor(tree.WatcherData)
	if !r.has("/b", check) {
		t.Fatal("persistent watch on /b gone after NodeDeleted, or not counted by a Data check")
	}
	if evs := r.remove("/b", remove); len(evs) != 0 {
		t.Errorf("Data removal of a persistent watch removed %v, want nothing (as ZKWatchManager)", evs)
	}
	_, all := kindsFor(tree.WatcherAny)
	if diff := cmp.Diff([]zk.EventType{6}, r.remove("/a", all)); diff != "" {
		t.Errorf("Any removal on /a events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]zk.EventType{7}, r.remove("/b", all)); diff != "" {
		t.Errorf("Any removal on /b events (-want +got):\n%s", diff)
	}
}
