package log

import (
	"fmt"
	"strings"

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

const (
	prepPrefix = "prealloc."
	prepSuffix = ".tmp"
)

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
	fsys, path, size := l.fs, l.path(name), l.o.SegmentBytes
	go func() {
		defer close(pr.done)
		pr.p, pr.err = prepareSegment(fsys, name, path, size)
	}()
}

// prepareSegment creates path, preallocates it to size bytes and fsyncs it.
// On failure nothing is left behind (best effort).
func prepareSegment(fsys vfs.FS, name, path string, size int64) (prepared, error) {
	f, err := fsys.Create(path)
	if err != nil {
		return prepared{}, err
	}
	p := prepared{f: f, name: name, path: path, size: size}
	if err := f.Preallocate(size); err != nil {
		p.discard(fsys)
		return prepared{}, err
	}
	if err := f.Sync(); err != nil {
		p.discard(fsys)
		return prepared{}, err
	}
	return p, nil
}

// takePrepared returns the prepared next segment, waiting for its
// preparation (starting one if none is under way). Caller holds wmu.
func (l *Log) takePrepared() (prepared, error) {
	l.startPrepare()
	pr := l.next
	l.next = nil
	<-pr.done
	if pr.err == nil {
		return pr.p, nil
	}
	// It failed in the background, perhaps long ago (a full disk that
	// has room again by now): try once more before failing the roll.
	l.seq++
	name := fmt.Sprintf("%s%d%s", prepPrefix, l.seq, prepSuffix)
	return prepareSegment(l.fs, name, l.path(name), l.o.SegmentBytes)
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
