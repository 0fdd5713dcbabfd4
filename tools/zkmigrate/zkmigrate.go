// Package zkmigrate moves a data set between Apache ZooKeeper's data dir
// and zabd's, both ways, so nobody is locked in.
//
// Import loads a ZooKeeper 3.5-3.9 data dir as ZooKeeper itself would
// (the newest snapshot that reads back whole, then every txn after its
// zxid from the txn logs) and writes a new zabd data dir holding the same
// tree, stats, sessions and zxids: the converted txns in its log (so the
// log tools can dump and audit them) and a zabd snapshot of the final
// state. Export replays a zabd data dir to its end and writes a ZooKeeper
// snapshot of that state, named for its last zxid, into a new version-2
// dir, which ZooKeeper 3.8 starts from.
//
// Invariants: the source is only read; the destination must be missing
// or empty; what is written is verified before success is reported (an
// import replays the new zabd dir and compares its tree with the one
// loaded from ZooKeeper's; an export reads its snapshot back).
package zkmigrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"zabd/engine"
	"zabd/engine/datadir"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/snapshot"
	"zabd/tools/logread"
	"zabd/tools/logtool"
	"zabd/tools/zkdata"
	"zabd/tree"
)

// ErrNotEmpty matches a refusal of a destination with files in it.
var ErrNotEmpty = datadir.ErrNotEmpty

// errStopped ends a snapshot read the tree side gave up on.
var errStopped = errors.New("zkmigrate: stopped")

// ErrNoData matches a ZooKeeper dir with neither a snapshot nor a log.
var ErrNoData = errors.New("zkmigrate: no ZooKeeper snapshot or txn log found")

// versionDir finds the version-2 directory of a ZooKeeper dataDir (or
// dataLogDir); dir itself may be it.
func versionDir(dir string) string {
	if st, err := os.Stat(filepath.Join(dir, "version-2")); err == nil && st.IsDir() {
		return filepath.Join(dir, "version-2")
	}
	return dir
}

type zkFile struct {
	path string
	zxid log.Zxid
}

func listFiles(dir, prefix string) ([]zkFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("zkmigrate: %w", err)
	}
	var out []zkFile
	for _, e := range ents {
		if z, ok := zkdata.ParseName(e.Name(), prefix); ok && !e.IsDir() {
			out = append(out, zkFile{filepath.Join(dir, e.Name()), z})
		}
	}
	slices.SortFunc(out, func(a, b zkFile) int {
		switch {
		case a.zxid < b.zxid:
			return -1
		case a.zxid > b.zxid:
			return 1
		}
		return 0
	})
	return out, nil
}

// Loaded is what Load read.
type Loaded struct {
	Snapshot     string // the snapshot used, "" if none
	SnapshotZxid log.Zxid
	Skipped      []string // newer snapshots that did not read back whole, and why
	Logs         []string // the txn logs read
	Txns         int      // txns applied after the snapshot
	Last         log.Zxid
	Torn         string // a txn log that ends in a torn record (dropped, as ZooKeeper does)
	// Orphans counts ephemerals dropped because their session is not
	// among the sessions (ZooKeeper drops them when it loads).
	Orphans int
}

// Load builds the tree a ZooKeeper server would start with from dataDir
// (and logDir, "" for the same), calling each txn applied after the
// snapshot with fn (nil: none).
func Load(dataDir, logDir string, cfg tree.Config, fn func(tree.Txn) error) (*tree.Tree, Loaded, error) {
	var res Loaded
	if logDir == "" {
		logDir = dataDir
	}
	snapDir, txnDir := versionDir(dataDir), versionDir(logDir)
	snaps, err := listFiles(snapDir, "snapshot")
	if err != nil {
		return nil, res, err
	}
	logs, err := listFiles(txnDir, "log")
	if err != nil {
		return nil, res, err
	}
	if len(snaps) == 0 && len(logs) == 0 {
		return nil, res, fmt.Errorf("%w in %s", ErrNoData, snapDir)
	}
	t := tree.New(cfg)
	for i := len(snaps) - 1; i >= 0; i-- {
		s := snaps[i]
		cand := tree.New(cfg)
		info, err := readSnapshotFile(s.path, cand)
		if err != nil {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %v", filepath.Base(s.path), err))
			continue
		}
		t = cand
		res.Snapshot, res.SnapshotZxid = s.path, info.Zxid
		t.SetLastZxid(int64(info.Zxid))
		break
	}
	if res.Snapshot == "" && len(snaps) > 0 {
		return nil, res, fmt.Errorf("zkmigrate: no snapshot in %s reads back whole: %v", snapDir, res.Skipped)
	}
	// The logs to read: the last one starting at or before the snapshot's
	// zxid + 1, and every later one.
	first := 0
	for i, l := range logs {
		if l.zxid <= res.SnapshotZxid+1 {
			first = i
		}
	}
	if len(logs) > 0 && logs[first].zxid > res.SnapshotZxid+1 {
		return nil, res, fmt.Errorf("zkmigrate: the txn logs in %s begin at %v, after the snapshot's zxid %v: txns are missing", txnDir, logs[first].zxid, res.SnapshotZxid)
	}
	last := res.SnapshotZxid
	for i, l := range logs[first:] {
		f, err := os.Open(l.path)
		if err != nil {
			return nil, res, fmt.Errorf("zkmigrate: %w", err)
		}
		sum, err := zkdata.ReadLog(l.path, f, func(txn tree.Txn) error {
			z := log.Zxid(txn.Zxid)
			if z <= res.SnapshotZxid {
				return nil
			}
			if z <= last {
				return fmt.Errorf("zkmigrate: %s: zxid %v after %v: out of order", l.path, z, last)
			}
			last = z
			fixParentCversion(t, &txn)
			t.Replay(txn)
			res.Txns++
			if fn != nil {
				return fn(txn)
			}
			return nil
		})
		f.Close()
		res.Logs = append(res.Logs, l.path)
		if err != nil {
			return nil, res, err
		}
		if sum.Torn {
			if first+i != len(logs)-1 {
				return nil, res, fmt.Errorf("zkmigrate: %s ends in a torn record at offset %d, but a newer log follows it: damage", l.path, sum.TornOffset)
			}
			res.Torn = fmt.Sprintf("%s at offset %d", l.path, sum.TornOffset)
		}
	}
	res.Last = last
	res.Orphans = dropOrphanEphemerals(t)
	return t, res, nil
}

// dropOrphanEphemerals deletes, as ZooKeeper does when it loads its data,
// the ephemerals whose session is not among the sessions (a fuzzy
// snapshot can hold one whose session ended later): locally, each
// parent's pzxid raised to the last zxid, no txn.
func dropOrphanEphemerals(t *tree.Tree) int {
	sessions := t.Sessions()
	owners := map[int64]bool{}
	t.Walk("", func(_ string, n *tree.Node) bool {
		if n.Kind == tree.KindEphemeral {
			if _, live := sessions[n.Owner]; !live {
				owners[n.Owner] = true
			}
		}
		return true
	})
	dropped := 0
	last := t.LastZxid()
	for owner := range owners {
		dropped += len(t.Ephemerals(owner))
		// A closeSession at the last zxid, applied as if new: Apply
		// deletes the session's ephemerals and raises their parents'
		// pzxid to it, as ZooKeeper's killSession does.
		t.SetLastZxid(last - 1)
		t.ApplyResult(tree.Txn{TxnHeader: tree.TxnHeader{Session: owner, Zxid: last, Type: tree.OpCloseSession}})
	}
	t.SetLastZxid(last)
	return dropped
}

// fixParentCversion fills a 3.3 CreateTxnV0's parent cversion (-1) as
// ZooKeeper does: the parent's, plus one.
func fixParentCversion(t *tree.Tree, txn *tree.Txn) {
	fix := func(s *tree.Txn) {
		switch s.Type {
		case tree.OpCreate, tree.OpCreate2:
			if s.ParentCversion == -1 {
				if n, ok := t.Get(parentOf(s.Path)); ok {
					s.ParentCversion = n.Cversion + 1
				}
			}
		}
	}
	fix(txn)
	for i := range txn.Txns {
		fix(&txn.Txns[i])
	}
}

func parentOf(p string) string {
	i := bytes.LastIndexByte([]byte(p), '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func readSnapshotFile(path string, t *tree.Tree) (zkdata.SnapshotInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return zkdata.SnapshotInfo{}, err
	}
	defer f.Close()
	// Decoding on this goroutine, the tree on another: two cores at work
	// on a large snapshot. Batches bound what is in flight.
	const batch = 1024
	out := make(chan []zkdata.SnapshotNode, 8)
	stop := make(chan struct{})
	var putErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for nodes := range out {
			if putErr != nil {
				continue
			}
			for _, n := range nodes {
				if err := t.PutNode(n.Path, n.Node); err != nil {
					putErr = fmt.Errorf("zkmigrate: %s: %w", path, err)
					close(stop)
					break
				}
			}
		}
	}()
	cur := make([]zkdata.SnapshotNode, 0, batch)
	info, err := zkdata.ReadSnapshot(path, f, func(n zkdata.SnapshotNode) error {
		cur = append(cur, n)
		if len(cur) == batch {
			select {
			case out <- cur:
			case <-stop:
				return errStopped
			}
			cur = make([]zkdata.SnapshotNode, 0, batch)
		}
		return nil
	})
	if err == nil && len(cur) > 0 {
		select {
		case out <- cur:
		case <-stop:
		}
	}
	close(out)
	<-done
	if putErr != nil {
		return info, putErr
	}
	if err != nil {
		return info, err
	}
	for id, to := range info.Sessions {
		t.PutSession(id, to)
	}
	return info, nil
}

// ImportResult says what Import did.
type ImportResult struct {
	Loaded
	Znodes, Sessions int
	Took             time.Duration
}

// Import writes a new zabd data dir dst (engine kind) from the ZooKeeper
// data dir zkDataDir (and zkLogDir, "" for the same), then verifies it.
func Import(zkDataDir, zkLogDir, dst, kind string) (ImportResult, error) {
	var res ImportResult
	began := time.Now()
	if err := datadir.CheckNew(vfs.Default, dst); err != nil {
		return res, err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return res, fmt.Errorf("zkmigrate: %w", err)
	}
	lock, err := datadir.Acquire(dst, datadir.Options{Owner: "zabctl data import-zookeeper", WaitForExiting: -1})
	if err != nil {
		return res, fmt.Errorf("zkmigrate: %w", err)
	}
	defer lock.Release()
	eng, err := engine.Open(kind, dst, engine.Options{})
	if err != nil {
		return res, fmt.Errorf("zkmigrate: opening the %s engine in %s: %w", kind, dst, err)
	}
	var batch []log.Record
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := eng.Append(context.Background(), batch)
		batch = batch[:0]
		return err
	}
	cfg := tree.Config{ExtendedTypesEnabled: true}
	t, loaded, err := Load(zkDataDir, zkLogDir, cfg, func(txn tree.Txn) error {
		batch = append(batch, log.Record{Zxid: log.Zxid(txn.Zxid), Data: tree.AppendTxn(nil, txn)})
		if len(batch) >= 4096 {
			return flush()
		}
		return nil
	})
	res.Loaded = loaded
	if err == nil {
		err = flush()
	}
	if cerr := eng.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return res, err
	}
	store, err := engine.OpenSnapshotStore(vfs.Default, filepath.Join(dst, engine.SnapshotDirName))
	if err != nil {
		return res, err
	}
	if _, err := store.Save(func(w io.Writer) (log.Zxid, error) {
		m, err := snapshot.Write(w, snapshot.Still(t), snapshot.Options{})
		return m.StartZxid, err
	}); err != nil {
		return res, err
	}
	d := datadir.Open(vfs.Default, dst)
	if _, err := d.NextEpoch(log.Zxid(t.LastZxid())); err != nil {
		return res, fmt.Errorf("zkmigrate: recording the epoch: %w", err)
	}
	lock.Release()
	// Verify: the new dir replays to the same tree.
	nd, err := logread.Open(dst, logread.Options{Engine: kind})
	if err != nil {
		return res, err
	}
	back, _, err := logtool.Replay(nd, logtool.ReplayOptions{})
	if err != nil {
		return res, fmt.Errorf("zkmigrate: verifying %s: %w", dst, err)
	}
	if tree.StateDigest(back) != tree.StateDigest(t) {
		d := tree.FirstDifference(back, t)
		return res, fmt.Errorf("zkmigrate: verifying %s: its tree differs from the one loaded from ZooKeeper's: %s", dst, d)
	}
	res.Znodes, res.Sessions = t.NodeCount(), len(t.Sessions())
	res.Took = time.Since(began)
	return res, nil
}

// ExportResult says what Export did.
type ExportResult struct {
	Snapshot         string
	Zxid             log.Zxid
	Znodes, Sessions int
	Took             time.Duration
}

// Export writes a ZooKeeper data dir zkDataDir (missing or empty) whose
// version-2 holds one snapshot of src's state at the end of its log.
func Export(src *logread.DataDir, zkDataDir string) (ExportResult, error) {
	var res ExportResult
	began := time.Now()
	if err := datadir.CheckNew(vfs.Default, zkDataDir); err != nil {
		return res, err
	}
	t, rr, err := logtool.Replay(src, logtool.ReplayOptions{})
	if err != nil {
		return res, err
	}
	dir := filepath.Join(zkDataDir, "version-2")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, fmt.Errorf("zkmigrate: %w", err)
	}
	res.Zxid = rr.Zxid
	res.Snapshot = filepath.Join(dir, fmt.Sprintf("snapshot.%x", uint64(rr.Zxid)))
	f, err := os.OpenFile(res.Snapshot, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return res, fmt.Errorf("zkmigrate: %w", err)
	}
	err = zkdata.WriteSnapshot(f, zkdata.SnapshotWriter{Zxid: rr.Zxid, Sessions: t.Sessions(),
		Walk: func(fn func(string, *tree.Node) bool) { t.Walk("", fn) }})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = vfs.SyncDir(vfs.Default, dir)
	}
	if err != nil {
		return res, fmt.Errorf("zkmigrate: writing %s: %w", res.Snapshot, err)
	}
	// Read it back as ZooKeeper will, each node against the tree's.
	rf, err := os.Open(res.Snapshot)
	if err != nil {
		return res, fmt.Errorf("zkmigrate: %w", err)
	}
	defer rf.Close()
	info, err := zkdata.ReadSnapshot(res.Snapshot, rf, func(n zkdata.SnapshotNode) error {
		m, ok := t.Get(n.Path)
		if !ok || !samePersisted(&n.Node, &m) {
			return fmt.Errorf("zkmigrate: reading back %s: node %s differs from the state exported", res.Snapshot, n.Path)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("zkmigrate: reading back %s: %w", res.Snapshot, err)
	}
	if info.Nodes != t.NodeCount() || !maps.Equal(info.Sessions, t.Sessions()) {
		return res, fmt.Errorf("zkmigrate: reading back %s: %d znodes and %d sessions, the state has %d and %d", res.Snapshot, info.Nodes, len(info.Sessions), t.NodeCount(), len(t.Sessions()))
	}
	res.Znodes, res.Sessions = t.NodeCount(), len(t.Sessions())
	res.Took = time.Since(began)
	return res, nil
}

// samePersisted compares what a snapshot stores of a node (not the
// children count, which a reader derives).
func samePersisted(a, b *tree.Node) bool {
	return bytes.Equal(a.Data, b.Data) && (a.Data == nil) == (b.Data == nil) && slices.Equal(a.ACL, b.ACL) &&
		a.Czxid == b.Czxid && a.Mzxid == b.Mzxid && a.Pzxid == b.Pzxid && a.Ctime == b.Ctime && a.Mtime == b.Mtime &&
		a.Version == b.Version && a.Cversion == b.Cversion && a.Aversion == b.Aversion &&
		a.Kind == b.Kind && a.Owner == b.Owner && a.TTL == b.TTL
}
