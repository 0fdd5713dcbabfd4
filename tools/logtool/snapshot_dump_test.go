package logtool

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"zabd/log"
	"zabd/snapshot"
	"zabd/tools/logread/datadirtest"
)

// TestDumpSnapshot dumps a snapshot of the known history as text (golden)
// and as JSON (header, sessions, nodes), and a damaged one (an error
// naming the file, nothing printed).
func TestDumpSnapshot(t *testing.T) {
	dir := t.TempDir()
	txns := datadirtest.History()
	at := datadirtest.Zxid(txns, 12)
	datadirtest.Write(t, dir, "native", txns, datadirtest.Options{SnapshotsAt: []log.Zxid{at}})
	path := filepath.Join(dir, "snapshot", "snapshot.0000000200000003")

	var text bytes.Buffer
	m, err := DumpSnapshot(&text, path, SnapshotDumpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.StartZxid != at || m.EndZxid != at {
		t.Errorf("meta %+v, want start and end %v", m, at)
	}
	golden(t, "snapshot_dump.golden", bytes.ReplaceAll(text.Bytes(), []byte(dir), []byte("DATADIR")))

	var js bytes.Buffer
	if _, err := DumpSnapshot(&js, path, SnapshotDumpOptions{JSON: true}); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for i, l := range strings.Split(strings.TrimSpace(js.String()), "\n") {
		var rec struct{ Record string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if i == 0 && rec.Record != "header" {
			t.Errorf("first line %s, want the header", l)
		}
		counts[rec.Record]++
	}
	if counts["header"] != 1 || counts["session"] != 2 || counts["node"] != 9 {
		t.Errorf("JSON records %v, want 1 header, 2 sessions, 9 nodes", counts)
	}

	flipByte(t, path, 50)
	var out bytes.Buffer
	_, err = DumpSnapshot(&out, path, SnapshotDumpOptions{})
	if !errors.Is(err, snapshot.ErrCorrupt) || !strings.Contains(err.Error(), path) || out.Len() != 0 {
		t.Errorf("damaged: err %v, printed %q; want a corruption error naming %s and nothing printed", err, out.String(), path)
	}
}
