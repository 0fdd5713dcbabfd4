package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"zabd/engine"
	_ "zabd/engine/badger"
	"zabd/engine/enginetest"
	_ "zabd/engine/pebble"
)

func TestOpenKinds(t *testing.T) {
	if got, want := strings.Join(engine.Kinds(), ","), "badger,native,pebble"; got != want {
		t.Errorf("Kinds() = %s, want %s", got, want)
	}
	if _, err := engine.Open("memory", t.TempDir(), engine.Options{}); !errors.Is(err, engine.ErrUnknownKind) {
		t.Errorf("Open(memory): got %v, want ErrUnknownKind", err)
	}
}

// TestOpenMismatch opens a dir with each kind, then with every other kind,
// which must refuse naming both, and leave the dir usable by its writer.
func TestOpenMismatch(t *testing.T) {
	ctx := context.Background()
	for _, writer := range engine.Kinds() {
		t.Run(writer, func(t *testing.T) {
			dir := t.TempDir()
			e, err := engine.Open(writer, dir, engine.Options{Small: true})
			if err != nil {
				t.Fatalf("Open(%s): %v", writer, err)
			}
			if err := e.Append(ctx, enginetest.Recs(1, 3)); err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(dir, engine.MarkerFile)); err != nil || string(b) != writer+"\n" {
				t.Errorf("marker: got %q, %v; want %q", b, err, writer+"\n")
			}
			for _, other := range engine.Kinds() {
				if other == writer {
					continue
				}
				_, err := engine.Open(other, dir, engine.Options{Small: true})
				var me *engine.MismatchError
				if !errors.As(err, &me) || me.Found != writer || me.Want != other || me.Dir != dir {
					t.Errorf("Open(%s) on a %s dir: got %v, want MismatchError{%s, %s, %s}", other, writer, err, dir, writer, other)
				} else if msg := err.Error(); !strings.Contains(msg, "written by engine "+writer) || !strings.Contains(msg, other) {
					t.Errorf("mismatch message %q does not name both engines", msg)
				}
			}
			// A dir from before the marker: recognized by its subdirectory.
			if err := os.Remove(filepath.Join(dir, engine.MarkerFile)); err != nil {
				t.Fatal(err)
			}
			for _, other := range engine.Kinds() {
				if other == writer {
					continue
				}
				var me *engine.MismatchError
				if _, err := engine.Open(other, dir, engine.Options{Small: true}); !errors.As(err, &me) || me.Found != writer {
					t.Errorf("Open(%s) on an unmarked %s dir: got %v, want MismatchError naming %s", other, writer, err, writer)
				}
			}
			e, err = engine.Open(writer, dir, engine.Options{Small: true})
			if err != nil {
				t.Fatalf("reopen with %s: %v", writer, err)
			}
			defer e.Close()
			if got := e.LastZxid(); got != 3 {
				t.Errorf("reopened LastZxid = %v, want 3", got)
			}
			if _, err := os.Stat(filepath.Join(dir, engine.MarkerFile)); err != nil {
				t.Errorf("marker not rewritten on reopen: %v", err)
			}
		})
	}
}

// opener opens (or reopens) an engine of kind in dir, small.
func opener(kind string) func(t *testing.T, dir string) engine.Engine {
	return func(t *testing.T, dir string) engine.Engine {
		e, err := engine.Open(kind, dir, engine.Options{Small: true})
		if err != nil {
			t.Fatalf("Open(%s): %v", kind, err)
		}
		return e
	}
}

func TestOpenConformance(t *testing.T) {
	for _, kind := range engine.Kinds() {
		t.Run(kind, func(t *testing.T) { enginetest.RunReopenTests(t, opener(kind)) })
	}
}

func TestCloseReleasesGoroutines(t *testing.T) {
	for _, kind := range engine.Kinds() {
		t.Run(kind, func(t *testing.T) { enginetest.RunCloseReleasesGoroutines(t, opener(kind)) })
	}
}

// TestOpenLockedStore: pebble and badger lock their own directory; a second
// open while the first is open is refused with ErrStoreLocked, and the
// first stays usable.
func TestOpenLockedStore(t *testing.T) {
	for _, kind := range []string{"pebble", "badger"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			e, err := engine.Open(kind, dir, engine.Options{Small: true})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if e2, err := engine.Open(kind, dir, engine.Options{Small: true}); !errors.Is(err, engine.ErrStoreLocked) {
				if e2 != nil {
					e2.Close()
				}
				t.Fatalf("second open: got %v, want ErrStoreLocked", err)
			}
			if err := e.Append(context.Background(), enginetest.Recs(1, 1)); err != nil {
				t.Fatalf("append after the refused open: %v", err)
			}
		})
	}
}

func TestWrapLocked(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("disk on fire"), false},
		{syscall.EAGAIN, true},
		{errors.New(`Cannot acquire directory lock on "x". err: resource temporarily unavailable`), true},
		{errors.New("pebble: lock held by current process"), true},
	} {
		got := engine.WrapLocked(tc.err)
		if errors.Is(got, engine.ErrStoreLocked) != tc.want {
			t.Errorf("WrapLocked(%v) = %v, want locked=%v", tc.err, got, tc.want)
		}
		if tc.err != nil && !errors.Is(got, tc.err) {
			t.Errorf("WrapLocked(%v) lost the cause", tc.err)
		}
	}
}
