package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"zabd/log/vfs"
)

// Options configure Open, for every kind of engine. The zero value is
// usable.
type Options struct {
	// Logger receives the storage library's own log lines (pebble,
	// badger); default slog.Default().
	Logger *slog.Logger
	// GroupCommit bounds group commits (for native too, unless
	// Native.MaxBatchRecords/MaxBatchBytes are set).
	GroupCommit GroupCommitOptions
	// Small asks for tiny memtables and caches, for tests and tools that
	// open many engines in one process.
	Small bool
	// Native is passed to OpenNative for kind "native".
	Native NativeOptions
}

// Full is an engine with the optional interfaces a server uses: every
// engine Open returns (native, pebble, badger) implements them.
type Full interface {
	Engine
	AsyncAppender
	StatsReporter
}

var (
	_ Full = (*Native)(nil)
	_ Full = (*Memory)(nil)
)

// OpenFunc opens (creating if needed) an engine of one kind whose files
// live in dir.
type OpenFunc func(dir string, o Options) (Full, error)

// MarkerFile is the file in a data dir naming the engine that wrote it.
const MarkerFile = "ENGINE"

var (
	registryMu sync.Mutex
	registry   = map[string]OpenFunc{"native": openNative}
)

// Register makes an engine kind available to Open. The pebble and badger
// packages register themselves when imported (so a binary links only the
// engines it imports); registering a kind twice panics.
func Register(kind string, open OpenFunc) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[kind]; dup {
		panic(fmt.Sprintf("engine: kind %q registered twice", kind))
	}
	registry[kind] = open
}

// Kinds returns the engine kinds Open accepts, sorted.
func Kinds() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	var ks []string
	for k := range registry {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ErrUnknownKind matches Open's error for a kind it does not have.
var ErrUnknownKind = errors.New("engine: unknown kind")

// ErrStoreLocked matches an engine's refusal to open a store that another
// process (or another engine in this one) has open: pebble and badger keep
// a lock file of their own.
var ErrStoreLocked = errors.New("engine: store is open in another process")

// WrapLocked returns err wrapped so that it matches ErrStoreLocked when it
// is a storage library's lock contention (the flock's EAGAIN, which pebble
// and badger report without wrapping the errno, or pebble's refusal of a
// second open in one process), and err unchanged otherwise.
func WrapLocked(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if errors.Is(err, syscall.EAGAIN) || strings.Contains(msg, syscall.EAGAIN.Error()) ||
		strings.Contains(msg, "lock held by current process") {
		return fmt.Errorf("%w: %w", ErrStoreLocked, err)
	}
	return err
}

// MismatchError is Open's refusal of a data dir written by another kind of
// engine.
type MismatchError struct {
	Dir   string
	Found string // the kind that wrote Dir
	Want  string // the kind asked for
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("engine: data dir %s was written by engine %s; refusing to open it with engine %s", e.Dir, e.Found, e.Want)
}

// Open opens the engine of the given kind ("native", or a registered kind:
// "pebble", "badger") on the data dir dir, creating dir if needed. Each
// kind keeps its files in its own subdirectory (native: log/, pebble:
// pebble/, badger: badger/), so other files (snapshots) can sit beside.
//
// dir records which kind wrote it in MarkerFile, written (tmp, fsync,
// rename, fsync dir) on first open; opening with another kind fails with a
// *MismatchError and touches nothing. A dir from before the marker existed
// is recognized by its subdirectory.
func Open(kind, dir string, o Options) (Full, error) {
	registryMu.Lock()
	open, ok := registry[kind]
	registryMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w %q (have: %s)", ErrUnknownKind, kind, strings.Join(Kinds(), ", "))
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("engine: creating data dir: %w", err)
	}
	if os.IsNotExist(statErr) {
		// A new data dir's own entry must survive a power loss too.
		if err := vfs.SyncDir(vfs.Default, filepath.Dir(filepath.Clean(dir))); err != nil {
			return nil, fmt.Errorf("engine: syncing the parent of new data dir %s: %w", dir, err)
		}
	}
	if err := claimDir(dir, kind); err != nil {
		return nil, err
	}
	return open(filepath.Join(dir, Subdir(kind)), o)
}

// Subdir is the subdirectory of a data dir where kind keeps its files.
func Subdir(kind string) string {
	if kind == "native" {
		return "log"
	}
	return kind
}

func openNative(dir string, o Options) (Full, error) {
	no := o.Native
	if no.MaxBatchRecords == 0 {
		no.MaxBatchRecords = o.GroupCommit.MaxBatchRecords
	}
	if no.MaxBatchBytes == 0 {
		no.MaxBatchBytes = o.GroupCommit.MaxBatchBytes
	}
	if no.Now == nil {
		no.Now = o.GroupCommit.Now
	}
	if no.OnCommit == nil {
		no.OnCommit = o.GroupCommit.OnCommit
	}
	if no.Log.Logger == nil {
		no.Log.Logger = o.Logger
	}
	n, err := OpenNative(vfs.Default, dir, no)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return n, nil
}

// claimDir checks dir's marker against kind, writing it if absent.
func claimDir(dir, kind string) error {
	path := filepath.Join(dir, MarkerFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		found := strings.TrimSpace(string(b))
		if found != kind {
			return &MismatchError{Dir: dir, Found: found, Want: kind}
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("engine: reading %s: %w", path, err)
	}
	// No marker: a new dir, or one written before markers existed. Any
	// other kind's subdirectory with files in it means that kind wrote it.
	for _, other := range Kinds() {
		if other == kind {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(dir, Subdir(other)))
		if err == nil && len(ents) > 0 {
			return &MismatchError{Dir: dir, Found: other, Want: kind}
		}
	}
	return writeMarker(dir, path, kind)
}

func writeMarker(dir, path, kind string) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("engine: writing %s: %w", tmp, err)
	}
	_, err = f.WriteString(kind + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("engine: writing %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
