package logtool

import (
	"bytes"
	"strings"
	"testing"

	"zabd/tools/logread/datadirtest"
	"zabd/tree"
)

// The audit of a log written before zabd logged clients and identities
// (format v1 txns, the known history) on every engine: sessions are known
// from their createSession but their address and user are not; a multi
// gives one event per create, setData and delete (its check none); the
// failed multi one multiOperation failure; server-side events none, as
// /app/eph (S1's ephemeral) was deleted by S2's multi before S1 closed.
func TestAuditOfTheKnownHistory(t *testing.T) {
	for _, kind := range kinds {
		d, _ := historyDir(t, kind, datadirtest.Options{})
		var text bytes.Buffer
		w := NewAuditWriter(&text, AuditText, "zk")
		res, err := Audit(d, AuditOptions{}, w.Write)
		if err != nil {
			t.Fatal(err)
		}
		w.Flush()
		lines := strings.Split(strings.TrimSpace(text.String()), "\n")
		var ops []string
		for _, l := range lines {
			f := strings.Fields(l)
			ops = append(ops, strings.Join(f[6:], " "))
		}
		want := []string{
			"createSession success", "create /app type=persistent success", "create /app/eph type=ephemeral success",
			"createSession success", "setData /app success",
			"create /app/m1 type=persistent success", "setData /app success", "delete /app/eph success",
			"setAcl /app acl=world:anyone:ra success", "create /apple type=persistent success", "closeSession success",
			"createSession success", "create /jobs type=container success", "create /jobs/t type=persistent_with_ttl success",
			"multiOperation failure err=-110(node exists)", "delete /apple success", "create /app/m1/x type=persistent success",
			"closeSession success",
		}
		if strings.Join(ops, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s: audit\n%s\nwant\n%s", kind, text.String(), strings.Join(want, "\n"))
		}
		if !strings.Contains(lines[0], " session=0x1000a2b3c0001 client=? user=? createSession") || res.Unknown != 0 || res.Events != len(want) {
			t.Errorf("%s: first line %q, %+v", kind, lines[0], res)
		}

		// From the middle, for one session: what S2 did, its
		// createSession before the range still read.
		var got []string
		_, err = Audit(d, AuditOptions{Filter: Filter{From: Bound{Zxid: datadirtest.Zxid(datadirtest.History(), 6)}, Session: datadirtest.S2, HasSession: true}},
			func(e *AuditEvent) error { got = append(got, e.Operation+" "+e.Znode); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != "create /app/m1,setData /app,delete /app/eph,setAcl /app,create /apple,create /app/m1/x,closeSession " {
			t.Errorf("%s: S2 from 1/7: %q", kind, got)
		}
	}
}

// ZooKeeper's format leaves out zabd's own operations, writes failures
// at ERROR, and an unknown user and address as absent keys.
func TestAuditZooKeeperLines(t *testing.T) {
	var b bytes.Buffer
	w := NewAuditWriter(&b, AuditZooKeeper, "zk")
	events := []AuditEvent{
		{Time: 1764899000123, Session: 0x1000a, Client: "127.0.0.1:5000", Ids: []tree.Id{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: "bob:xyz="}},
			Operation: AuditCreate, Znode: "/x", ZnodeType: "ephemeral_sequential"},
		{Time: 1764899000124, Session: 0x1000a, Operation: AuditAddAuth},
		{Time: 1764899000125, Session: 0x1000b, Operation: AuditSetACL, Znode: "/y", Err: tree.CodeNoAuth,
			ACL: []tree.ACL{{Perms: tree.PermRead, ID: tree.AnyoneID}, {Perms: tree.PermAll, ID: tree.Id{Scheme: "ip", ID: "10.0.0.1"}}}},
		{Time: 1764899000126, Session: 0x1000a, ByServer: true, Operation: AuditEphemeralDelete, Znode: "/x"},
	}
	for i := range events {
		if err := w.Write(&events[i]); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	want := "2025-12-05 01:43:20,123 INFO audit.Slf4jAuditLogger: session=0x1000a\tuser=127.0.0.1,bob\tip=127.0.0.1\toperation=create\tznode=/x\tznode_type=ephemeral_sequential\tresult=success\n" +
		"2025-12-05 01:43:20,125 ERROR audit.Slf4jAuditLogger: session=0x1000b\toperation=setAcl\tznode=/y\tacl=world:anyone:rip:10.0.0.1:cdrwa\tresult=failure\n" +
		"2025-12-05 01:43:20,126 INFO audit.Slf4jAuditLogger: session=0x1000a\tuser=zk\toperation=ephemeralZNodeDeletionOnSessionCloseOrExpire\tznode=/x\tresult=success\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
