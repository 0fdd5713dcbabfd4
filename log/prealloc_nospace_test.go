package log

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/log/vfs"
	"zabd/log/vfs/errorfs"
)

// bigRec is a record whose frame is exactly frameBytes long.
func bigRec(z Zxid, frameBytes int) Record {
	return Record{Zxid: z, Data: bytes.Repeat([]byte{byte(z)}, frameBytes-FrameHeaderBytes)}
}

// sameRecords compares records (cmp.Equal is slow on large Data).
func sameRecords(a, b []Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Zxid != b[i].Zxid || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

// logLines returns the messages logged so far, one per line.
func logLines(buf *bytes.Buffer) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if _, msg, ok := strings.Cut(line, "msg=\""); ok {
			msg, _, _ = strings.Cut(msg, "\"")
			out = append(out, msg)
		}
	}
	return out
}

// TestPreallocationShrinksOnANearlyFullDisk fills a disk (errorfs.SetFree)
// under a preallocated log with 1 MiB segments: the next segment is
// preallocated at the largest half that fits (logged once), it grows past
// its preallocated end as it is written, only when not even the record
// starting a segment fits does the roll fail, with ErrNoSpace naming what
// was asked and what was free; with room again segments are whole again
// (logged once), and every acknowledged record is there after a crash.
func TestPreallocationShrinksOnANearlyFullDisk(t *testing.T) {
	const seg = 1 << 20
	const frame = seg / 4 // four records fill a segment (with its header, the fifth rolls)
	var logBuf bytes.Buffer
	mem := vfs.NewMem()
	efs := errorfs.Wrap(mem)
	o := Options{SegmentBytes: seg, Preallocate: true,
		Logger: slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	l, _ := mustOpen(t, efs, o)
	defer l.Close()
	var acked []Record
	z := Zxid(0)
	appendOne := func() error {
		z++
		r := bigRec(z, frame)
		err := l.Append(r)
		if err == nil {
			err = l.Sync()
		}
		if err == nil {
			acked = append(acked, r)
		}
		return err
	}
	mustAppend := func(n int) {
		t.Helper()
		for range n {
			if err := appendOne(); err != nil {
				t.Fatalf("append %v: %v", z, err)
			}
		}
	}
	mustAppend(1) // log.1 from prealloc.1 (whole); prealloc.2 being prepared
	l.waitPrepared()
	// prealloc.2 is whole. 300 KiB free from now on: prealloc.3, prepared
	// when log.5 starts, gets 256 KiB.
	efs.SetFree(300 << 10)
	mustAppend(4) // record 5 rolls to log.5 (prealloc.2), prealloc.3 is prepared
	l.waitPrepared()
	if got := fileSizes(t, efs)["prealloc.3.tmp"]; got != 256<<10 {
		t.Fatalf("prealloc.3.tmp is %d bytes with 300 KiB free, want 256 KiB", got)
	}
	if want := []string{"disk nearly full: preallocating smaller log segments than asked; writes go on until not even a record fits"}; !cmp.Equal(logLines(&logBuf), want) {
		t.Fatalf("log lines (-want +got):\n%s", cmp.Diff(want, logLines(&logBuf)))
	}
	if !strings.Contains(logBuf.String(), "asked=\"1.0 MiB\" got=\"256 KiB\" free=\"44.0 KiB\"") {
		t.Errorf("the line does not say what was asked, got and free: %s", logBuf.String())
	}
	// Record 9 rolls to log.9 (prealloc.3, 256 KiB: the record fills it);
	// prealloc.4 finds 44 KiB, less than its 64 KiB floor, and fails in
	// the background. Record 10 writes past log.9's preallocated end and
	// finds 44 KiB free for its 256 KiB.
	mustAppend(4)
	err := appendOne()
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) || errors.Is(err, ErrSyncFailed) {
		t.Fatalf("append past the free space: %v, want ErrNoSpace", err)
	}
	for _, want := range []string{"write log.0000000000000009 at offset 262168: asked 256 KiB, 0 B free on /data/log: "} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// The rollback gave the partial write back. Make room for three more
	// records, which fill log.9 to its segment size; then, with 4 KiB
	// free, the next record rolls: the background preparation failed and
	// the roll's own try halves 1 MiB down to what the record needs (its
	// frame and the segment header), which does not fit either.
	l.waitPrepared() // the background preparation sees the disk as it was
	efs.SetFree(3 * frame)
	mustAppend(3)    // log.9 reaches 1 MiB (records 11-13)
	l.waitPrepared() // the background preparation sees the disk as it was
	efs.SetFree(4 << 10)
	err = appendOne()
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("roll with 4 KiB free: %v, want ErrNoSpace", err)
	}
	for _, want := range []string{"preallocating segment log.", "asked 1.0 MiB, then down to 256.0 KiB, 4.0 KiB free on /data/log: ", "no space left on device"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// Room again: the next roll gets a whole segment, said once.
	l.waitPrepared() // the background preparation sees the disk as it was
	efs.SetFree(-1)
	mustAppend(2)
	l.waitPrepared()
	lines := logLines(&logBuf)
	if n := len(lines); n != 2 || lines[1] != "disk has room again: log segments are preallocated whole" {
		t.Errorf("log lines: %q", lines)
	}
	for n, size := range fileSizes(t, efs) {
		if isPrepName(n) && size != seg {
			t.Errorf("%s is %d bytes with room again, want %d", n, size, seg)
		}
	}
	if got := readAll(t, l, 0); !sameRecords(got, acked) {
		t.Fatalf("records: got %d, want %d acknowledged", len(got), len(acked))
	}
	l2, rep := mustOpen(t, mem.CrashClone(vfs.CrashOptions{}), o)
	defer l2.Close()
	if got := readAll(t, l2, 0); !sameRecords(got, acked) || rep.TornTail {
		t.Fatalf("after a crash (%v): got %d records, want %d", rep, len(got), len(acked))
	}
}
