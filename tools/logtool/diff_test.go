package logtool

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"zabd/tools/logread/datadirtest"
)

// Between the state after the second createSession (1/5) and the end of
// the known history: /app's data (two setData) and ACL changed, its
// children /app/m1 came and /app/eph (an ephemeral the multi deleted)
// went; /jobs and /jobs/t came; /apple came and went in between, so it
// is no difference at all.
func TestDiffOfTheKnownHistory(t *testing.T) {
	txns := datadirtest.History()
	before := datadirtest.TreeAt(txns, datadirtest.Zxid(txns, 4))
	after := datadirtest.TreeAt(txns, datadirtest.Zxid(txns, len(txns)-1))
	changes := Diff(before, after)
	var got []string
	for _, c := range changes {
		got = append(got, c.Kind+" "+c.Path)
	}
	want := []string{"changed /", "changed /app", "deleted /app/eph", "created /app/m1", "created /app/m1/x", "created /jobs", "created /jobs/t"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("diff 0x100000005 → end:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	app := changes[1]
	if !app.Data || !app.ACL || strings.Join(app.ChildrenAdded, ",") != "m1" || strings.Join(app.ChildrenRemoved, ",") != "eph" {
		t.Errorf("/app: %+v, want data, ACL and children m1 added, eph removed", app)
	}
	if root := changes[0]; root.Data || root.ACL || strings.Join(root.ChildrenAdded, ",") != "jobs" || len(root.ChildrenRemoved) != 0 {
		t.Errorf("/: %+v, want only the child jobs added", root)
	}

	var text bytes.Buffer
	if err := WriteDiff(&text, changes, false); err != nil {
		t.Fatal(err)
	}
	wantText := `~ / +child=jobs
~ /app data=5B->5B version=0->2 mzxid=0x100000003->0x100000007 acl=world:anyone:cdrwa->world:anyone:ra +child=m1 -child=eph
- /app/eph kind=ephemeral czxid=0x100000004 data=1B
+ /app/m1 kind=persistent czxid=0x100000007 data=1B acl=world:anyone:cdrwa
+ /app/m1/x kind=persistent czxid=0x200000006 data=1B acl=world:anyone:cdrwa
+ /jobs kind=container czxid=0x200000002 data=0B acl=world:anyone:cdrwa
+ /jobs/t kind=ttl czxid=0x200000003 data=3B acl=world:anyone:cdrwa
`
	if text.String() != wantText {
		t.Errorf("text diff:\n%s\nwant\n%s", text.String(), wantText)
	}

	var js bytes.Buffer
	if err := WriteDiff(&js, changes, true); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	if len(lines) != len(changes) {
		t.Fatalf("%d JSON lines for %d changes", len(lines), len(changes))
	}
	var eph ChangeJSON
	if err := json.Unmarshal([]byte(lines[2]), &eph); err != nil {
		t.Fatal(err)
	}
	if eph.Change != "deleted" || eph.Path != "/app/eph" || eph.After != nil || eph.Before == nil ||
		eph.Before.EphemeralOwner != FormatSession(datadirtest.S1) {
		t.Errorf("JSON of the deleted ephemeral: %s", lines[2])
	}

	// A state compared with itself has no differences; the other way
	// round, every creation is a deletion.
	if same := Diff(after, after); len(same) != 0 {
		t.Errorf("a state against itself: %d changes", len(same))
	}
	back := Diff(after, before)
	if len(back) != len(changes) || back[2].Kind != "created" || back[3].Kind != "deleted" {
		t.Errorf("reversed diff: %+v", back)
	}
}
