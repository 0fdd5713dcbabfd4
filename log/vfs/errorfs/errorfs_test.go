package errorfs_test

import (
	"errors"
	"testing"

	"zabd/log/vfs"
	"zabd/log/vfs/errorfs"
)

func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rule       errorfs.Rule
		writes     []string // each written with one Write to /d/log.1
		wantFail   []bool   // per write
		wantFile   string
		wantErr    error
		wantInject int
	}{
		{"second write fails", errorfs.Rule{Op: errorfs.OpWrite, Nth: 2},
			[]string{"aa", "bb", "cc"}, []bool{false, true, false}, "aacc", errorfs.ErrInjected, 1},
		{"every write fails", errorfs.Rule{Op: errorfs.OpWrite},
			[]string{"aa", "bb"}, []bool{true, true}, "", errorfs.ErrInjected, 2},
		{"path filter misses", errorfs.Rule{Op: errorfs.OpWrite, PathContains: "snap"},
			[]string{"aa", "bb"}, []bool{false, false}, "aabb", nil, 0},
		{"torn write keeps a prefix", errorfs.Rule{Op: errorfs.OpWrite, Nth: 2, Torn: true, TornAt: 3},
			[]string{"aa", "bbbbb"}, []bool{false, true}, "aabbb", errorfs.ErrInjected, 1},
		{"ENOSPC", errorfs.Rule{Op: errorfs.OpWrite, Nth: 1, Err: errorfs.ErrNoSpace, Torn: true, TornAt: 1},
			[]string{"xyz"}, []bool{true}, "x", errorfs.ErrNoSpace, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			mem.MkdirAll("/d", 0o755)
			efs := errorfs.Wrap(mem, tc.rule)
			f, err := efs.Create("/d/log.1")
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.writes {
				n, err := f.Write([]byte(w))
				if failed := err != nil; failed != tc.wantFail[i] {
					t.Errorf("write %d: err %v, want failure %v", i, err, tc.wantFail[i])
				}
				if err != nil && !errors.Is(err, tc.wantErr) {
					t.Errorf("write %d: err %v, want %v", i, err, tc.wantErr)
				}
				if err == nil && n != len(w) {
					t.Errorf("write %d: n = %d", i, n)
				}
			}
			f.Close()
			got, _ := vfs.ReadFile(mem, "/d/log.1")
			if string(got) != tc.wantFile {
				t.Errorf("file holds %q, want %q", got, tc.wantFile)
			}
			if efs.Injected() != tc.wantInject {
				t.Errorf("Injected = %d, want %d", efs.Injected(), tc.wantInject)
			}
		})
	}
}

func TestOtherOps(t *testing.T) {
	mem := vfs.NewMem()
	efs := errorfs.Wrap(mem,
		errorfs.Rule{Op: errorfs.OpSync, PathContains: "/d/x", Nth: 2},
		errorfs.Rule{Op: errorfs.OpRename, Nth: 1},
		errorfs.Rule{Op: errorfs.OpCreate, PathContains: "bad"},
	)
	efs.MkdirAll("/d", 0o755)
	f, err := efs.Create("/d/x")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Errorf("first sync: %v", err)
	}
	if err := f.Sync(); !errors.Is(err, errorfs.ErrInjected) {
		t.Errorf("second sync: got %v, want injected", err)
	}
	if err := f.Sync(); err != nil {
		t.Errorf("third sync: %v", err)
	}
	if err := efs.Rename("/d/x", "/d/y"); !errors.Is(err, errorfs.ErrInjected) {
		t.Errorf("first rename: got %v, want injected", err)
	}
	if err := efs.Rename("/d/x", "/d/y"); err != nil {
		t.Errorf("second rename: %v", err)
	}
	if _, err := efs.Create("/d/bad"); !errors.Is(err, errorfs.ErrInjected) {
		t.Errorf("create bad: got %v, want injected", err)
	}
	if _, err := mem.Stat("/d/bad"); !vfs.IsNotExist(err) {
		t.Errorf("failed create left a file: %v", err)
	}
}
