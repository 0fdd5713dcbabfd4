// Package enginetest is the conformance suite every engine.Engine must
// pass: ordering, durability visibility, truncation, purge, group commit
// under concurrency, and close. Engine-specific tests (crash recovery,
// fsync failure) live with each engine.
package enginetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/engine"
	"zabd/log"
)

// Rec makes a record whose data names its zxid.
func Rec(z log.Zxid) log.Record { return log.Record{Zxid: z, Data: []byte(fmt.Sprintf("txn-%v", z))} }

// Recs makes records for zxids [from, from+n).
func Recs(from log.Zxid, n int) []log.Record {
	out := make([]log.Record, n)
	for i := range out {
		out[i] = Rec(from + log.Zxid(i))
	}
	return out
}

// ReadAll iterates e from from and returns the records, failing t on error.
func ReadAll(t testing.TB, e engine.Engine, from log.Zxid) []log.Record {
	t.Helper()
	it, err := e.Iter(from)
	if err != nil {
		t.Fatalf("Iter(%v): %v", from, err)
	}
	defer it.Close()
	var got []log.Record
	for it.Next() {
		got = append(got, it.Record())
	}
	if err := it.Err(); err != nil {
		t.Fatalf("Iter(%v): %v", from, err)
	}
	return got
}

func filterFrom(rs []log.Record, from log.Zxid) []log.Record {
	var out []log.Record
	for _, r := range rs {
		if r.Zxid >= from {
			out = append(out, r)
		}
	}
	return out
}

// RunTests runs the suite; open returns a new, empty engine each call. The
// suite closes the engines it opens.
func RunTests(t *testing.T, open func(t *testing.T) engine.Engine) {
	ctx := context.Background()
	mustAppend := func(t *testing.T, e engine.Engine, rs []log.Record) {
		t.Helper()
		if err := e.Append(ctx, rs); err != nil {
			t.Fatalf("Append(%v..): %v", rs[0].Zxid, err)
		}
	}
	withEngine := func(name string, f func(t *testing.T, e engine.Engine)) {
		t.Run(name, func(t *testing.T) {
			e := open(t)
			defer e.Close()
			f(t, e)
		})
	}

	withEngine("Empty", func(t *testing.T, e engine.Engine) {
		if got := e.LastZxid(); got != 0 {
			t.Errorf("LastZxid = %v, want 0", got)
		}
		if got := ReadAll(t, e, 0); len(got) != 0 {
			t.Errorf("Iter on empty engine yielded %v", got)
		}
	})

	withEngine("AppendIter", func(t *testing.T, e engine.Engine) {
		all := Recs(log.MakeZxid(1, 1), 30)
		for i := 0; i < len(all); i += 3 {
			mustAppend(t, e, all[i:i+3])
		}
		if got, want := e.LastZxid(), all[len(all)-1].Zxid; got != want {
			t.Errorf("LastZxid = %v, want %v", got, want)
		}
		for _, from := range []log.Zxid{0, all[0].Zxid, all[13].Zxid, all[29].Zxid, all[29].Zxid + 1} {
			want := filterFrom(all, from)
			if got := ReadAll(t, e, from); !cmp.Equal(got, want, cmp.Comparer(recEqual)) {
				t.Errorf("Iter(%v) (-want +got):\n%s", from, cmp.Diff(want, got))
			}
		}
	})

	withEngine("Ordering", func(t *testing.T, e engine.Engine) {
		mustAppend(t, e, Recs(10, 2)) // 10, 11
		for _, tc := range []struct {
			name string
			recs []log.Record
		}{
			{"repeat", []log.Record{Rec(11)}},
			{"lower", []log.Record{Rec(5)}},
			{"not increasing within", []log.Record{Rec(13), Rec(12)}},
			{"duplicate within", []log.Record{Rec(14), Rec(14)}},
		} {
			if err := e.Append(ctx, tc.recs); !errors.Is(err, log.ErrOutOfOrder) {
				t.Errorf("%s: Append got %v, want log.ErrOutOfOrder", tc.name, err)
			}
		}
		if got := e.LastZxid(); got != 11 {
			t.Errorf("after rejected appends LastZxid = %v, want 11", got)
		}
		mustAppend(t, e, []log.Record{Rec(12)}) // rejected calls appended nothing
		if err := e.Append(ctx, nil); err != nil {
			t.Errorf("empty Append: %v", err)
		}
	})

	withEngine("DataNotRetained", func(t *testing.T, e engine.Engine) {
		b := []byte("original")
		mustAppend(t, e, []log.Record{{Zxid: 1, Data: b}})
		copy(b, "CHANGED!")
		got := ReadAll(t, e, 0)
		if len(got) != 1 || string(got[0].Data) != "original" {
			t.Errorf("after caller reused its buffer got %q, want \"original\"", got)
		}
		got[0].Data[0] = 'X'
		if again := ReadAll(t, e, 0); string(again[0].Data) != "original" {
			t.Errorf("mutating an iterated record changed the engine: %q", again[0].Data)
		}
	})

	withEngine("TruncateAfter", func(t *testing.T, e engine.Engine) {
		all := Recs(1, 40)
		for i := 0; i < len(all); i += 4 {
			mustAppend(t, e, all[i:i+4])
		}
		for _, tc := range []struct {
			z, wantLast log.Zxid
		}{
			{50, 40}, // beyond the end: no-op
			{40, 40},
			{33, 33},
			{17, 17},
			{1, 1},
		} {
			if err := e.TruncateAfter(tc.z); err != nil {
				t.Fatalf("TruncateAfter(%v): %v", tc.z, err)
			}
			if got := e.LastZxid(); got != tc.wantLast {
				t.Errorf("TruncateAfter(%v): LastZxid = %v, want %v", tc.z, got, tc.wantLast)
			}
			want := all[:tc.wantLast]
			if got := ReadAll(t, e, 0); !cmp.Equal(got, want, cmp.Comparer(recEqual)) {
				t.Errorf("TruncateAfter(%v) (-want +got):\n%s", tc.z, cmp.Diff(want, got))
			}
		}
		// Appending after a truncation continues from the new end, and
		// may reuse zxids that were truncated away.
		mustAppend(t, e, Recs(2, 5))
		if got, want := ReadAll(t, e, 0), Recs(1, 6); !cmp.Equal(got, want, cmp.Comparer(recEqual)) {
			t.Errorf("append after truncate (-want +got):\n%s", cmp.Diff(want, got))
		}
		if err := e.TruncateAfter(0); err != nil {
			t.Fatalf("TruncateAfter(0): %v", err)
		}
		if got := e.LastZxid(); got != 0 {
			t.Errorf("TruncateAfter(0): LastZxid = %v, want 0", got)
		}
		mustAppend(t, e, Recs(1, 1))
	})

	withEngine("PurgeBefore", func(t *testing.T, e engine.Engine) {
		all := Recs(1, 60)
		for i := range all {
			mustAppend(t, e, all[i:i+1])
		}
		for _, z := range []log.Zxid{0, 10, 30, 61, 1000} {
			if err := e.PurgeBefore(z); err != nil {
				t.Fatalf("PurgeBefore(%v): %v", z, err)
			}
			if got := e.LastZxid(); got != 60 {
				t.Errorf("PurgeBefore(%v): LastZxid = %v, want 60", z, got)
			}
			if got, want := ReadAll(t, e, z), filterFrom(all, z); !cmp.Equal(got, want, cmp.Comparer(recEqual)) {
				t.Errorf("PurgeBefore(%v): Iter(%v) (-want +got):\n%s", z, z, cmp.Diff(want, got))
			}
			got := ReadAll(t, e, 0)
			if len(got) == 0 || !cmp.Equal(got, all[len(all)-len(got):], cmp.Comparer(recEqual)) {
				t.Errorf("PurgeBefore(%v): Iter(0) is not a non-empty suffix of the log: %d records", z, len(got))
			}
		}
		mustAppend(t, e, Recs(61, 1))
	})

	withEngine("ConcurrentAppendersKeepOrder", func(t *testing.T, e engine.Engine) {
		const writers, perWriter = 64, 20
		async, ok := e.(engine.AsyncAppender)
		if !ok {
			t.Skip("engine does not implement AsyncAppender")
		}
		var (
			mu   sync.Mutex
			next log.Zxid = 1
			wg   sync.WaitGroup
			errs = make(chan error, writers)
		)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perWriter; i++ {
					mu.Lock() // stamp and enqueue in one critical section
					done := async.AppendAsync([]log.Record{Rec(next)})
					next++
					mu.Unlock()
					if err := <-done; err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent append: %v", err)
		}
		want := Recs(1, writers*perWriter)
		if got := ReadAll(t, e, 0); !cmp.Equal(got, want, cmp.Comparer(recEqual)) {
			t.Errorf("records after concurrent appends (-want +got):\n%s", cmp.Diff(want, got))
		}
		if sr, ok := e.(engine.StatsReporter); ok {
			st := sr.Stats()
			if st.Records != writers*perWriter || st.Fsyncs == 0 || st.Fsyncs > st.Records {
				t.Errorf("stats after %d records: %+v", writers*perWriter, st)
			}
		}
	})

	withEngine("AppendAfterCtxDone", func(t *testing.T, e engine.Engine) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := e.Append(cctx, Recs(1, 1))
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("Append with canceled ctx: %v", err)
		}
		// Either way the engine stays usable and ordered.
		mustAppend(t, e, Recs(2, 1))
		if got := e.LastZxid(); got != 2 {
			t.Errorf("LastZxid = %v, want 2", got)
		}
	})

	t.Run("Close", func(t *testing.T) {
		e := open(t)
		mustAppend(t, e, Recs(1, 3))
		if err := e.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := e.Append(ctx, Recs(4, 1)); !errors.Is(err, engine.ErrClosed) {
			t.Errorf("Append after Close: got %v, want ErrClosed", err)
		}
		if err := e.Close(); !errors.Is(err, engine.ErrClosed) {
			t.Errorf("second Close: got %v, want ErrClosed", err)
		}
	})
}

func recEqual(a, b log.Record) bool {
	return a.Zxid == b.Zxid && string(a.Data) == string(b.Data)
}
