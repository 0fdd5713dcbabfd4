package logread

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"zabd/engine"
	"zabd/engine/badger"
	"zabd/engine/pebble"
	"zabd/log"
)

// Record is one record of the log and where it was found.
type Record struct {
	log.Record // Data is valid only until the callback returns
	// File is the segment holding the record, relative to the log dir
	// ("log/log.0000000100000001"), or for pebble and badger the store's
	// directory ("pebble", "badger"), whose records have no offset.
	File string
	// Offset is the record's frame's offset in File; -1 for pebble and
	// badger.
	Offset int64
}

// Summary says what Records read.
type Summary struct {
	Records     int      // handed out (zxid >= from)
	First, Last log.Zxid // of those, 0 if none
	Segments    int      // native: segment files found
	// TornTail (native): the last segment ends in bytes that are no whole
	// record: a write in flight beside a running server, or the torn
	// tail of a crash, which zabd cuts at its next start. Nothing is lost
	// that was acknowledged.
	TornTail   bool
	TornFile   string
	TornOffset int64
	TornBytes  int64
	TornReason string
	// Retries counts reads started again, after the last record handed
	// out, because one failed beside a running server.
	Retries int
}

// ErrBadgerLive matches Records' refusal of a badger store a running
// server has open; its message is one line naming what to do instead.
var ErrBadgerLive = errors.New("badger locks its directory while a server runs, so it cannot be read beside it: stop the server, or copy the data dir while it is stopped and read the copy")

// liveAttempts bounds the reads of a live dir (see Records).
const liveAttempts = 3

// Records calls fn with every record with zxid >= from, in zxid order,
// and returns what it read. It stops at the first error: damage (see the
// package doc), a read failure, or fn's own error (returned as it is).
//
// Beside a running server (Live.Held) a read can fail on what the server
// is doing, not on damage: a purge or a compaction removes a file
// between its listing and its reading, or a page of the native log's
// last segment is read before the write that a later page already
// shows. Records then reads again, up to 3 times in all, from after the
// last record it handed out, so fn sees each record once; a failure that
// persists is reported.
func (d *DataDir) Records(from log.Zxid, fn func(Record) error) (Summary, error) {
	var sum Summary
	var last log.Zxid
	frac := d.fractionOf()
	emit := func(r Record) error {
		if r.Zxid < from || (last != 0 && r.Zxid <= last) {
			return nil
		}
		if d.failRead != nil {
			if err := d.failRead(sum.Records); err != nil {
				return err
			}
		}
		if sum.First == 0 {
			sum.First = r.Zxid
		}
		last, sum.Last = r.Zxid, r.Zxid
		sum.Records++
		if d.Progress != nil {
			d.Progress(r, frac(r))
		}
		if err := fn(r); err != nil {
			return callbackError{err}
		}
		return nil
	}
	for attempt := 1; ; attempt++ {
		start := from
		if last != 0 {
			start = last + 1
		}
		err := d.readOnce(start, &sum, emit)
		var cb callbackError
		if errors.As(err, &cb) {
			return sum, cb.err
		}
		if err == nil || !d.Live.Held || attempt >= liveAttempts || errors.Is(err, ErrBadgerLive) {
			return sum, err
		}
		sum.Retries++
	}
}

// fractionOf returns how far into the log a record is: for the native
// log, the bytes of the segments before it plus its offset over the
// segments' total size as listed when the read began; -1 otherwise.
func (d *DataDir) fractionOf() func(Record) float64 {
	unknown := func(Record) float64 { return -1 }
	if d.Progress == nil || d.Engine != "native" {
		return unknown
	}
	dir := d.StoreDir()
	names, err := d.fs.List(dir)
	if err != nil {
		return unknown
	}
	slices.Sort(names) // segment names sort in zxid order
	base := map[string]int64{}
	var total int64
	for _, n := range names {
		fi, err := d.fs.Stat(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		base[filepath.Join(engine.Subdir(d.Engine), n)] = total
		total += fi.Size()
	}
	if total == 0 {
		return unknown
	}
	return func(r Record) float64 {
		b, ok := base[r.File]
		if !ok {
			return -1
		}
		return min(float64(b+r.Offset)/float64(total), 1)
	}
}

// callbackError carries fn's error through a read, so that it is not
// taken for a read failure.
type callbackError struct{ err error }

func (c callbackError) Error() string { return c.err.Error() }

func (d *DataDir) readOnce(from log.Zxid, sum *Summary, emit func(Record) error) error {
	dir := d.StoreDir()
	sub := engine.Subdir(d.Engine)
	switch d.Engine {
	case "native":
		var seg, file string // the last segment's name joined once, not per record
		rep, err := log.Scan(d.fs, dir, log.ScanOptions{From: from}, func(r log.ScannedRecord) error {
			if r.Segment != seg {
				seg, file = r.Segment, filepath.Join(sub, r.Segment)
			}
			return emit(Record{Record: r.Record, File: file, Offset: r.Offset})
		})
		sum.Segments = rep.Segments
		sum.TornTail = rep.TornTail
		sum.TornFile, sum.TornOffset, sum.TornBytes, sum.TornReason = "", 0, 0, ""
		if rep.TornTail {
			sum.TornFile = filepath.Join(sub, rep.TornSegment)
			sum.TornOffset, sum.TornBytes, sum.TornReason = rep.TornOffset, rep.TornBytes, rep.TornReason
		}
		return err
	case "pebble", "badger":
		var r interface {
			Iter(log.Zxid) (engine.Iterator, error)
			Close() error
		}
		var err error
		if d.Engine == "pebble" {
			r, err = pebble.OpenReader(dir, pebble.ReaderOptions{Logger: d.logger})
		} else {
			r, err = badger.OpenReader(dir, badger.ReaderOptions{Logger: d.logger})
			if errors.Is(err, badger.ErrLockedByServer) {
				return fmt.Errorf("%s: %w", dir, ErrBadgerLive)
			}
		}
		if err != nil {
			return err
		}
		defer r.Close()
		it, err := r.Iter(from)
		if err != nil {
			return err
		}
		defer it.Close()
		var prev log.Zxid
		for it.Next() {
			rec := it.Record()
			prev = rec.Zxid
			if err := emit(Record{Record: rec, File: sub, Offset: -1}); err != nil {
				return err
			}
		}
		if err := it.Err(); err != nil {
			return fmt.Errorf("%s store %s: reading after zxid %v: %w", d.Engine, dir, prev, err)
		}
		return nil
	}
	return fmt.Errorf("logread: unknown engine %q", d.Engine)
}
