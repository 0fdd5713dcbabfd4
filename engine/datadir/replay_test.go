package datadir

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/log"
	"zabd/tree"
)

type sliceIter struct {
	recs []log.Record
	i    int
	err  error
}

func (s *sliceIter) Next() bool {
	if s.i >= len(s.recs) {
		return false
	}
	s.i++
	return true
}
func (s *sliceIter) Record() log.Record { return s.recs[s.i-1] }
func (s *sliceIter) Err() error {
	if s.i >= len(s.recs) {
		return s.err
	}
	return nil
}

// logOf preps and applies n creates on a live tree and returns the records
// a pipeline would have logged, and the live tree.
func logOf(t *testing.T, n int) ([]log.Record, *tree.Tree) {
	t.Helper()
	live := tree.New(tree.Config{})
	p := tree.NewPending()
	var recs []log.Record
	for i := 1; i <= n; i++ {
		zxid := int64(1)<<32 | int64(i)
		req := tree.Request{Op: tree.OpCreate, Path: fmt.Sprintf("/n%04d", i), Data: []byte("v"), ACL: tree.OpenACLUnsafe}
		txn, err := live.Prep(p, req, tree.TxnHeader{Session: 1, Zxid: zxid, Time: int64(i), Type: req.Op})
		if err != nil {
			t.Fatal(err)
		}
		live.Apply(txn)
		p.Applied(zxid)
		recs = append(recs, log.Record{Zxid: log.Zxid(zxid), Data: tree.AppendTxn(nil, txn)})
	}
	return recs, live
}

func TestReplayEqualsLiveTree(t *testing.T) {
	recs, live := logOf(t, 3*replayBatch+7) // several batches and a partial one
	got := tree.New(tree.Config{})
	n, err := Replay(got, &sliceIter{recs: recs})
	if err != nil || n != len(recs) {
		t.Fatalf("Replay = %d, %v; want %d, nil", n, err, len(recs))
	}
	if d := cmp.Diff(live.DescribeTree(), got.DescribeTree()); d != "" {
		t.Fatalf("replayed tree differs (-live +replayed):\n%s", d)
	}
	// Replaying again over the same tree applies nothing: every zxid is at
	// or below its last.
	if n, err := Replay(got, &sliceIter{recs: recs}); err != nil || n != 0 {
		t.Fatalf("second Replay = %d, %v; want 0, nil", n, err)
	}
}

func TestReplayErrors(t *testing.T) {
	recs, _ := logOf(t, 300)
	bad := append([]log.Record(nil), recs...)
	bad[270] = log.Record{Zxid: bad[270].Zxid, Data: []byte{0xff, 0x00}}
	n, err := Replay(tree.New(tree.Config{}), &sliceIter{recs: bad})
	if !errors.Is(err, tree.ErrCorruptTxn) || n != 270 {
		t.Fatalf("undecodable txn: Replay = %d, %v; want 270 applied and ErrCorruptTxn", n, err)
	}
	ioErr := errors.New("disk on fire")
	n, err = Replay(tree.New(tree.Config{}), &sliceIter{recs: recs[:10], err: ioErr})
	if !errors.Is(err, ioErr) || n != 10 {
		t.Fatalf("iterator error: Replay = %d, %v; want 10 applied and the error", n, err)
	}
}
