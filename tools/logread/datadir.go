package logread

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"zabd/engine"
	"zabd/engine/datadir"
	"zabd/log"
	"zabd/log/vfs"
)

// Options configure Open. The zero value is usable.
type Options struct {
	// LogDir is zabd's dataLogDir, where the engine's files and the
	// ENGINE marker are; default the data dir.
	LogDir string
	// Engine is the engine that wrote the dir; default what its ENGINE
	// marker says (or, in a dir from before the marker, which engine's
	// subdirectory it has).
	Engine string
	// Logger receives the storage libraries' own log lines; default a
	// logger that drops them (a tool's output is its report).
	Logger *slog.Logger
}

// DataDir is a data dir opened for reading. Safe for concurrent use; each
// Records call opens the store anew.
type DataDir struct {
	Dir    string // the data dir: snapshots and markers
	LogDir string // the engine's files and ENGINE
	Engine string // native, pebble or badger
	// Live says whether a process (a running zabd) held the data dir's
	// or the log dir's lock when Open looked, and which.
	Live Live

	// Progress, if set, is told of every record a read hands out, with
	// the fraction of the log read so far (-1 when the engine cannot
	// tell: pebble, badger). A tool shows it; it must be quick.
	Progress func(r Record, fraction float64)

	fs     vfs.FS // read-only
	logger *slog.Logger
	// failRead, set by tests, is asked before each record is handed out
	// with the number handed out so far; an error fails that read as a
	// storage failure would.
	failRead func(handedOut int) error
}

// Live is what Open found of a server running on the dir.
type Live struct {
	Held   bool
	Known  bool // false: the system could not tell (no /proc/locks)
	Holder datadir.Holder
}

func (l Live) String() string {
	switch {
	case !l.Known:
		return "cannot tell whether a server holds it (no /proc/locks)"
	case !l.Held:
		return "no server holds it"
	}
	s := "held by a running process"
	if l.Holder.PID != 0 {
		s = fmt.Sprintf("held by pid %d", l.Holder.PID)
	}
	if l.Holder.Owner != "" {
		s += " (" + l.Holder.Owner + ")"
	}
	return s
}

// ErrNotDataDir matches Open's refusal of a dir with no zabd data in it.
var ErrNotDataDir = errors.New("logread: not a zabd data dir")

// Kinds are the engines Open reads.
var Kinds = []string{"native", "pebble", "badger"}

// Open looks at the data dir dir: which engine wrote it and whether a
// server holds it. It opens no store yet.
func Open(dir string, o Options) (*DataDir, error) {
	if o.LogDir == "" {
		o.LogDir = dir
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	for _, p := range []string{dir, o.LogDir} {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("logread: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("logread: %s is not a directory", p)
		}
	}
	kind := o.Engine
	if kind == "" {
		var err error
		if kind, err = detectEngine(o.LogDir); err != nil {
			return nil, err
		}
	}
	known := false
	for _, k := range Kinds {
		known = known || k == kind
	}
	if !known {
		return nil, fmt.Errorf("logread: unknown engine %q (have: %s)", kind, strings.Join(Kinds, ", "))
	}
	d := &DataDir{Dir: dir, LogDir: o.LogDir, Engine: kind, fs: vfs.ReadOnly(vfs.Default), logger: o.Logger}
	for _, p := range []string{dir, o.LogDir} {
		h, held, known := datadir.Holding(p)
		if held {
			d.Live = Live{Held: true, Known: true, Holder: h}
			break
		}
		d.Live.Known = known
	}
	return d, nil
}

// detectEngine reads the ENGINE marker, or for a dir written before the
// marker existed, finds the one engine subdirectory with files in it.
func detectEngine(logDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(logDir, engine.MarkerFile))
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("logread: %w", err)
	}
	var found []string
	for _, k := range Kinds {
		if ents, err := os.ReadDir(filepath.Join(logDir, engine.Subdir(k))); err == nil && len(ents) > 0 {
			found = append(found, k)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("%w: %s has no %s file and no log (log/, pebble/ or badger/)", ErrNotDataDir, logDir, engine.MarkerFile)
	}
	return "", fmt.Errorf("logread: %s has no %s file and the files of several engines (%s): name one", logDir, engine.MarkerFile, strings.Join(found, ", "))
}

// StoreDir is where the engine keeps its files.
func (d *DataDir) StoreDir() string { return filepath.Join(d.LogDir, engine.Subdir(d.Engine)) }

// Markers are the data dir's small durable facts.
type Markers struct {
	CurrentEpoch uint32   // 0 if the file is missing
	PurgedBelow  log.Zxid // 0 if the log was never purged
}

// Markers reads currentEpoch and logPurgedBelow.
func (d *DataDir) Markers() (Markers, error) {
	dd := datadir.Open(d.fs, d.Dir)
	var m Markers
	var err error
	if m.CurrentEpoch, err = dd.CurrentEpoch(); err != nil {
		return m, err
	}
	m.PurgedBelow, err = dd.PurgedBelow()
	return m, err
}
