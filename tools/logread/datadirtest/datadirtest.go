// Package datadirtest writes data dirs with a known history through the
// real engines (native, pebble, badger) and the real snapshot store, for
// the tests of the log tools. Test helper: it fails the test on any
// error.
package datadirtest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"zabd/engine"
	_ "zabd/engine/badger" // registers the engine
	"zabd/engine/datadir"
	_ "zabd/engine/pebble" // registers the engine
	"zabd/log"
	"zabd/log/vfs"
	"zabd/snapshot"
	"zabd/tree"
)

// Base is the time stamp of History's first txn; txn i is stamped i
// seconds later.
var Base = time.Date(2026, 11, 22, 1, 40, 0, 0, time.UTC)

// Sessions of History.
const (
	S1 int64 = 0x1000a2b3c0001
	S2 int64 = 0x1000a2b3c0002
	S3 int64 = 0x2000a2b3c0001
)

// History is a known sequence of txns over two epochs, every type a
// client can cause, a multi and a failed multi among them:
//
//	epoch 1: sessionSecret; createSession S1; create /app; create /app/eph
//	(ephemeral of S1); createSession S2; setData /app; multi by S2 [create
//	/app/m1, setData /app, check /app, delete /app/eph]; setACL /app;
//	create /apple; closeSession S1
//	epoch 2: createSession S3; createContainer /jobs; createTTL /jobs/t;
//	multi by S3 [error, error] (a failed multi); delete /apple; create2
//	/app/m1/x; closeSession S2
func History() []tree.Txn {
	open := tree.OpenACLUnsafe
	var txns []tree.Txn
	add := func(epoch, counter uint32, sess int64, t tree.Txn) {
		t.Zxid = int64(log.MakeZxid(epoch, counter))
		t.Session = sess
		t.Time = Base.Add(time.Duration(len(txns)) * time.Second).UnixMilli()
		txns = append(txns, t)
	}
	create := func(op tree.Op, path, data string, kind tree.NodeKind, pcv int32) tree.Txn {
		t := tree.Txn{Path: path, Data: []byte(data), ACL: open, Kind: kind, ParentCversion: pcv}
		t.Type = op
		if kind == tree.KindTTL {
			t.TTL = 60000
		}
		return t
	}
	op := func(o tree.Op, t tree.Txn) tree.Txn { t.Type = o; return t }
	add(1, 1, 0, op(tree.OpSessionSecret, tree.Txn{Data: []byte("0123456789abcdef0123456789abcdef")}))
	add(1, 2, S1, op(tree.OpCreateSession, tree.Txn{Timeout: 30000}))
	add(1, 3, S1, create(tree.OpCreate, "/app", "hello", tree.KindPersistent, 1))
	add(1, 4, S1, create(tree.OpCreate, "/app/eph", "e", tree.KindEphemeral, 1))
	add(1, 5, S2, op(tree.OpCreateSession, tree.Txn{Timeout: 10000}))
	add(1, 6, S2, op(tree.OpSetData, tree.Txn{Path: "/app", Data: []byte("hello2"), Version: 1}))
	add(1, 7, S2, op(tree.OpMulti, tree.Txn{Txns: []tree.Txn{
		create(tree.OpCreate, "/app/m1", "m", tree.KindPersistent, 2),
		op(tree.OpSetData, tree.Txn{Path: "/app", Data: []byte("multi"), Version: 2}),
		op(tree.OpCheck, tree.Txn{Path: "/app", Version: 3}),
		op(tree.OpDelete, tree.Txn{Path: "/app/eph"}),
	}}))
	add(1, 8, S2, op(tree.OpSetACL, tree.Txn{Path: "/app", ACL: []tree.ACL{{Perms: tree.PermRead | tree.PermAdmin, ID: tree.AnyoneID}}, Version: 1}))
	add(1, 9, S2, create(tree.OpCreate, "/apple", "", tree.KindPersistent, 2))
	add(1, 10, S1, op(tree.OpCloseSession, tree.Txn{}))
	add(2, 1, S3, op(tree.OpCreateSession, tree.Txn{Timeout: 20000}))
	add(2, 2, S3, create(tree.OpCreateContainer, "/jobs", "", tree.KindContainer, 3))
	add(2, 3, S3, create(tree.OpCreateTTL, "/jobs/t", "ttl", tree.KindTTL, 1))
	add(2, 4, S3, op(tree.OpMulti, tree.Txn{Txns: []tree.Txn{
		op(tree.OpError, tree.Txn{Err: tree.CodeOK}),
		op(tree.OpError, tree.Txn{Err: tree.CodeNodeExists}),
	}}))
	add(2, 5, S3, op(tree.OpDelete, tree.Txn{Path: "/apple"}))
	add(2, 6, S2, create(tree.OpCreate2, "/app/m1/x", "x", tree.KindPersistent, 1))
	add(2, 7, S2, op(tree.OpCloseSession, tree.Txn{}))
	return txns
}

// Options say what Write puts beside the log.
type Options struct {
	// SnapshotsAt: a snapshot of the tree as of each of these zxids
	// (start = end = the zxid).
	SnapshotsAt []log.Zxid
	// CurrentEpoch is written to currentEpoch (0: the last txn's epoch).
	CurrentEpoch uint32
	// PurgedBelow, if set, is written to logPurgedBelow.
	PurgedBelow log.Zxid
	// SegmentBytes of the native log (default 256, so a few txns each).
	SegmentBytes int64
	// Skip: txns with these zxids are not written to the log (a gap); the
	// snapshots still hold them.
	Skip map[log.Zxid]bool
}

// Write writes txns into a new data dir at dir through the engine kind,
// and what o asks beside it, and closes everything.
func Write(t testing.TB, dir, kind string, txns []tree.Txn, o Options) {
	t.Helper()
	if o.SegmentBytes == 0 {
		o.SegmentBytes = 256
	}
	quiet := slog.New(slog.DiscardHandler)
	e, err := engine.Open(kind, dir, engine.Options{Small: true, Logger: quiet,
		Native: engine.NativeOptions{Log: log.Options{SegmentBytes: o.SegmentBytes}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, txn := range txns {
		z := log.Zxid(txn.Zxid)
		if o.Skip[z] {
			continue
		}
		// One append per txn, as the pipeline's group commit may do.
		if err := e.Append(context.Background(), []log.Record{{Zxid: z, Data: tree.AppendTxn(nil, txn)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if len(o.SnapshotsAt) > 0 {
		store, err := engine.OpenSnapshotStore(vfs.Default, filepath.Join(dir, engine.SnapshotDirName))
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range o.SnapshotsAt {
			tr := TreeAt(txns, at)
			if _, err := store.Save(func(w io.Writer) (log.Zxid, error) {
				m, err := snapshot.Write(w, snapshot.Still(tr), snapshot.Options{Now: func() time.Time { return Base }})
				return m.StartZxid, err
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	ce := o.CurrentEpoch
	if ce == 0 && len(txns) > 0 {
		ce = log.Zxid(txns[len(txns)-1].Zxid).Epoch()
	}
	WriteMarker(t, dir, datadir.CurrentEpochFile, uint64(ce))
	if o.PurgedBelow != 0 {
		WriteMarker(t, dir, datadir.PurgedBelowFile, uint64(o.PurgedBelow))
	}
}

// WriteMarker replaces a marker file's number.
func WriteMarker(t testing.TB, dir, name string, v uint64) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(strconv.FormatUint(v, 10)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TreeAt is the tree after applying every txn up to and including zxid at.
func TreeAt(txns []tree.Txn, at log.Zxid) *tree.Tree {
	tr := tree.New(tree.Config{ExtendedTypesEnabled: true})
	for _, txn := range txns {
		if log.Zxid(txn.Zxid) > at {
			break
		}
		tr.Apply(txn)
	}
	return tr
}

// Segments lists the native log's segment files of a data dir, oldest
// first, as paths.
func Segments(t testing.TB, dir string) []string {
	t.Helper()
	names, err := vfs.Default.List(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if _, ok := log.ParseSegmentName(n); ok {
			out = append(out, filepath.Join(dir, "log", n))
		}
	}
	if len(out) == 0 {
		t.Fatalf("no segment in %s", dir)
	}
	return out
}

// Zxid is txns' i-th zxid.
func Zxid(txns []tree.Txn, i int) log.Zxid { return log.Zxid(txns[i].Zxid) }
