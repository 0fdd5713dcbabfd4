package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"zabd/log"
	"zabd/log/vfs"
	"zabd/log/vfs/errorfs"
	"zabd/snapshot"
	"zabd/snapshot/snapshottest"
	"zabd/tree"
)

// snapTree returns a small tree whose LastZxid is z.
func snapTree(t testing.TB, z log.Zxid) *tree.Tree {
	t.Helper()
	tr := tree.New(tree.Config{})
	if err := tr.PutNode("/n", tree.Node{Kind: tree.KindPersistent, Data: []byte(z.String()), ACL: tree.OpenACLUnsafe, Czxid: int64(z)}); err != nil {
		t.Fatal(err)
	}
	tr.PutSession(int64(z), 5000)
	tr.SetLastZxid(int64(z))
	return tr
}

func saveTree(s *SnapshotStore, tr *tree.Tree) (SnapshotInfo, error) {
	return s.Save(func(w io.Writer) (log.Zxid, error) {
		m, err := snapshot.Write(w, snapshot.Still(tr), snapshot.Options{Now: func() time.Time { return time.UnixMilli(1) }})
		return m.StartZxid, err
	})
}

func mustSave(t testing.TB, s *SnapshotStore, z log.Zxid) SnapshotInfo {
	t.Helper()
	info, err := saveTree(s, snapTree(t, z))
	if err != nil {
		t.Fatalf("save %v: %v", z, err)
	}
	return info
}

func listZxids(t testing.TB, s *SnapshotStore) []log.Zxid {
	t.Helper()
	infos, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var out []log.Zxid
	for _, i := range infos {
		out = append(out, i.StartZxid)
	}
	return out
}

func TestSnapshotStoreSaveListLoad(t *testing.T) {
	fs := vfs.NewMem()
	s, err := OpenSnapshotStore(fs, "/data/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	zs := []log.Zxid{0x100000005, 0x100000001, 0x200000003}
	for _, z := range zs {
		info := mustSave(t, s, z)
		if want := "/data/snapshot/" + SnapshotName(z); info.Path != want || info.StartZxid != z || info.Bytes == 0 {
			t.Errorf("saved %+v, want path %s", info, want)
		}
	}
	if err := vfs.WriteFile(fs, "/data/snapshot/notes.txt", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got, want := listZxids(t, s), []log.Zxid{0x200000003, 0x100000005, 0x100000001}; !cmp.Equal(got, want) {
		t.Errorf("List: got %v, want %v (newest first)", got, want)
	}
	infos, _ := s.List()
	for _, info := range infos {
		tr, m, err := s.Load(info, tree.Config{})
		if err != nil {
			t.Fatalf("load %s: %v", info.Path, err)
		}
		if want := snapTree(t, info.StartZxid).DescribeTree(); tr.DescribeTree() != want || m.StartZxid != info.StartZxid {
			t.Errorf("load %s: got\n%s\nwant\n%s", info.Path, tr.DescribeTree(), want)
		}
	}
	// Saving the same start zxid again replaces the file.
	mustSave(t, s, 0x200000003)
	if got := len(listZxids(t, s)); got != 3 {
		t.Errorf("after re-saving: %d snapshots, want 3", got)
	}
}

func TestSnapshotStoreLoadNewest(t *testing.T) {
	fs := vfs.NewMem()
	s, err := OpenSnapshotStore(fs, "/snap")
	if err != nil {
		t.Fatal(err)
	}
	tr, m, info, err := s.LoadNewest(tree.Config{}, nil)
	if err != nil || tr == nil || tr.NodeCount() != 4 || m.StartZxid != 0 || info.Path != "" {
		t.Fatalf("empty store: got %v nodes, %+v, %+v, %v; want an empty tree", tr.NodeCount(), m, info, err)
	}
	for _, z := range []log.Zxid{0x100000010, 0x100000020, 0x100000030} {
		mustSave(t, s, z)
	}
	corrupt := func(z log.Zxid, at int) {
		p := "/snap/" + SnapshotName(z)
		b, err := vfs.ReadFile(fs, p)
		if err != nil {
			t.Fatal(err)
		}
		b[at%len(b)] ^= 0x40
		fs.Remove(p)
		if err := vfs.WriteFile(fs, p, b); err != nil {
			t.Fatal(err)
		}
	}
	corrupt(0x100000030, 40)
	var skipped []string
	tr, m, info, err = s.LoadNewest(tree.Config{}, func(i SnapshotInfo, err error) {
		if !errors.Is(err, snapshot.ErrCorrupt) || !strings.Contains(err.Error(), i.Path) {
			t.Errorf("skip reason %v: want a corruption error naming %s", err, i.Path)
		}
		skipped = append(skipped, i.StartZxid.String())
	})
	if err != nil || m.StartZxid != 0x100000020 || info.StartZxid != 0x100000020 || tr.LastZxid() != 0x100000020 {
		t.Fatalf("newest corrupt: got %+v %+v %v, want the one at 0x100000020", m, info, err)
	}
	if want := []string{log.Zxid(0x100000030).String()}; !cmp.Equal(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}

	// A file renamed to another zxid does not pass for it.
	if err := fs.Rename("/snap/"+SnapshotName(0x100000010), "/snap/"+SnapshotName(0x100000011)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(SnapshotInfo{StartZxid: 0x100000011, Path: "/snap/" + SnapshotName(0x100000011)}, tree.Config{}); !errors.Is(err, snapshot.ErrCorrupt) {
		t.Errorf("misnamed snapshot: got %v, want a corruption error", err)
	}

	corrupt(0x100000020, 3)
	_, _, _, err = s.LoadNewest(tree.Config{}, nil)
	if !errors.Is(err, ErrNoValidSnapshot) || !errors.Is(err, snapshot.ErrCorrupt) {
		t.Errorf("all corrupt: got %v, want ErrNoValidSnapshot wrapping the corruption", err)
	}
}

func TestSnapshotStorePurge(t *testing.T) {
	s, err := OpenSnapshotStore(vfs.NewMem(), "/snap")
	if err != nil {
		t.Fatal(err)
	}
	if rm, oldest, err := s.Purge(3); err != nil || rm != nil || oldest.Path != "" {
		t.Errorf("purge of nothing: %v %v %v", rm, oldest, err)
	}
	for z := log.Zxid(1); z <= 5; z++ {
		mustSave(t, s, 0x100000000+z)
	}
	rm, oldest, err := s.Purge(2)
	if err != nil {
		t.Fatal(err)
	}
	var gotRm []log.Zxid
	for _, r := range rm {
		gotRm = append(gotRm, r.StartZxid)
	}
	if want := []log.Zxid{0x100000001, 0x100000002, 0x100000003}; !cmp.Equal(gotRm, want) {
		t.Errorf("removed %v, want %v (oldest first)", gotRm, want)
	}
	if oldest.StartZxid != 0x100000004 {
		t.Errorf("oldest kept %v, want 0x100000004", oldest.StartZxid)
	}
	if got, want := listZxids(t, s), []log.Zxid{0x100000005, 0x100000004}; !cmp.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	if _, _, err := s.Purge(0); err == nil {
		t.Error("Purge(0): want an error")
	}
}

// hookFS calls before(op, path) ahead of every mutating operation,
// including writes and syncs through its files.
type hookFS struct {
	vfs.FS
	before func(op, path string)
}

type hookFile struct {
	vfs.File
	fs   *hookFS
	name string
}

func (h *hookFS) Create(name string) (vfs.File, error) {
	h.before("create", name)
	f, err := h.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return &hookFile{File: f, fs: h, name: name}, nil
}

func (h *hookFS) OpenDir(name string) (vfs.File, error) {
	f, err := h.FS.OpenDir(name)
	if err != nil {
		return nil, err
	}
	return &hookFile{File: f, fs: h, name: name}, nil
}

func (h *hookFS) Rename(o, n string) error { h.before("rename", o); return h.FS.Rename(o, n) }
func (h *hookFS) Remove(name string) error { h.before("remove", name); return h.FS.Remove(name) }

func (f *hookFile) Write(p []byte) (int, error) { f.fs.before("write", f.name); return f.File.Write(p) }
func (f *hookFile) Sync() error                 { f.fs.before("sync", f.name); return f.File.Sync() }

// TestSnapshotStoreCrashDuringSave cuts the power before every operation
// of a Save (and after it): in every crash image the old snapshots are
// intact, no partial file is visible under a snapshot name once the store
// is reopened, and the new snapshot is either absent or whole.
func TestSnapshotStoreCrashDuringSave(t *testing.T) {
	mem := vfs.NewMem()
	var mu sync.Mutex
	var images []*vfs.MemFS
	var ops []string
	h := &hookFS{FS: mem, before: func(op, path string) {}}
	s, err := OpenSnapshotStore(h, "/snap")
	if err != nil {
		t.Fatal(err)
	}
	old := []log.Zxid{0x100000010, 0x100000020}
	for _, z := range old {
		mustSave(t, s, z)
	}
	// A big tree so the file is written in several writes.
	big := tree.New(tree.Config{})
	for i := 0; i < 3000; i++ {
		data := bytes.Repeat([]byte{byte(i), byte(i >> 8), byte(i * 7)}, 100)
		if err := big.PutNode(fmt.Sprintf("/n%05d", i), tree.Node{Kind: tree.KindPersistent, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	big.SetLastZxid(0x100000030)
	h.before = func(op, path string) {
		mu.Lock()
		defer mu.Unlock()
		images = append(images, mem.CrashClone(vfs.CrashOptions{Torn: true, Seed: uint64(len(images))}))
		ops = append(ops, op+" "+path)
	}
	if _, err := saveTree(s, big); err != nil {
		t.Fatal(err)
	}
	h.before = func(string, string) {}
	images = append(images, mem.CrashClone(vfs.CrashOptions{}))
	ops = append(ops, "after save")
	if len(images) < 6 {
		t.Fatalf("only %d crash points: %v", len(images), ops)
	}
	sawNew := false
	for i, img := range images {
		s2, err := OpenSnapshotStore(img, "/snap")
		if err != nil {
			t.Fatalf("crash before %q: reopen: %v", ops[i], err)
		}
		names, _ := img.List("/snap")
		for _, n := range names {
			if n == snapTmpName {
				t.Errorf("crash before %q: %s still visible after reopen", ops[i], n)
			}
		}
		got := listZxids(t, s2)
		switch {
		case cmp.Equal(got, []log.Zxid{0x100000020, 0x100000010}):
		case cmp.Equal(got, []log.Zxid{0x100000030, 0x100000020, 0x100000010}):
			sawNew = true
			tr, _, err := s2.Load(SnapshotInfo{StartZxid: 0x100000030, Path: "/snap/" + SnapshotName(0x100000030)}, tree.Config{})
			if err != nil || tr.DescribeTree() != big.DescribeTree() {
				t.Errorf("crash before %q: new snapshot visible but not whole: %v", ops[i], err)
			}
		default:
			t.Errorf("crash before %q: snapshots %v", ops[i], got)
		}
		for _, z := range old {
			if _, _, err := s2.Load(SnapshotInfo{StartZxid: z, Path: "/snap/" + SnapshotName(z)}, tree.Config{}); err != nil {
				t.Errorf("crash before %q: old snapshot %v: %v", ops[i], z, err)
			}
		}
	}
	if !sawNew {
		t.Errorf("the finished save is in no crash image")
	}
	t.Logf("%d crash points", len(images))
}

// TestSnapshotStoreSaveFailures injects a failure into each step of Save:
// it reports the error, leaves no temporary file and never replaces or
// damages an older snapshot.
func TestSnapshotStoreSaveFailures(t *testing.T) {
	rows := []struct {
		name       string
		rule       errorfs.Rule
		wantListed bool // the rename happened before the failure
	}{
		{"create", errorfs.Rule{Op: errorfs.OpCreate, PathContains: snapTmpName, Nth: 1}, false},
		{"first write", errorfs.Rule{Op: errorfs.OpWrite, PathContains: snapTmpName, Nth: 1}, false},
		{"torn write", errorfs.Rule{Op: errorfs.OpWrite, PathContains: snapTmpName, Nth: 1, Torn: true, TornAt: 100}, false},
		{"disk full", errorfs.Rule{Op: errorfs.OpWrite, PathContains: snapTmpName, Nth: 1, Err: errorfs.ErrNoSpace}, false},
		{"file sync", errorfs.Rule{Op: errorfs.OpSync, PathContains: snapTmpName, Nth: 1}, false},
		{"rename", errorfs.Rule{Op: errorfs.OpRename, PathContains: snapTmpName, Nth: 1}, false},
		{"dir sync", errorfs.Rule{Op: errorfs.OpSync, PathContains: "/snap", Nth: 2}, true},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			efs := errorfs.Wrap(vfs.NewMem())
			s, err := OpenSnapshotStore(efs, "/snap")
			if err != nil {
				t.Fatal(err)
			}
			mustSave(t, s, 0x100000001)
			big := snapTree(t, 0x100000002)
			for i := 0; i < 2000; i++ {
				big.PutNode(fmt.Sprintf("/m%d", i), tree.Node{Kind: tree.KindPersistent, Data: bytes.Repeat([]byte{byte(i)}, 200)})
			}
			efs.Add(tc.rule)
			_, err = saveTree(s, big)
			if err == nil || efs.Injected() == 0 {
				t.Fatalf("Save: got %v after %d injections, want the injected error", err, efs.Injected())
			}
			names, _ := efs.List("/snap")
			for _, n := range names {
				if n == snapTmpName {
					t.Errorf("%s left behind", n)
				}
			}
			want := []log.Zxid{0x100000001}
			if tc.wantListed {
				want = []log.Zxid{0x100000002, 0x100000001}
			}
			if got := listZxids(t, s); !cmp.Equal(got, want) {
				t.Errorf("snapshots %v, want %v", got, want)
			}
			if _, _, err := s.Load(SnapshotInfo{StartZxid: 0x100000001, Path: "/snap/" + SnapshotName(0x100000001)}, tree.Config{}); err != nil {
				t.Errorf("old snapshot: %v", err)
			}
			// The store works again once the fault is gone (each rule
			// fires once).
			mustSave(t, s, 0x100000003)
		})
	}
}

func TestSnapshotStoreRemovesStaleTmp(t *testing.T) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll("/snap", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := vfs.WriteFile(fs, "/snap/"+snapTmpName, []byte("half a snapshot")); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSnapshotStore(fs, "/snap")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat("/snap/" + snapTmpName); !vfs.IsNotExist(err) {
		t.Errorf("stale tmp: stat says %v, want not exist", err)
	}
	// And Save copes with one appearing meanwhile (Create is exclusive).
	if err := vfs.WriteFile(fs, "/snap/"+snapTmpName, []byte("again")); err != nil {
		t.Fatal(err)
	}
	mustSave(t, s, 0x100000001)
}

// saveSpan saves a snapshot whose walk began at start and ended at end:
// the tree's LastZxid moves from start to end between its chunks, as
// txns applied during a fuzzy walk move it.
func saveSpan(t testing.TB, s *SnapshotStore, start, end log.Zxid) SnapshotInfo {
	t.Helper()
	tr := snapTree(t, start)
	calls := 0
	src := func(fn func(*tree.Tree)) {
		calls++
		if calls == 2 {
			tr.SetLastZxid(int64(end))
		}
		fn(tr)
	}
	info, err := s.Save(func(w io.Writer) (log.Zxid, error) {
		m, err := snapshot.Write(w, src, snapshot.Options{ChunkNodes: 1, Now: func() time.Time { return time.UnixMilli(1) }})
		if err == nil && (m.StartZxid != start || m.EndZxid != end) {
			t.Fatalf("wrote [%v, %v], want [%v, %v]", m.StartZxid, m.EndZxid, start, end)
		}
		return m.StartZxid, err
	})
	if err != nil {
		t.Fatalf("save [%v, %v]: %v", start, end, err)
	}
	return info
}

// rewriteFile replaces a file of fs by f(its bytes).
func rewriteFile(t testing.TB, fs vfs.FS, p string, f func([]byte) []byte) {
	t.Helper()
	b, err := vfs.ReadFile(fs, p)
	if err != nil {
		t.Fatal(err)
	}
	b = f(b)
	if err := fs.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := vfs.WriteFile(fs, p, b); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotStoreUsableFor applies the rule "usable for the state at z
// only if the walk began and ended at or before z" to stored files,
// reading only their header and trailer: a snapshot that straddles z is
// not usable, nor is a version 1 one (its end is unknown), nor one whose
// trailer or header is damaged (with the error naming the file).
func TestSnapshotStoreUsableFor(t *testing.T) {
	fs := vfs.NewMem()
	s, err := OpenSnapshotStore(fs, "/snap")
	if err != nil {
		t.Fatal(err)
	}
	still := saveSpan(t, s, 0x100000010, 0x100000010)
	fuzzy := saveSpan(t, s, 0x100000020, 0x100000030)
	old := saveSpan(t, s, 0x100000040, 0x100000040)
	rewriteFile(t, fs, old.Path, func(b []byte) []byte {
		v1, err := snapshottest.Version1(b)
		if err != nil {
			t.Fatal(err)
		}
		return v1
	})
	badTrailer := saveSpan(t, s, 0x100000050, 0x100000050)
	rewriteFile(t, fs, badTrailer.Path, func(b []byte) []byte { b[len(b)-3] ^= 0x10; return b })
	misnamed := SnapshotInfo{StartZxid: 0x100000011, Path: "/snap/" + SnapshotName(0x100000011)}
	if err := vfs.WriteFile(fs, misnamed.Path, mustRead(t, fs, still.Path)); err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		name       string
		info       SnapshotInfo
		z          log.Zxid
		want       bool
		wantEnd    log.Zxid
		wantErr    string // "" for none; else a part of the message (the error matches snapshot.ErrCorrupt)
		wantUnread bool   // starts after z: no file read
	}{
		{"still walk, at its zxid", still, 0x100000010, true, 0x100000010, "", false},
		{"still walk, after", still, 0x100000025, true, 0x100000010, "", false},
		{"still walk, before", still, 0x10000000f, false, 0, "", true},
		{"straddles z", fuzzy, 0x100000025, false, 0x100000030, "", false},
		{"straddles z at its start", fuzzy, 0x100000020, false, 0x100000030, "", false},
		{"fuzzy walk, z at its end", fuzzy, 0x100000030, true, 0x100000030, "", false},
		{"version 1, z after its start", old, 0x200000000, false, 0, "", false},
		{"damaged trailer", badTrailer, 0x200000000, false, 0, "trailer checksum", false},
		{"start zxid not the file name's", misnamed, 0x200000000, false, 0, "file name says", false},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			m, usable, err := s.UsableFor(tc.info, tc.z)
			if usable != tc.want {
				t.Errorf("UsableFor(%v) of %s: got %v, want %v (meta %+v, err %v)", tc.z, tc.info.Path, usable, tc.want, m, err)
			}
			if tc.wantErr == "" && err != nil {
				t.Errorf("got error %v, want none", err)
			}
			if tc.wantErr != "" && (!errors.Is(err, snapshot.ErrCorrupt) || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), tc.info.Path)) {
				t.Errorf("got error %v, want a corruption error naming %s and mentioning %q", err, tc.info.Path, tc.wantErr)
			}
			if m.StartZxid != tc.info.StartZxid || m.EndZxid != tc.wantEnd || (m.Version == 0) != (tc.wantUnread || tc.wantErr != "") {
				t.Errorf("got meta %+v, want start %v end %v (read: %v)", m, tc.info.StartZxid, tc.wantEnd, !tc.wantUnread && tc.wantErr == "")
			}
		})
	}
	// Load agrees with ReadMeta on the end, and still loads a version 1
	// snapshot (recovery replays the whole log after it).
	for _, info := range []SnapshotInfo{still, fuzzy, old} {
		_, lm, err := s.Load(info, tree.Config{})
		if err != nil {
			t.Fatalf("load %s: %v", info.Path, err)
		}
		rm, err := s.ReadMeta(info)
		if err != nil || rm.EndZxid != lm.EndZxid || rm.Version != lm.Version || rm.Bytes != lm.Bytes {
			t.Errorf("%s: ReadMeta %+v %v, Load %+v", info.Path, rm, err, lm)
		}
	}
}

func mustRead(t testing.TB, fs vfs.FS, p string) []byte {
	t.Helper()
	b, err := vfs.ReadFile(fs, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
