package logtool

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/engine"
	"zabd/engine/enginetest"
	"zabd/log"
	"zabd/tools/logread"
	"zabd/tools/logread/datadirtest"
	"zabd/tree"
)

// recordAt finds where the native log of dir holds zxid z (file relative
// to the data dir, frame offset), by dumping it.
func recordAt(t *testing.T, dir string, z log.Zxid) (string, int64) {
	t.Helper()
	d, err := logread.Open(dir, logread.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var file string
	off := int64(-1)
	if _, err := d.Records(z, func(r logread.Record) error {
		if r.Zxid == z {
			file, off = r.File, r.Offset
		}
		return errStop
	}); err != nil && err != errStop {
		t.Fatal(err)
	}
	if off < 0 {
		t.Fatalf("no record %v in %s", z, dir)
	}
	return file, off
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// appendRecords appends raw records to the data dir's log through its
// engine.
func appendRecords(t *testing.T, dir, kind string, recs ...log.Record) {
	t.Helper()
	e, err := engine.Open(kind, dir, engine.Options{Small: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Append(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestVerify is the table of data dirs verify must judge: sound ones on
// every engine, and each kind of damage, with the first problem it must
// name (file, offset, zxid, what) and the last good zxid.
func TestVerify(t *testing.T) {
	txns := datadirtest.History()
	z := func(i int) log.Zxid { return datadirtest.Zxid(txns, i) }
	last := len(txns) - 1
	type check struct {
		sound    bool
		first    []string // substrings of Problems[0].String()
		lastGood log.Zxid // checked when not sound and set
		warning  string   // a substring of some warning
		text     []string // substrings of the text report
	}
	for _, tc := range []struct {
		name  string
		kinds []string
		opts  datadirtest.Options
		// damage changes the written dir; nil for none.
		damage func(t *testing.T, dir, kind string)
		vo     VerifyOptions
		want   check
	}{
		{
			name: "sound, no snapshot", kinds: kinds,
			want: check{sound: true, text: []string{"17 txns", "epoch 1: 10 txns, counters 1 .. 10", "epoch 2: 7 txns, counters 1 .. 7",
				"currentEpoch 2", "never purged", "snapshots: none", "restore an empty tree, then replay 17 txns of the log up to zxid 0x200000007", "SOUND"}},
		},
		{
			name: "sound, snapshots and a purge marker", kinds: kinds,
			opts: datadirtest.Options{SnapshotsAt: []log.Zxid{z(4), z(12)}, PurgedBelow: z(12)},
			want: check{sound: true, text: []string{"snapshot snapshot.0000000100000005: start 0x100000005, end 0x100000005",
				"snapshot snapshot.0000000200000003", "purged below 0x200000003",
				"restore snapshot/snapshot.0000000200000003, then replay 4 txns of the log up to zxid 0x200000007", "SOUND"}},
		},
		{
			name: "a byte flipped mid-segment (native)", kinds: []string{"native"},
			damage: func(t *testing.T, dir, kind string) {
				file, off := recordAt(t, dir, z(6)) // the multi, in the second segment
				flipByte(t, filepath.Join(dir, file), off+log.FrameHeaderBytes+10)
			},
			want: check{first: []string{"log/log.0000000100000005 offset 124: checksum mismatch, after zxid 0x100000006 (the last good record)",
				"the damaged frame there says zxid 0x100000007"}, lastGood: z(5),
				text: []string{"DAMAGED: log/log.0000000100000005 offset 124", "intact: the log's first 6 txns, 0x100000001 1/1 .. 0x100000006 1/6 (the last good zxid)"}},
		},
		{
			name: "a byte flipped in a frame header's zxid (native)", kinds: []string{"native"},
			damage: func(t *testing.T, dir, kind string) {
				file, off := recordAt(t, dir, z(9))
				flipByte(t, filepath.Join(dir, file), off+4+7)
			},
			want: check{first: []string{"log/log.0000000100000009 offset 92: checksum mismatch, after zxid 0x100000009"}, lastGood: z(8)},
		},
		{
			name: "torn tail (native): a warning, nothing lost", kinds: []string{"native"},
			damage: func(t *testing.T, dir, kind string) {
				segs := datadirtest.Segments(t, dir)
				f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.Write([]byte{0, 0, 0, 9, 1, 2, 3})
				f.Close()
			},
			want: check{sound: true, warning: "torn tail: log/log.0000000200000004 from offset 235, 7 bytes (short frame)"},
		},
		{
			name: "a gap inside an epoch", kinds: kinds,
			opts: datadirtest.Options{Skip: map[log.Zxid]bool{z(5): true, z(6): true}},
			want: check{first: []string{"zxid 0x100000008 1/8: gap: zxid 0x100000005 is followed by 0x100000008: 2 zxids of epoch 1 missing"}, lastGood: z(4)},
		},
		{
			name: "a gap allowed", kinds: []string{"native"},
			opts: datadirtest.Options{Skip: map[log.Zxid]bool{z(5): true}},
			vo:   VerifyOptions{AllowGaps: true},
			want: check{sound: true, warning: "1 zxids of epoch 1 missing (allowed: --allow-gaps)"},
		},
		{
			name: "an epoch that does not begin at counter 1", kinds: []string{"pebble"},
			opts: datadirtest.Options{Skip: map[log.Zxid]bool{z(10): true}},
			want: check{first: []string{"pebble, zxid 0x200000002 2/2: gap: epoch 2 begins at counter 2, not 1"}, lastGood: z(9)},
		},
		{
			name: "the log begins mid-epoch with no snapshot", kinds: []string{"badger"},
			opts: datadirtest.Options{Skip: map[log.Zxid]bool{z(0): true, z(1): true}},
			want: check{first: []string{"badger, zxid 0x100000003 1/3: gap: the log begins at zxid 0x100000003 (counter 3 of epoch 1) and no snapshot covers the txns before it"}},
		},
		{
			name: "a snapshot whose end is past the log's end", kinds: kinds,
			opts: datadirtest.Options{SnapshotsAt: []log.Zxid{z(last)}, Skip: map[log.Zxid]bool{z(last): true, z(last - 1): true}},
			want: check{first: []string{"snapshot/snapshot.0000000200000007, zxid 0x200000007 2/7: the snapshot's walk ended at zxid 0x200000007, past the log's last zxid 0x200000005"}},
		},
		{
			name: "a snapshot starting at a zxid the log lacks", kinds: []string{"native"},
			opts: datadirtest.Options{SnapshotsAt: []log.Zxid{z(3)}, Skip: map[log.Zxid]bool{z(3): true}},
			vo:   VerifyOptions{AllowGaps: true},
			want: check{first: []string{"snapshot/snapshot.0000000100000004, zxid 0x100000004 1/4: the snapshot starts at zxid 0x100000004, which the log (0x100000001..0x200000007) does not hold"}},
		},
		{
			name: "a damaged snapshot", kinds: []string{"native"},
			opts: datadirtest.Options{SnapshotsAt: []log.Zxid{z(4)}},
			damage: func(t *testing.T, dir, kind string) {
				flipByte(t, filepath.Join(dir, "snapshot", "snapshot.0000000100000005"), 40)
			},
			want: check{first: []string{"snapshot/snapshot.0000000100000005: unreadable: snapshot"}, lastGood: z(last),
				text: []string{"snapshot snapshot.0000000100000005: UNREADABLE", "none of the 1 snapshots can be read"}},
		},
		{
			name: "purged past the newest snapshot", kinds: []string{"native"},
			opts: datadirtest.Options{SnapshotsAt: []log.Zxid{z(4)}, PurgedBelow: z(8)},
			want: check{first: []string{"logPurgedBelow: the log was purged below zxid 0x100000009 but recovery would start from snapshot/snapshot.0000000100000005 at zxid 0x100000005"}},
		},
		{
			name: "currentEpoch behind the log", kinds: []string{"native"},
			opts: datadirtest.Options{CurrentEpoch: 1},
			want: check{first: []string{"currentEpoch: currentEpoch says 1 but the log reaches epoch 2"}},
		},
		{
			name: "a record that is not a txn", kinds: kinds,
			damage: func(t *testing.T, dir, kind string) {
				appendRecords(t, dir, kind, log.Record{Zxid: log.MakeZxid(2, 8), Data: []byte("not a txn")})
			},
			want: check{first: []string{"zxid 0x200000008 2/8: the record does not decode as a txn: tree: corrupt txn at offset 0"}, lastGood: z(last)},
		},
		{
			name: "a txn whose header disagrees with its record", kinds: []string{"badger"},
			damage: func(t *testing.T, dir, kind string) {
				txn := txns[last]
				txn.Zxid = int64(log.MakeZxid(2, 99))
				appendRecords(t, dir, kind, log.Record{Zxid: log.MakeZxid(2, 8), Data: tree.AppendTxn(nil, txn)})
			},
			want: check{first: []string{"badger, zxid 0x200000008 2/8: the txn's header says zxid 0x200000063, its record 0x200000008"}, lastGood: z(last)},
		},
		{
			name: "the log lost, a snapshot left", kinds: []string{"native"},
			opts: datadirtest.Options{SnapshotsAt: []log.Zxid{z(4)}},
			damage: func(t *testing.T, dir, kind string) {
				for _, s := range datadirtest.Segments(t, dir) {
					os.Remove(s)
				}
			},
			want: check{first: []string{"log: the log is empty but snapshot/snapshot.0000000100000005 exists"}},
		},
	} {
		for _, kind := range tc.kinds {
			t.Run(tc.name+"/"+kind, func(t *testing.T) {
				dir := t.TempDir()
				datadirtest.Write(t, dir, kind, txns, tc.opts)
				if tc.damage != nil {
					tc.damage(t, dir, kind)
				}
				before := enginetest.DirState(t, dir)
				d, err := logread.Open(dir, logread.Options{})
				if err != nil {
					t.Fatal(err)
				}
				rep := Verify(d, tc.vo)
				var text bytes.Buffer
				if err := rep.WriteText(&text); err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(before, enginetest.DirState(t, dir)); d != "" {
					t.Errorf("verify changed the data dir (-before +after):\n%s", d)
				}
				if rep.ReadErr != nil {
					t.Fatalf("ReadErr: %v\n%s", rep.ReadErr, text.String())
				}
				if rep.Sound() != tc.want.sound {
					t.Fatalf("Sound() = %v, want %v\n%s", rep.Sound(), tc.want.sound, text.String())
				}
				if !tc.want.sound {
					first := rep.Problems[0].String()
					for _, s := range tc.want.first {
						if !strings.Contains(first, s) {
							t.Errorf("first problem %q\nwant it to contain %q", first, s)
						}
					}
					if tc.want.lastGood != 0 && rep.LastGood != tc.want.lastGood {
						t.Errorf("LastGood = %v, want %v", rep.LastGood, tc.want.lastGood)
					}
				}
				if tc.want.warning != "" && !strings.Contains(strings.Join(rep.Warnings, "\n"), tc.want.warning) {
					t.Errorf("warnings %q\nwant one with %q", rep.Warnings, tc.want.warning)
				}
				for _, s := range tc.want.text {
					if !strings.Contains(text.String(), s) {
						t.Errorf("report lacks %q:\n%s", s, text.String())
					}
				}
				if t.Failed() {
					fmt.Println(text.String())
				}
			})
		}
	}
}
