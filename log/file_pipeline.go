package log

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"zabd/log/vfs"
)

// Segment preparation (Options.Preallocate), after etcd's file pipeline:
// while the active segment fills, a goroutine creates the next segment file
// under a temporary name, preallocates it to SegmentBytes and fsyncs it, so
// that the roll (which runs inside a group commit) does not wait for the
// allocation. The roll then writes the header, fsyncs, renames the file to
// its segment name and fsyncs the directory.
//
// A prepared file holds no header, so a crash leaves at most an unnamed
// file of zeros that Open removes. A failed preparation (a full disk) is
// reported by the roll that needed the file; the next roll prepares again.
//
// On a nearly full disk a preparation shrinks rather than fails: it asks
// for SegmentBytes, then half, a quarter, ... down to a floor (in the
// background, minPreparedBytes; at the roll, what the record starting the
// segment needs). A smaller segment simply grows past its preallocated
// end as it is written, as one without preallocation does.

const (
	prepPrefix = "prealloc."
	prepSuffix = ".tmp"
	// minPreparedBytes is the floor of a background preparation on a
	// nearly full disk; below it the roll tries again with its own need.
	minPreparedBytes = 64 << 10
)

// preallocError is a preparation that found no room even at its floor:
// it asked for asked bytes, then halves of it down to floor.
type preallocError struct {
	asked, floor int64
	err          error
}

func (e *preallocError) describe() string {
	if e.floor >= e.asked {
		return "asked " + vfs.FormatBytes(e.asked)
	}
	return fmt.Sprintf("asked %s, then down to %s", vfs.FormatBytes(e.asked), vfs.FormatBytes(e.floor))
}

func (e *preallocError) Error() string { return e.describe() + ": " + e.err.Error() }
func (e *preallocError) Unwrap() error { return e.err }

// isPrepName reports whether name is a preparation file's.
func isPrepName(name string) bool {
	return strings.HasPrefix(name, prepPrefix) && strings.HasSuffix(name, prepSuffix)
}

// prepared is a ready segment file: created, preallocated, fsynced, named
// name (base) in the log's directory, not yet in the directory durably.
type prepared struct {
	f    vfs.File
	name string
	path string
	size int64
}

// discard closes and removes a prepared file that will not be used. Best
// effort: a leftover is removed by the next Open.
func (p prepared) discard(fsys vfs.FS) {
	p.f.Close()
	fsys.Remove(p.path)
}

// preparation is one background preparation; done is closed once p or err
// is set.
type preparation struct {
	done chan struct{}
	p    prepared
	err  error
}

// startPrepare starts preparing the next segment if preallocation is on
// and none is under way. Caller holds wmu.
func (l *Log) startPrepare() {
	if !l.o.Preallocate || l.next != nil || l.o.ReadOnly {
		return
	}
	l.seq++
	name := fmt.Sprintf("%s%d%s", prepPrefix, l.seq, prepSuffix)
	pr := &preparation{done: make(chan struct{})}
	l.next = pr
	go func() {
		defer close(pr.done)
		pr.p, pr.err = l.prepareSegment(name, minPreparedBytes)
	}()
}

// prepareSegment creates the preparation file name, preallocates it and
// fsyncs it: SegmentBytes if the disk has room, else the largest of half,
// a quarter, ... that fits, down to floor. No room even for floor fails
// with a *preallocError matching syscall.ENOSPC. On failure nothing is
// left behind (best effort). It reads only fields that never change, so
// it may run beside the write side.
func (l *Log) prepareSegment(name string, floor int64) (prepared, error) {
	path := l.path(name)
	f, err := l.fs.Create(path)
	if err != nil {
		return prepared{}, err
	}
	p := prepared{f: f, name: name, path: path}
	asked := l.o.SegmentBytes
	floor = min(max(floor, SegmentHeaderBytes), asked)
	size := asked
	for {
		err := f.Preallocate(size)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.ENOSPC) {
			p.discard(l.fs)
			return prepared{}, err
		}
		if size <= floor {
			p.discard(l.fs)
			return prepared{}, &preallocError{asked: asked, floor: floor, err: err}
		}
		// A preallocation that ran out of space may have extended the
		// file part of the way: give that back before asking for less.
		if err := f.Truncate(0); err != nil {
			p.discard(l.fs)
			return prepared{}, err
		}
		size = max(size/2, floor)
	}
	if err := f.Sync(); err != nil {
		p.discard(l.fs)
		return prepared{}, err
	}
	p.size = size
	l.notePreparedSize(size)
	return p, nil
}

// notePreparedSize logs once when segments start being preallocated
// smaller than SegmentBytes for want of space, and once when a whole one
// fits again.
func (l *Log) notePreparedSize(size int64) {
	whole := size >= l.o.SegmentBytes
	if l.shrunk.Load() == !whole {
		return
	}
	if !l.shrunk.CompareAndSwap(whole, !whole) {
		return
	}
	if whole {
		l.o.Logger.Info("disk has room again: log segments are preallocated whole", "dir", l.dir,
			"segment_bytes", l.o.SegmentBytes)
		return
	}
	args := []any{"dir", l.dir, "asked", vfs.FormatBytes(l.o.SegmentBytes), "got", vfs.FormatBytes(size)}
	if sp, ok := vfs.SpaceOf(l.fs, l.dir); ok {
		args = append(args, "free", vfs.FormatBytes(int64(min(sp.Free, 1<<62))))
	}
	l.o.Logger.Warn("disk nearly full: preallocating smaller log segments than asked; writes go on until not even a record fits", args...)
}

// takePrepared returns the prepared next segment, waiting for its
// preparation (starting one if none is under way). need is the least the
// segment must hold (its header and first record). Caller holds wmu.
func (l *Log) takePrepared(need int64) (prepared, error) {
	l.startPrepare()
	pr := l.next
	l.next = nil
	<-pr.done
	if pr.err == nil {
		return pr.p, nil
	}
	// It failed in the background, perhaps long ago (a full disk that
	// has room again by now), or found no room for its floor: try once
	// more, down to what this roll needs, before failing the roll.
	l.seq++
	name := fmt.Sprintf("%s%d%s", prepPrefix, l.seq, prepSuffix)
	return l.prepareSegment(name, need)
}

// dropPrepared waits for a preparation under way and removes its file.
// Caller holds wmu.
func (l *Log) dropPrepared() {
	if l.next == nil {
		return
	}
	pr := l.next
	l.next = nil
	<-pr.done
	if pr.err == nil {
		pr.p.discard(l.fs)
	}
}
