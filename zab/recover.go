package zab

import (
	"fmt"

	"zabd/log"
	"zabd/tree"
)

// RecordIterator walks logged records in zxid order.
type RecordIterator interface {
	Next() bool
	Record() log.Record
	Err() error
}

// Replay applies every logged txn above the tree's last zxid, in order,
// and returns how many it applied. A record that does not decode is an
// error naming its zxid: the log's checksums passed, so it is a bug or a
// format mismatch, never something to skip.
func Replay(t *tree.Tree, it RecordIterator) (int, error) {
	n := 0
	for it.Next() {
		rec := it.Record()
		if int64(rec.Zxid) <= t.LastZxid() {
			continue
		}
		txn, err := tree.DecodeTxn(rec.Data)
		if err != nil {
			return n, fmt.Errorf("zab: replay: txn at zxid %s: %w", rec.Zxid, err)
		}
		t.Apply(txn)
		n++
	}
	if err := it.Err(); err != nil {
		return n, fmt.Errorf("zab: replay after %d txns: %w", n, err)
	}
	return n, nil
}
