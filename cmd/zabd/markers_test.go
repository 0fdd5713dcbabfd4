package main

import (
	"path/filepath"
	"strings"
	"testing"

	"zabd/log"
)

func TestNextEpochNeverReuses(t *testing.T) {
	dir := t.TempDir()
	for i, tc := range []struct {
		last log.Zxid
		want uint32
	}{
		{0, 1},                  // fresh
		{log.MakeZxid(1, 9), 2}, // the log's epoch wins
		{log.MakeZxid(1, 9), 3}, // the log was cut back (--repair): the recorded 2 wins
		{log.MakeZxid(7, 1), 8}, // a snapshot or log from a later epoch
		{0, 9},                  // an emptied log still never goes back
	} {
		got, err := nextEpoch(dir, tc.last)
		if err != nil || got != tc.want {
			t.Fatalf("start %d (last %s): epoch %d, %v; want %d", i, tc.last, got, err, tc.want)
		}
	}
}

func TestPurgeRecorderAndCoverage(t *testing.T) {
	dir := t.TempDir()
	var purged []log.Zxid
	p := purgeRecorder{path: filepath.Join(dir, purgedFile), eng: purgeFunc(func(z log.Zxid) error { purged = append(purged, z); return nil })}
	if err := checkLogCovers(dir, 0); err != nil {
		t.Fatalf("nothing purged yet: %v", err)
	}
	if err := p.PurgeBefore(log.MakeZxid(1, 101)); err != nil {
		t.Fatal(err)
	}
	if len(purged) != 1 {
		t.Fatalf("engine purge not called: %v", purged)
	}
	if err := checkLogCovers(dir, log.MakeZxid(1, 100)); err != nil {
		t.Fatalf("snapshot at the purge point: %v", err)
	}
	if err := checkLogCovers(dir, log.MakeZxid(1, 50)); err == nil || !strings.Contains(err.Error(), "purged") {
		t.Fatalf("snapshot older than the purge point: %v, want a refusal", err)
	}
	if err := checkLogCovers(dir, 0); err == nil {
		t.Fatal("no snapshot after a purge: want a refusal")
	}
}

type purgeFunc func(log.Zxid) error

func (f purgeFunc) PurgeBefore(z log.Zxid) error { return f(z) }
