package datadir

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

// replayBatch is how many decoded txns travel from the decoder to the
// applier at a time.
const replayBatch = 256

// Replay applies every logged txn above the tree's last zxid, in order,
// and returns how many it applied. Reading and decoding run on a second
// goroutine, one batch ahead of applying, so the two overlap. A record
// that does not decode is an error naming its zxid: the log's checksums
// passed, so it is a bug or a format mismatch, never something to skip.
//
// it is used only by that goroutine until Replay returns.
func Replay(t *tree.Tree, it RecordIterator) (int, error) {
	type decoded struct {
		txns []tree.Txn
		err  error
	}
	from := t.LastZxid()
	out := make(chan decoded, 2)
	stop := make(chan struct{})
	go func() {
		defer close(out)
		send := func(d decoded) bool {
			select {
			case out <- d:
				return true
			case <-stop:
				return false
			}
		}
		batch := make([]tree.Txn, 0, replayBatch)
		var last log.Zxid
		for it.Next() {
			rec := it.Record()
			last = rec.Zxid
			if int64(rec.Zxid) <= from {
				continue
			}
			txn, err := tree.DecodeTxn(rec.Data)
			if err != nil {
				send(decoded{txns: batch, err: fmt.Errorf("datadir: replay: txn at zxid %s: %w", rec.Zxid, err)})
				return
			}
			batch = append(batch, txn)
			if len(batch) == replayBatch {
				if !send(decoded{txns: batch}) {
					return
				}
				batch = make([]tree.Txn, 0, replayBatch)
			}
		}
		if err := it.Err(); err != nil {
			send(decoded{txns: batch, err: fmt.Errorf("datadir: replay: reading the log after zxid %s: %w", last, err)})
			return
		}
		send(decoded{txns: batch})
	}()
	n := 0
	for d := range out {
		for _, txn := range d.txns {
			t.Replay(txn)
			n++
		}
		if d.err != nil {
			close(stop)
			for range out {
			}
			return n, d.err
		}
	}
	return n, nil
}
