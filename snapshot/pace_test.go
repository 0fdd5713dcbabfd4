package snapshot

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"zabd/tree"
)

// pacedTree is everyKind's tree plus enough nodes for several chunks.
func pacedTree(t *testing.T) *tree.Tree {
	d := newDriver(t, tree.Config{})
	d.must(0, tree.Request{Op: tree.OpCreate, Path: "/p", ACL: tree.OpenACLUnsafe})
	for i := range 45 {
		d.must(0, tree.Request{Op: tree.OpCreate, Path: "/p/n" + string(rune('a'+i%26)) + string(rune('a'+i/26)), ACL: tree.OpenACLUnsafe})
	}
	return d.tr
}

// TestWritePacesChunks: with Duty set, Write pauses after every chunk but
// the last, for as long as the chunk took times (100-Duty)/Duty; with no
// pacing it never waits. The snapshot is the same either way.
func TestWritePacesChunks(t *testing.T) {
	tr := pacedTree(t)
	unpaced, _ := writeBytes(t, tr, Options{ChunkNodes: 10, Now: func() time.Time { return time.UnixMilli(0) }})
	for _, tc := range []struct {
		duty      int
		wantPause time.Duration // per chunk, each chunk "working" 1 ms
	}{
		{50, time.Millisecond},
		{20, 4 * time.Millisecond},
		{100, 0},
		{0, 0},
	} {
		// A clock that moves 1 ms per reading: each chunk measures 1 ms.
		now := time.UnixMilli(0)
		var pauses []time.Duration
		o := Options{ChunkNodes: 10, Duty: tc.duty,
			Now: func() time.Time { now = now.Add(time.Millisecond); return now },
			After: func(d time.Duration) <-chan time.Time {
				pauses = append(pauses, d)
				ch := make(chan time.Time, 1)
				ch <- time.Time{}
				return ch
			},
		}
		got, m := writeBytes(t, tr, o)
		chunks := int(m.Nodes+9) / 10
		switch {
		case tc.wantPause == 0 && len(pauses) != 0:
			t.Errorf("duty %d: paused %v, want no pause", tc.duty, pauses)
		case tc.wantPause > 0 && len(pauses) != chunks-1:
			t.Errorf("duty %d: %d pauses for %d chunks, want one after each chunk but the last", tc.duty, len(pauses), chunks)
		}
		for _, p := range pauses {
			if p != tc.wantPause {
				t.Errorf("duty %d: paused %v after a 1 ms chunk, want %v", tc.duty, p, tc.wantPause)
			}
		}
		// Same body; only the header's time (from the moving clock), and
		// so the checksum over header and body, may differ.
		_, gotRaw := decompressed(t, got)
		_, wantRaw := decompressed(t, unpaced)
		if !bytes.Equal(gotRaw[:len(gotRaw)-8], wantRaw[:len(wantRaw)-8]) {
			t.Errorf("duty %d: snapshot body differs from the unpaced one", tc.duty)
		}
		rt, rm, err := Read(bytes.NewReader(got), tree.Config{})
		if err != nil || rm.Nodes != m.Nodes || describe(rt, rm) == "" {
			t.Fatalf("duty %d: reading the paced snapshot back: %v (%d nodes, want %d)", tc.duty, err, rm.Nodes, m.Nodes)
		}
	}
}

// TestWriteStopsDuringPause: Stop closing while Write waits between
// chunks ends the write with ErrStopped.
func TestWriteStopsDuringPause(t *testing.T) {
	tr := pacedTree(t)
	stop := make(chan struct{})
	o := Options{ChunkNodes: 10, Duty: 50, Stop: stop,
		After: func(time.Duration) <-chan time.Time {
			close(stop) // stop arrives during the first pause, which never ends
			return make(chan time.Time)
		},
	}
	var buf bytes.Buffer
	if _, err := Write(&buf, Still(tr), o); !errors.Is(err, ErrStopped) {
		t.Fatalf("Write with Stop closed during a pause: %v, want ErrStopped", err)
	}
}
