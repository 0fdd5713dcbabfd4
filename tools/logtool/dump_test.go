package logtool

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"zabd/engine/enginetest"
	"zabd/log"
	"zabd/tools/logread"
	"zabd/tools/logread/datadirtest"
	"zabd/tree"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var kinds = []string{"native", "pebble", "badger"}

// historyDir writes datadirtest.History through kind and opens it.
func historyDir(t *testing.T, kind string, o datadirtest.Options) (*logread.DataDir, []tree.Txn) {
	t.Helper()
	dir := t.TempDir()
	txns := datadirtest.History()
	datadirtest.Write(t, dir, kind, txns, o)
	d, err := logread.Open(dir, logread.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Engine != kind {
		t.Fatalf("opened as %s, want %s", d.Engine, kind)
	}
	return d, txns
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s (-want +got; go test -update rewrites it):\n%s", name, d)
	}
}

// TestDumpEveryEngine dumps the known history written through each engine:
// the text of the native log is the golden file's (the others' only lack
// the at= positions), and the JSON of every engine decodes to exactly the
// txns written.
func TestDumpEveryEngine(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			d, txns := historyDir(t, kind, datadirtest.Options{})
			before := enginetest.DirState(t, d.Dir)
			var text bytes.Buffer
			res, err := Dump(&text, d, DumpOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Printed != len(txns) || res.Records != len(txns) || res.Undecodable != 0 {
				t.Errorf("printed %d of %d records (%d undecodable), want %d", res.Printed, res.Records, res.Undecodable, len(txns))
			}
			got := text.Bytes()
			if kind != "native" {
				// The same lines without the positions.
				want, err := os.ReadFile("testdata/dump_native.golden")
				if err != nil {
					t.Fatal(err)
				}
				var stripped []string
				for _, l := range strings.Split(string(want), "\n") {
					if i := strings.Index(l, " at=log/"); i >= 0 {
						l = l[:i]
					}
					stripped = append(stripped, l)
				}
				if d := cmp.Diff(strings.Join(stripped, "\n"), string(got)); d != "" {
					t.Errorf("text (-native without positions +%s):\n%s", kind, d)
				}
			} else {
				golden(t, "dump_native.golden", got)
			}

			var js bytes.Buffer
			if _, err := Dump(&js, d, DumpOptions{JSON: true}); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(js.String(), "\n"), "\n")
			if len(lines) != len(txns) {
				t.Fatalf("%d JSON lines, want %d", len(lines), len(txns))
			}
			for i, l := range lines {
				var got TxnJSON
				dec := json.NewDecoder(strings.NewReader(l))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&got); err != nil {
					t.Fatalf("line %d: %v: %s", i, err, l)
				}
				want := txnJSON(logread.Record{Record: log.Record{Zxid: datadirtest.Zxid(txns, i), Data: tree.AppendTxn(nil, txns[i])}, File: got.File, Offset: got.Offset}, txns[i], nil)
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("line %d (-want +got):\n%s", i, d)
				}
				if kind == "native" && (!strings.HasPrefix(got.File, "log/log.") || got.Offset < 24) || kind != "native" && (got.File != kind || got.Offset != -1) {
					t.Errorf("line %d: file %q offset %d", i, got.File, got.Offset)
				}
			}
			if d := cmp.Diff(before, enginetest.DirState(t, d.Dir)); d != "" {
				t.Errorf("dump changed the data dir (-before +after):\n%s", d)
			}
		})
	}
}

// TestDumpJSONSchema holds the --json schema to what the README says:
// the keys of every object by txn type (a change here is a change of a
// documented interface).
func TestDumpJSONSchema(t *testing.T) {
	d, _ := historyDir(t, "native", datadirtest.Options{})
	var js bytes.Buffer
	if _, err := Dump(&js, d, DumpOptions{JSON: true}); err != nil {
		t.Fatal(err)
	}
	common := []string{"zxid", "epoch", "counter", "time", "time_ms", "session", "cxid", "record_bytes", "file", "offset", "type"}
	create := []string{"path", "data_bytes", "acl", "kind", "parent_cversion"}
	want := map[string][]string{
		"sessionSecret":   {"data_bytes"},
		"createSession":   {"timeout_ms"},
		"closeSession":    {},
		"create":          create,
		"create2":         create,
		"createContainer": create,
		"createTTL":       append(slices.Clone(create), "ttl_ms"),
		"setData":         {"path", "data_bytes", "version"},
		"setACL":          {"path", "acl", "version"},
		"delete":          {"path"},
		"multi":           {"ops"},
	}
	subs := map[string][]string{
		"create":  append([]string{"type"}, create...),
		"setData": {"type", "path", "data_bytes", "version"},
		"check":   {"type", "path", "version"},
		"delete":  {"type", "path"},
		"error":   {"type", "error_code"},
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(js.String()), "\n") {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatal(err)
		}
		typ := obj["type"].(string)
		seen[typ] = true
		if d := cmp.Diff(sortedKeys(append(slices.Clone(common), want[typ]...)), keys(obj)); d != "" {
			t.Errorf("%s: keys (-want +got):\n%s", typ, d)
		}
		ops, _ := obj["ops"].([]any)
		for _, o := range ops {
			sub := o.(map[string]any)
			st := sub["type"].(string)
			if d := cmp.Diff(sortedKeys(subs[st]), keys(sub)); d != "" {
				t.Errorf("%s in a multi: keys (-want +got):\n%s", st, d)
			}
		}
	}
	for typ := range want {
		if !seen[typ] {
			t.Errorf("the history has no %s txn", typ)
		}
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sortedKeys(k []string) []string { s := slices.Clone(k); slices.Sort(s); return s }

// TestDumpFilters: ranges by zxid and by time (absolute and relative),
// path prefix, session, type, and their combination, on the known
// history; every engine for the zxid range (which seeks).
func TestDumpFilters(t *testing.T) {
	txns := datadirtest.History()
	z := func(i int) log.Zxid { return datadirtest.Zxid(txns, i) }
	at := func(i int) time.Time { return time.UnixMilli(txns[i].Time).UTC() }
	now := at(len(txns) - 1).Add(30 * time.Minute)
	bound := func(s string) Bound {
		b, err := ParseBound(s, now)
		if err != nil {
			t.Fatalf("ParseBound(%q): %v", s, err)
		}
		return b
	}
	types := func(s string) []tree.Op {
		ops, err := ParseTypes(s)
		if err != nil {
			t.Fatal(err)
		}
		return ops
	}
	all := func() []int {
		var out []int
		for i := range txns {
			out = append(out, i)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    Filter
		want []int // indexes into txns
	}{
		{"none", Filter{}, all()},
		{"from zxid", Filter{From: bound("0x200000003")}, []int{12, 13, 14, 15, 16}},
		{"to zxid", Filter{To: bound("0x100000003")}, []int{0, 1, 2}},
		{"from decimal", Filter{From: bound("8589934598")}, []int{15, 16}},
		{"from and to, epoch/counter", Filter{From: bound("1/9"), To: bound("2/2")}, []int{8, 9, 10, 11}},
		{"from zxid between records", Filter{From: Bound{Zxid: z(9) + 1}}, []int{10, 11, 12, 13, 14, 15, 16}},
		{"to before the first", Filter{To: Bound{Zxid: 1}}, nil},
		{"time range RFC 3339", Filter{From: bound(at(3).Format(time.RFC3339)), To: bound(at(5).Format(time.RFC3339Nano))}, []int{3, 4, 5}},
		{"relative time", Filter{From: bound("-30m1500ms")}, []int{15, 16}},
		{"relative days", Filter{From: bound("-1d")}, all()},
		{"path prefix /app (string prefix: /apple too)", Filter{PathPrefix: "/app"}, []int{2, 3, 5, 6, 7, 8, 14, 15}},
		{"path prefix /app/", Filter{PathPrefix: "/app/"}, []int{3, 6, 15}},
		{"path in a multi only", Filter{PathPrefix: "/app/eph"}, []int{3, 6}},
		{"session hex", Filter{Session: datadirtest.S3, HasSession: true}, []int{10, 11, 12, 13, 14}},
		{"type create,delete (multi sub-ops count)", Filter{Types: types("create,delete")}, []int{2, 3, 6, 8, 14}},
		{"type session ops", Filter{Types: types("createSession,CLOSESESSION")}, []int{1, 4, 9, 10, 16}},
		{"type error (a failed multi)", Filter{Types: types("error")}, []int{13}},
		{"combined", Filter{From: bound("1/5"), To: bound("2/6"), Session: datadirtest.S2, HasSession: true, PathPrefix: "/app", Types: types("create,create2")}, []int{6, 8, 15}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, kind := range kinds {
				if kind != "native" && !strings.HasPrefix(tc.name, "from") {
					continue
				}
				d, _ := historyDir(t, kind, datadirtest.Options{})
				var js bytes.Buffer
				res, err := Dump(&js, d, DumpOptions{JSON: true, Filter: tc.f})
				if err != nil {
					t.Fatal(err)
				}
				var got []int
				for _, l := range strings.Split(strings.TrimSpace(js.String()), "\n") {
					if l == "" {
						continue
					}
					var j TxnJSON
					if err := json.Unmarshal([]byte(l), &j); err != nil {
						t.Fatal(err)
					}
					zx, _ := ParseZxid(j.Zxid)
					got = append(got, slices.IndexFunc(txns, func(t tree.Txn) bool { return log.Zxid(t.Zxid) == zx }))
				}
				if d := cmp.Diff(tc.want, got); d != "" {
					t.Errorf("%s: txns (-want +got):\n%s", kind, d)
				}
				if res.Printed != len(tc.want) {
					t.Errorf("%s: Printed %d, want %d", kind, res.Printed, len(tc.want))
				}
			}
		})
	}
}

// TestParseBound: the forms --from and --to accept, and the refusals.
func TestParseBound(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in      string
		want    Bound
		wantErr string
	}{
		{in: "0x100000003", want: Bound{Zxid: log.MakeZxid(1, 3)}},
		{in: "0X1F", want: Bound{Zxid: 0x1f}},
		{in: "4294967299", want: Bound{Zxid: log.MakeZxid(1, 3)}},
		{in: "1/3", want: Bound{Zxid: log.MakeZxid(1, 3)}},
		{in: "2026-11-22T01:40:22Z", want: Bound{Time: time.Date(2026, 11, 22, 1, 40, 22, 0, time.UTC)}},
		{in: "2026-11-22T02:40:22.5+01:00", want: Bound{Time: time.Date(2026, 11, 22, 1, 40, 22, 5e8, time.UTC)}},
		{in: "-1h", want: Bound{Time: now.Add(-time.Hour)}},
		{in: "-2h30m", want: Bound{Time: now.Add(-150 * time.Minute)}},
		{in: "-3d", want: Bound{Time: now.Add(-72 * time.Hour)}},
		{in: "", want: Bound{}},
		{in: "-1x", wantErr: "relative time"},
		{in: "-d", wantErr: "days"},
		{in: "0xzz", wantErr: "not a zxid"},
		{in: "1/x", wantErr: "epoch/counter"},
		{in: "1/4294967296", wantErr: "epoch/counter"},
		{in: "2026-11-22 01:40", wantErr: "RFC 3339"},
		{in: "yesterday", wantErr: "not a zxid"},
	} {
		got, err := ParseBound(tc.in, now)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: got %v, %v; want an error with %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !got.Time.Equal(tc.want.Time) || got.Zxid != tc.want.Zxid {
			t.Errorf("%q: got %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if _, err := ParseTypes("create,bogus"); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("ParseTypes with an unknown type: %v", err)
	}
	for in, want := range map[string]int64{"0x1000a2b3c0001": 0x1000a2b3c0001, "42": 42, "0xffffffffffffffff": -1} {
		if got, err := ParseSession(in); err != nil || got != want {
			t.Errorf("ParseSession(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

// The text dump's fast formatter writes exactly what the TxnJSON-based
// one does, for every txn type and every field a txn can carry.
func TestTextFormatterAgreesWithJSONForm(t *testing.T) {
	acl := []tree.ACL{{Perms: tree.PermRead | tree.PermAdmin, ID: tree.Id{Scheme: "digest", ID: "u:x="}}, {Perms: tree.PermAll, ID: tree.AnyoneID}}
	txns := append(datadirtest.History(),
		tree.Txn{TxnHeader: tree.TxnHeader{Type: tree.OpCreate, Session: 5, Cxid: 9, Time: -1500}, Path: "/s-0000000001", Data: []byte("d"), ACL: acl, Kind: tree.KindEphemeral, Sequential: true, ParentCversion: 4},
		tree.Txn{TxnHeader: tree.TxnHeader{Type: tree.OpCreateTTL, Time: 1}, Path: "/t", Kind: tree.KindTTL, TTL: 500, Sequential: true, ACL: acl},
		tree.Txn{TxnHeader: tree.TxnHeader{Type: tree.OpCreateSession, Time: 999}, Timeout: 4000, Client: "[::1]:5000"},
		tree.Txn{TxnHeader: tree.TxnHeader{Type: tree.OpAuth}, Ids: []tree.Id{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: "a:b"}}},
		tree.Txn{TxnHeader: tree.TxnHeader{Type: tree.OpError}, Err: tree.CodeNoAuth, FailedOp: tree.OpSetACL, Path: "/x", ACL: acl},
		tree.Txn{TxnHeader: tree.TxnHeader{Type: tree.OpError}, Err: tree.CodeNodeExists, FailedOp: tree.OpCreate2, Path: "/y", FailedMode: tree.ModePersistentSeqTTL},
		tree.Txn{TxnHeader: tree.TxnHeader{Type: tree.OpError}, Err: tree.CodeNoNode},
		tree.Txn{TxnHeader: tree.TxnHeader{Type: tree.OpReconfig}, Path: "/zookeeper/config", Data: []byte("x"), Version: 3},
		tree.Txn{TxnHeader: tree.TxnHeader{Type: tree.OpMulti}, Txns: []tree.Txn{{TxnHeader: tree.TxnHeader{Type: tree.OpCreate}, Path: "/m-1", Sequential: true, Kind: tree.KindPersistent}}},
	)
	tw := newTextWriter()
	for i, txn := range txns {
		txn.Zxid = int64(log.MakeZxid(3, uint32(i+1)))
		for _, r := range []logread.Record{
			{Record: log.Record{Zxid: log.Zxid(txn.Zxid), Data: tree.AppendTxn(nil, txn)}, File: "log/log.0000000300000001", Offset: int64(20 * i)},
			{Record: log.Record{Zxid: log.Zxid(txn.Zxid), Data: tree.AppendTxn(nil, txn)}, File: "pebble", Offset: -1},
		} {
			want := appendText(nil, ptr(txnJSON(r, txn, nil)))
			if got := tw.appendTxn(nil, &r, &txn); string(got) != string(want) {
				t.Errorf("txn %d:\n got %s\nwant %s", i, got, want)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }
