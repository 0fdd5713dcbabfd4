package logtool

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"

	"zabd/tools/logread"
	"zabd/tree"
)

// DumpOptions configure Dump. The zero value prints every txn as text.
type DumpOptions struct {
	JSON   bool // one TxnJSON object per line instead of text
	Filter Filter
}

// DumpResult says what Dump read and printed.
type DumpResult struct {
	logread.Summary
	Printed int
	// Undecodable counts records that passed the filter's zxid range but
	// do not decode as txns (printed as such when no other filter is set).
	Undecodable int
	// FirstUndecodable is the first of them (zero if none).
	FirstUndecodable logread.Record
}

// errStop ends a read once past a zxid --to.
var errStop = errors.New("logtool: past the end of the range")

// Dump writes the txns of d that pass o.Filter to w, in zxid order: one
// line each (a multi adds one indented line per sub-op), or one JSON
// object per line. On damage it has first written every txn before it;
// the error says where (see logread.Records).
func Dump(w io.Writer, d *logread.DataDir, o DumpOptions) (DumpResult, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	var res DumpResult
	var line []byte
	tw := newTextWriter()
	f := &o.Filter
	sum, err := d.Records(f.startZxid(), func(r logread.Record) error {
		if f.pastEnd(r.Zxid) {
			return errStop
		}
		t, derr := tree.DecodeTxn(r.Data)
		if derr != nil {
			if r.Zxid >= f.From.Zxid && (f.To.Zxid == 0 || r.Zxid <= f.To.Zxid) {
				if res.Undecodable == 0 {
					res.FirstUndecodable = logread.Record{Record: r.Record, File: r.File, Offset: r.Offset}
					res.FirstUndecodable.Data = nil
				}
				res.Undecodable++
			}
			if !f.matchUndecodable(r.Zxid) {
				return nil
			}
		} else if !f.match(r.Zxid, &t) {
			return nil
		}
		line = line[:0]
		if derr == nil && !o.JSON {
			line = tw.appendTxn(line, &r, &t)
			res.Printed++
			_, err := bw.Write(line)
			return err
		}
		j := txnJSON(r, t, derr)
		if o.JSON {
			b, err := json.Marshal(&j)
			if err != nil {
				return err
			}
			line = append(append(line, b...), '\n')
		} else {
			line = appendText(line, &j)
		}
		res.Printed++
		_, err := bw.Write(line)
		return err
	})
	res.Summary = sum
	if errors.Is(err, errStop) {
		err = nil
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return res, err
}
