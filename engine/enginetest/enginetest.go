// Package enginetest is the conformance suite every engine.Engine must
// pass: ordering, durability visibility, truncation, purge, group commit
// under concurrency, close, and (RunReopenTests) what survives a reopen;
// RunBenchmarks is the shared append benchmark. Crash safety of
// TruncateAfter (truncate_crash.go): RunTruncateCrashTests for engines
// that can stop a truncation between its durable steps (badger),
// RunKillDuringTruncate (SIGKILL of a child process mid-truncation) for
// engines on the real filesystem, RunTruncateBenchmarks. Other
// engine-specific tests (crash recovery on vfs.Mem, fsync failure) live
// with each engine.
package enginetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

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

// ReadAll iterates e (an engine or a Reader) from from and returns the
// records, failing t on error.
func ReadAll(t testing.TB, e Reader, from log.Zxid) []log.Record {
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

// RunReopenTests checks what survives Close and a reopen of the same
// directory: appended records, a truncation, a purge, and appends going on
// from the reopened last zxid. open opens (creating if needed) the engine
// in dir; the suite closes what it opens.
func RunReopenTests(t *testing.T, open func(t *testing.T, dir string) engine.Engine) {
	ctx := context.Background()
	dir := t.TempDir()
	e := open(t, dir)
	all := Recs(1, 5000)
	for i := 0; i < len(all); i += 100 {
		if err := e.Append(ctx, all[i:i+100]); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	e = open(t, dir)
	if got := e.LastZxid(); got != 5000 {
		t.Errorf("after reopen LastZxid = %v, want 5000", got)
	}
	if got := ReadAll(t, e, 0); !cmp.Equal(got, all, cmp.Comparer(recEqual)) {
		t.Errorf("after reopen: got %d records, want %d (first diff: %s)", len(got), len(all), firstDiff(all, got))
	}
	if err := e.TruncateAfter(4000); err != nil {
		t.Fatalf("TruncateAfter: %v", err)
	}
	if err := e.PurgeBefore(1000); err != nil {
		t.Fatalf("PurgeBefore: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	e = open(t, dir)
	defer e.Close()
	if got := e.LastZxid(); got != 4000 {
		t.Errorf("after truncate and reopen LastZxid = %v, want 4000", got)
	}
	// Purging may keep records below 1000 (native drops whole segments).
	got := ReadAll(t, e, 0)
	if want := filterFrom(all[:4000], 1000); len(got) < len(want) || len(got) > 4000 || !cmp.Equal(got, all[4000-len(got):4000], cmp.Comparer(recEqual)) {
		t.Errorf("after truncate, purge and reopen: got %d records, want a suffix of [1, 4000] holding [1000, 4000]", len(got))
	}
	if err := e.Append(ctx, []log.Record{Rec(4001)}); err != nil {
		t.Errorf("append after reopen: %v", err)
	}
	if got := e.LastZxid(); got != 4001 {
		t.Errorf("LastZxid = %v, want 4001", got)
	}
}

func firstDiff(want, got []log.Record) string {
	for i := range min(len(want), len(got)) {
		if !recEqual(want[i], got[i]) {
			return fmt.Sprintf("at %d want %v got %v", i, want[i].Zxid, got[i].Zxid)
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(want), len(got))
}

// Appender is what RunBenchmarks needs: an engine with an ordered async
// append and stats.
type Appender = engine.Full

// RunBenchmarks measures durable appends under group commit: for each
// writers × size, W writers each stamp a zxid and enqueue under one mutex
// (as the pipeline does) and wait for durability outside it. One op is
// one record. Besides ns/op and MB/s it reports records/s, fsyncs/s (group
// commits per second), records/fsync and the mean commit latency. open
// returns a new, empty engine on the real filesystem in dir.
func RunBenchmarks(b *testing.B, open func(b *testing.B, dir string) Appender) {
	for _, writers := range []int{1, 8, 32, 64} {
		for _, size := range []int{100, 4096} {
			b.Run(fmt.Sprintf("writers=%d/size=%d", writers, size), func(b *testing.B) {
				e := open(b, b.TempDir())
				defer e.Close()
				benchAppend(b, e, writers, size)
			})
		}
	}
}

func benchAppend(b *testing.B, e Appender, writers, size int) {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var (
		mu     sync.Mutex
		next   log.Zxid
		issued int
		wg     sync.WaitGroup
	)
	before := e.Stats()
	start := time.Now()
	b.ResetTimer()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if issued >= b.N {
					mu.Unlock()
					return
				}
				issued++
				next++
				done := e.AppendAsync([]log.Record{{Zxid: next, Data: data}})
				mu.Unlock()
				if err := <-done; err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	secs := time.Since(start).Seconds()
	st := e.Stats()
	fsyncs := st.Fsyncs - before.Fsyncs
	b.ReportMetric(float64(b.N)/secs, "records/s")
	b.ReportMetric(float64(fsyncs)/secs, "fsyncs/s")
	if fsyncs > 0 {
		b.ReportMetric(float64(st.Records-before.Records)/float64(fsyncs), "records/fsync")
		b.ReportMetric(float64((st.FsyncLatency.Total-before.FsyncLatency.Total).Microseconds())/float64(fsyncs), "commit-µs")
	}
}

// RunCloseReleasesGoroutines opens, uses and closes an engine five times
// in fresh directories and checks that no goroutine outlives them (the
// group commit loop, segment preparation, pebble's and badger's own
// workers). Call it from a test that does not run in parallel with others.
func RunCloseReleasesGoroutines(t *testing.T, open func(t *testing.T, dir string) engine.Engine) {
	before := runtime.NumGoroutine()
	for range 5 {
		e := open(t, t.TempDir())
		if err := e.Append(context.Background(), Recs(1, 10)); err != nil {
			t.Fatal(err)
		}
		ReadAll(t, e, 0)
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Exiting goroutines may still be unwinding: poll, bounded.
	var after int
	for range 200 {
		if after = runtime.NumGoroutine(); after <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("goroutines: %d before opening 5 engines, %d after closing them", before, after)
}
