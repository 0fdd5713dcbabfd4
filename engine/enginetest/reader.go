package enginetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/engine"
	"zabd/log"
)

// Reader is a read-only view of an engine's store (pebble.Reader,
// badger.Reader).
type Reader interface {
	Iter(from log.Zxid) (engine.Iterator, error)
	Close() error
}

// DirState describes every file and directory under dir (path, size and
// a hash of the content; mode bits for directories), for tests that
// check a reader changed nothing.
func DirState(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel+"/"] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(sum[:8])
		return nil
	})
	if err != nil {
		t.Fatalf("describing %s: %v", dir, err)
	}
	return out
}

// RunReaderTests checks a read-only reader of an engine's store: it reads
// every record back, in order, from a store whose engine is still open
// (as a running server's is) and after it closed, from any zxid; and it
// leaves every file of the store as it was. open creates or opens the
// engine on dir; openReader opens the reader. readsLive says whether the
// reader can be opened beside the open engine; if not, opening it there
// must fail with an error matching engine.ErrStoreLocked.
func RunReaderTests(t *testing.T, open func(t *testing.T, dir string) engine.Engine, openReader func(dir string) (Reader, error), readsLive bool) {
	ctx := context.Background()
	t.Run("beside an open engine and after", func(t *testing.T) {
		dir := t.TempDir()
		e := open(t, dir)
		var want []log.Record
		for i := 0; i < 10; i++ {
			// Batches big enough for the small test memtables to flush.
			rs := Recs(log.MakeZxid(1, uint32(1+i*400)), 400)
			for j := range rs {
				rs[j].Data = append(rs[j].Data, make([]byte, 300)...)
			}
			if err := e.Append(ctx, rs); err != nil {
				t.Fatal(err)
			}
			want = append(want, rs...)
		}
		for _, live := range []bool{true, false} {
			if !live {
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
			}
			// Beside the open engine its files change under any
			// listing (flushes, compactions): compare only once it closed.
			var before map[string]string
			if !live {
				before = DirState(t, dir)
			}
			r, err := openReader(dir)
			if live && !readsLive {
				if !errors.Is(err, engine.ErrStoreLocked) {
					t.Fatalf("open beside the engine: got %v, want an error matching engine.ErrStoreLocked", err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("live=%v: open: %v", live, err)
			}
			if got := ReadAll(t, r, 0); !cmp.Equal(got, want) {
				t.Errorf("live=%v: read %d records, want %d (first diff: %s)", live, len(got), len(want), firstDiff(want, got))
			}
			from := want[1234].Zxid
			if got := ReadAll(t, r, from); !cmp.Equal(got, want[1234:]) {
				t.Errorf("live=%v: from %v read %d records, want %d", live, from, len(got), len(want)-1234)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if !live {
				if d := cmp.Diff(before, DirState(t, dir)); d != "" {
					t.Errorf("the reader changed the store (-before +after):\n%s", d)
				}
			}
		}
	})
	t.Run("missing dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "none")
		if _, err := openReader(dir); err == nil {
			t.Fatal("opened a missing dir")
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("the reader created %s", dir)
		}
	})
}
