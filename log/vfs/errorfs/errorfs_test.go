package errorfs_test

import (
	"errors"
	"syscall"
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

// TestSetFree: with a budget, growth is charged (short write, refused
// preallocation), truncation and removal give space back, and Space
// reports the budget.
func TestSetFree(t *testing.T) {
	efs := errorfs.Wrap(vfs.NewMem())
	efs.MkdirAll("/d", 0o755)
	f, err := efs.Create("/d/x")
	if err != nil {
		t.Fatal(err)
	}
	efs.SetFree(100)
	if n, err := f.WriteAt(make([]byte, 60), 0); n != 60 || err != nil {
		t.Fatalf("WriteAt 60 with 100 free = %d, %v", n, err)
	}
	// Rewriting inside the file costs nothing: of 60 bytes at 50, 10
	// overwrite and 40 of the 50 past the end fit.
	if n, err := f.WriteAt(make([]byte, 60), 50); n != 50 || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("WriteAt 60 at 50 with 40 free = %d, %v; want 50, ENOSPC", n, err)
	}
	if got := efs.Free(); got != 0 {
		t.Fatalf("free after filling = %d", got)
	}
	if err := f.Preallocate(200); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Preallocate on a full disk = %v, want ENOSPC", err)
	}
	if fi, _ := f.Stat(); fi.Size() != 100 {
		t.Fatalf("size after refused preallocation = %d, want 100", fi.Size())
	}
	if err := f.Truncate(30); err != nil {
		t.Fatal(err)
	}
	if sp, ok := vfs.SpaceOf(efs, "/d"); !ok || sp.Free != 70 {
		t.Fatalf("Space after truncating 100 to 30 = %+v, %v; want 70 free", sp, ok)
	}
	if err := f.Preallocate(70); err != nil {
		t.Fatalf("Preallocate within the budget: %v", err)
	}
	f.Close()
	if err := efs.Remove("/d/x"); err != nil {
		t.Fatal(err)
	}
	if got := efs.Free(); got != 100 {
		t.Fatalf("free after removing the 70-byte file = %d, want 100", got)
	}
	if _, ok := vfs.SpaceOf(vfs.NewMem(), "/"); ok {
		t.Errorf("MemFS claims to know its free space")
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		64 << 20: "64 MiB", 1 << 20: "1.0 MiB", 10 << 30: "10 GiB"} {
		if got := vfs.FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
