package logtool

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"zabd/log"
	"zabd/snapshot"
	"zabd/tools/logread"
	"zabd/tree"
)

// ReplayOptions say which past state Replay rebuilds.
type ReplayOptions struct {
	// To is the last txn to apply: a zxid (the state right after it; a
	// zxid with no txn of its own, as past an epoch's end, means the last
	// txn before it), or a time (the state after the last txn stamped at
	// or before it). Zero: the end of the log.
	To Bound
	// Skipped, if set, is told of each snapshot that could have served
	// but did not read back whole (an older one is used instead).
	Skipped func(s logread.Snapshot, err error)
}

// ReplayResult says how Replay rebuilt the state.
type ReplayResult struct {
	// Zxid is the state's last txn, Time its stamp (zero for a state
	// before any txn).
	Zxid log.Zxid
	Time time.Time
	// Snapshot is the file the state started from ("" for the log from
	// its beginning), StartZxid and EndZxid its fuzzy walk's bounds.
	Snapshot           string
	StartZxid, EndZxid log.Zxid
	// Replayed counts the txns applied over the snapshot.
	Replayed int
	// LogFirst and LogLast are the first and last zxids of the log that
	// were read; More says the log goes on after the target (LogLast is
	// then the first txn past it), otherwise LogLast is its end.
	LogFirst, LogLast log.Zxid
	More              bool
}

// ErrBeforeHistory matches a target that no snapshot and no log record
// can reach: the log was purged below it, or it is before the first txn.
var ErrBeforeHistory = errors.New("logtool: the state asked for is older than what the data dir holds")

// ErrPastEnd matches a zxid target beyond the log's last txn.
var ErrPastEnd = errors.New("logtool: the state asked for is newer than the log")

// Replay rebuilds the tree exactly as it was after the txn o.To names:
// from the newest snapshot whose fuzzy walk ended at or before it (its
// txns replayed from the walk's start, as zabd's recovery does), or from
// the log alone when the log holds the whole history, then the log up
// to the target. Nothing under d is written.
func Replay(d *logread.DataDir, o ReplayOptions) (*tree.Tree, ReplayResult, error) {
	var res ReplayResult
	target := o.To.Zxid
	if !o.To.Time.IsZero() {
		z, err := lastTxnAtOrBefore(d, o.To.Time, &res)
		if err != nil {
			return nil, res, err
		}
		target = z
	}
	snaps, err := d.Snapshots()
	if err != nil {
		return nil, res, err
	}
	t := (*tree.Tree)(nil)
	for i := len(snaps) - 1; i >= 0 && t == nil; i-- {
		s := snaps[i]
		m, err := d.SnapshotMeta(s)
		if err == nil && !usableFor(m, target) {
			continue
		}
		var st *tree.Tree
		if err == nil {
			st, m, err = d.LoadSnapshot(s)
		}
		if err != nil {
			if o.Skipped != nil {
				o.Skipped(s, err)
			}
			continue
		}
		t, res.Snapshot, res.StartZxid, res.EndZxid = st, s.Path, m.StartZxid, m.EndZxid
	}
	if t == nil {
		mk, err := d.Markers()
		if err != nil {
			return nil, res, err
		}
		if mk.PurgedBelow > 1 {
			return nil, res, fmt.Errorf("%w: the log was purged below %v and no snapshot ends at or before %v", ErrBeforeHistory, mk.PurgedBelow, targetString(target))
		}
		t = tree.New(tree.Config{})
	}
	// A snapshot's tree stands at its walk's start: every txn after it is
	// applied again (applying a txn the fuzzy walk already caught is how
	// recovery works too).
	from := log.Zxid(t.LastZxid()) + 1
	pastTarget := false
	sum, err := d.Records(from, func(r logread.Record) error {
		if target != 0 && r.Zxid > target {
			pastTarget = true
			return errStop
		}
		txn, err := tree.DecodeTxn(r.Data)
		if err != nil {
			return fmt.Errorf("logtool: replay: txn at zxid %v (%s offset %d) does not decode: %w", r.Zxid, r.File, r.Offset, err)
		}
		t.Replay(txn)
		res.Replayed++
		res.Time = time.UnixMilli(txn.Time)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, res, err
	}
	if res.LogFirst == 0 {
		res.LogFirst = sum.First
	}
	res.LogLast = max(res.LogLast, sum.Last)
	res.More = pastTarget || res.LogLast > log.Zxid(t.LastZxid())
	res.Zxid = log.Zxid(t.LastZxid())
	if target != 0 && o.To.Time.IsZero() && !pastTarget && res.Zxid < target {
		return nil, res, fmt.Errorf("%w: the log ends at %v, before %v", ErrPastEnd, res.Zxid, target)
	}
	return t, res, nil
}

func targetString(z log.Zxid) string {
	if z == 0 {
		return "the end of the log"
	}
	return z.String()
}

// usableFor reports whether a snapshot can stand for the state at z (0:
// the end of the log): its walk ended at or before z. A version 1
// snapshot does not record where its walk ended, so it never is.
func usableFor(m snapshot.Meta, z log.Zxid) bool {
	if z == 0 {
		return m.EndKnown()
	}
	return m.UsableFor(z)
}

// lastTxnAtOrBefore finds the last txn stamped at or before at.
func lastTxnAtOrBefore(d *logread.DataDir, at time.Time, res *ReplayResult) (log.Zxid, error) {
	ms := at.UnixMilli()
	var found log.Zxid
	sum, err := d.Records(0, func(r logread.Record) error {
		txn, err := tree.DecodeTxn(r.Data)
		if err != nil {
			return fmt.Errorf("logtool: txn at zxid %v (%s offset %d) does not decode: %w", r.Zxid, r.File, r.Offset, err)
		}
		if txn.Time > ms {
			return errStop
		}
		found = r.Zxid
		return nil
	})
	res.LogFirst = sum.First
	res.LogLast = sum.Last
	if err != nil && !errors.Is(err, errStop) {
		return 0, err
	}
	if found == 0 {
		if sum.Records == 0 {
			return 0, fmt.Errorf("%w: the log holds no txn", ErrBeforeHistory)
		}
		return 0, fmt.Errorf("%w: the first txn in the log (%v) is later than %s", ErrBeforeHistory, sum.First, at.UTC().Format(time.RFC3339Nano))
	}
	return found, nil
}

// PrintOptions configure PrintTree.
type PrintOptions struct {
	JSON bool // one object per node (NodeJSON with its data) instead of text
	// DataLimit bounds the bytes of each node's data shown as text
	// (0: 256); JSON always carries the whole data.
	DataLimit int
}

// ReplayNodeJSON is one znode of PrintTree's JSON output: the snapshot
// dump's fields and the data (base64, null for a node created with no
// data).
type ReplayNodeJSON struct {
	NodeJSON
	Data []byte `json:"data"`
}

// PrintTree writes every znode of t in path order (a parent before its
// children, as ls -R lists them) with its data and stat: one line each,
// or one JSON object each.
func PrintTree(w io.Writer, t *tree.Tree, o PrintOptions) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	limit := o.DataLimit
	if limit <= 0 {
		limit = 256
	}
	enc := json.NewEncoder(bw)
	var err error
	t.Walk("", func(p string, n *tree.Node) bool {
		s := n.Stat()
		if o.JSON {
			err = enc.Encode(ReplayNodeJSON{NodeJSON: NodeJSON{Record: "node", Path: p, Kind: n.Kind.String(),
				Czxid: log.Zxid(s.Czxid).String(), Mzxid: log.Zxid(s.Mzxid).String(), Pzxid: log.Zxid(s.Pzxid).String(),
				Ctime: FormatTime(s.Ctime), Mtime: FormatTime(s.Mtime), Version: s.Version, Cversion: s.Cversion,
				Aversion: s.Aversion, EphemeralOwner: FormatSession(s.EphemeralOwner), DataLength: s.DataLength,
				NumChildren: s.NumChildren, ACL: formatACL(n.ACL)}, Data: n.Data})
			return err == nil
		}
		data := "null"
		if n.Data != nil {
			shown := n.Data
			if len(shown) > limit {
				shown = shown[:limit]
			}
			data = strconv.Quote(string(shown))
			if len(shown) < len(n.Data) {
				data += fmt.Sprintf("...(%d bytes)", len(n.Data))
			}
		}
		_, err = fmt.Fprintf(bw, "%s\n  data=%s\n  kind=%s czxid=%v mzxid=%v pzxid=%v ctime=%s mtime=%s version=%d cversion=%d aversion=%d ephemeralOwner=%s dataLength=%d numChildren=%d acl=%s\n",
			p, data, n.Kind, log.Zxid(s.Czxid), log.Zxid(s.Mzxid), log.Zxid(s.Pzxid), FormatTime(s.Ctime), FormatTime(s.Mtime),
			s.Version, s.Cversion, s.Aversion, FormatSession(s.EphemeralOwner), s.DataLength, s.NumChildren, joinACL(n.ACL))
		return err == nil
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// WriteSnapshot writes t as a zabd snapshot file at path (written as
// path.tmp, synced, renamed), which zabd restores like its own and
// `zabctl snapshot dump` reads. An existing file at path is never
// replaced.
func WriteSnapshot(path string, t *tree.Tree) (snapshot.Meta, error) {
	if _, err := os.Lstat(path); err == nil {
		return snapshot.Meta{}, fmt.Errorf("logtool: %s exists; not replaced", path)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return snapshot.Meta{}, fmt.Errorf("logtool: %w", err)
	}
	m, err := snapshot.Write(f, snapshot.Still(t), snapshot.Options{})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return m, fmt.Errorf("logtool: writing the snapshot %s: %w", path, err)
	}
	return m, nil
}
