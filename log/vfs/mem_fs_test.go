package vfs_test

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/log/vfs"
)

// TestCrashClone checks what a simulated power cut keeps. Each step list
// runs on a fresh MemFS with directory /d; want maps names in /d to their
// content after the crash (absent: file gone).
func TestCrashClone(t *testing.T) {
	type step func(t *testing.T, m *vfs.MemFS)
	create := func(name, data string, syncFile bool) step {
		return func(t *testing.T, m *vfs.MemFS) {
			f, err := m.Create("/d/" + name)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte(data))
			if syncFile {
				if err := f.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			f.Close()
		}
	}
	appendTo := func(name, data string, syncFile bool) step {
		return func(t *testing.T, m *vfs.MemFS) {
			f, err := m.OpenAppend("/d/" + name)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte(data))
			if syncFile {
				f.Sync()
			}
			f.Close()
		}
	}
	truncate := func(name string, size int64, syncFile bool) step {
		return func(t *testing.T, m *vfs.MemFS) {
			f, err := m.OpenAppend("/d/" + name)
			if err != nil {
				t.Fatal(err)
			}
			f.Truncate(size)
			if syncFile {
				f.Sync()
			}
			f.Close()
		}
	}
	syncDir := func(t *testing.T, m *vfs.MemFS) {
		if err := vfs.SyncDir(m, "/d"); err != nil {
			t.Fatal(err)
		}
	}
	rename := func(from, to string) step {
		return func(t *testing.T, m *vfs.MemFS) {
			if err := m.Rename("/d/"+from, "/d/"+to); err != nil {
				t.Fatal(err)
			}
		}
	}
	remove := func(name string) step {
		return func(t *testing.T, m *vfs.MemFS) {
			if err := m.Remove("/d/" + name); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name  string
		steps []step
		want  map[string]string
	}{
		{"synced file, unsynced dir entry: gone", []step{create("a", "x", true)}, map[string]string{}},
		{"synced dir entry, unsynced data: empty", []step{create("a", "x", false), syncDir}, map[string]string{"a": ""}},
		{"both synced", []step{create("a", "x", true), syncDir}, map[string]string{"a": "x"}},
		{"unsynced append lost", []step{create("a", "x", true), syncDir, appendTo("a", "yz", false)}, map[string]string{"a": "x"}},
		{"synced append kept", []step{create("a", "x", true), syncDir, appendTo("a", "yz", true)}, map[string]string{"a": "xyz"}},
		{"unsynced truncate undone", []step{create("a", "xyz", true), syncDir, truncate("a", 1, false)}, map[string]string{"a": "xyz"}},
		{"synced truncate kept", []step{create("a", "xyz", true), syncDir, truncate("a", 1, true)}, map[string]string{"a": "x"}},
		{"truncate then append, synced", []step{create("a", "xyz", true), syncDir, truncate("a", 1, false), appendTo("a", "Q", true)}, map[string]string{"a": "xQ"}},
		{"unsynced rename undone", []step{create("a", "x", true), syncDir, rename("a", "b")}, map[string]string{"a": "x"}},
		{"synced rename kept", []step{create("a", "x", true), syncDir, rename("a", "b"), syncDir}, map[string]string{"b": "x"}},
		{"unsynced remove undone", []step{create("a", "x", true), syncDir, remove("a")}, map[string]string{"a": "x"}},
		{"synced remove kept", []step{create("a", "x", true), syncDir, remove("a"), syncDir}, map[string]string{}},
		{"data synced after remove still there if removal unsynced", []step{create("a", "x", false), syncDir, remove("a")}, map[string]string{"a": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := vfs.NewMem()
			if err := m.MkdirAll("/d", 0o755); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.steps {
				s(t, m)
			}
			c := m.CrashClone(vfs.CrashOptions{})
			got := map[string]string{}
			names, err := c.List("/d")
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				b, err := vfs.ReadFile(c, "/d/"+n)
				if err != nil {
					t.Fatal(err)
				}
				got[n] = string(b)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("after crash (-want +got):\n%s", d)
			}
			// A clone is durable as a whole: crashing it again changes nothing.
			if again := c.CrashClone(vfs.CrashOptions{Torn: true, Seed: 1}); !sameTree(t, c, again) {
				t.Errorf("crash of a crash clone lost data")
			}
		})
	}
}

func sameTree(t *testing.T, a, b *vfs.MemFS) bool {
	an, _ := a.List("/d")
	bn, _ := b.List("/d")
	if !cmp.Equal(an, bn) {
		return false
	}
	for _, n := range an {
		x, _ := vfs.ReadFile(a, "/d/"+n)
		y, _ := vfs.ReadFile(b, "/d/"+n)
		if !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}

// TestCrashCloneTorn: with Torn, unsynced appends leave a seed-chosen
// prefix (possibly partly zeroed) after the synced bytes; the same seed
// gives the same result; overwrites below the synced length are not torn.
func TestCrashCloneTorn(t *testing.T) {
	synced := []byte("SYNCED:")
	extra := []byte("abcdefghijklmnopqrstuvwxyz")
	m := vfs.NewMem()
	if err := vfs.WriteFile(m, "/f", synced); err != nil {
		t.Fatal(err)
	}
	f, _ := m.OpenAppend("/f")
	f.Write(extra)
	lengths := map[int]bool{}
	for seed := uint64(0); seed < 100; seed++ {
		c := m.CrashClone(vfs.CrashOptions{Torn: true, Seed: seed})
		got, err := vfs.ReadFile(c, "/f")
		if err != nil {
			t.Fatal(err)
		}
		again, _ := vfs.ReadFile(m.CrashClone(vfs.CrashOptions{Torn: true, Seed: seed}), "/f")
		if !bytes.Equal(got, again) {
			t.Fatalf("seed %d: not deterministic: %q vs %q", seed, got, again)
		}
		if !bytes.HasPrefix(got, synced) || len(got) > len(synced)+len(extra) {
			t.Fatalf("seed %d: got %q", seed, got)
		}
		tail := got[len(synced):]
		for i, c := range tail {
			if c != extra[i] && c != 0 {
				t.Fatalf("seed %d: byte %d of torn tail is %q: neither written nor zero", seed, i, c)
			}
		}
		lengths[len(tail)] = true
	}
	if len(lengths) < 5 {
		t.Errorf("100 seeds gave only %d distinct torn lengths", len(lengths))
	}
	if got, _ := vfs.ReadFile(m.CrashClone(vfs.CrashOptions{}), "/f"); !bytes.Equal(got, synced) {
		t.Errorf("without Torn got %q, want %q", got, synced)
	}
}
