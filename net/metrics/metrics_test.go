package metrics

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"zabd/tree"
)

func scrape(t *testing.T, s *Server) string {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d\n%s", resp.StatusCode, b)
	}
	return string(b)
}

func TestObservationsAndStatus(t *testing.T) {
	status := map[string]any{"znode_count": int64(7), "avg_latency": 1.25, "server_state": "standalone",
		"version": "3.8.4-zabd", "writes_refused": int64(1), "learners": int64(2), "fsyncs": int64(9)}
	m := New(Options{Engine: "pebble", Monitor: func() map[string]any { return status }})
	m.ObserveRequest(tree.OpCreate, true, 3*time.Millisecond)
	m.ObserveRequest(tree.OpGetData, false, 500*time.Microsecond)
	m.ObserveRequest(tree.Op(-11), false, time.Millisecond) // closeSession: "other"
	m.ObserveCommit(4, 400, 2*time.Millisecond)
	m.ObserveCommit(2, 200, 4*time.Millisecond)
	m.ObserveSnapshot(150*time.Millisecond, 4096, 7)
	m.ObserveRecovery(20*time.Millisecond, 12)
	m.SessionExpired()
	m.ObserveElection(250 * time.Millisecond)

	s, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Serve(m.Gatherer())
	defer s.Close()
	text := scrape(t, s)
	for _, want := range []string{
		"# TYPE znode_count gauge\nznode_count 7\n",
		"avg_latency 1.25\n",
		"learners 2\n",
		"zabd_writes_refused 1\n",
		"# TYPE updatelatency summary\n",
		`updatelatency{quantile="0.99"} 3` + "\n",
		"updatelatency_count 1\n",
		`readlatency{quantile="0.5"} 0.5` + "\n",
		"# TYPE fsynctime summary\n",
		"fsynctime_count 2\n",
		"sync_processor_batch_size_sum 6\n",
		"snapshottime_sum 150\n",
		"dbinittime_sum 20\n",
		"startup_txns_loaded_sum 12\n",
		"election_time_sum 250\n",
		"# TYPE stale_sessions_expired counter\nstale_sessions_expired 1\n",
		`zabd_txns_total{engine="pebble"} 6` + "\n",
		`zabd_txn_bytes_total{engine="pebble"} 600` + "\n",
		`zabd_group_commit_records_bucket{engine="pebble",le="4"} 2` + "\n",
		`zabd_request_duration_seconds_count{op="create"} 1` + "\n",
		`zabd_request_duration_seconds_count{op="getData"} 1` + "\n",
		`zabd_request_duration_seconds_count{op="other"} 1` + "\n",
		"zabd_snapshot_bytes 4096\n",
		"zabd_snapshot_znodes 7\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Strings are not metrics; mntr's own figures not in the lists are
	// not exported under raw names.
	for _, absent := range []string{"server_state", "\nversion", "\nfsyncs ", "go_goroutines"} {
		if strings.Contains(text, absent) {
			t.Errorf("/metrics has %q", absent)
		}
	}
	if n := testutil.CollectAndCount(m.requestSeconds); n < 20 {
		t.Errorf("%d request latency series, want one per client op", n)
	}
}

func TestRuntimeMetricsAndMethods(t *testing.T) {
	m := New(Options{Runtime: true})
	s, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Serve(m.Gatherer())
	defer s.Close()
	if text := scrape(t, s); !strings.Contains(text, "go_goroutines") || !strings.Contains(text, "process_cpu_seconds_total") {
		t.Errorf("exportJvmInfo: no Go runtime or process metrics")
	}
	for path, want := range map[string]int{"/": 404, "/other": 404} {
		resp, err := http.Get("http://" + s.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	req, _ := http.NewRequest("TRACE", "http://"+s.Addr().String()+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("TRACE /metrics: %d, want 405", resp.StatusCode)
	}
}

func TestCloseReleasesThePort(t *testing.T) {
	s, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().String()
	if _, err := Listen(addr, nil); err == nil {
		t.Errorf("a second endpoint on %s: listening", addr)
	}
	if err := s.Close(); err != nil { // never served
		t.Fatal(err)
	}
	again, err := Listen(addr, nil)
	if err != nil {
		t.Fatalf("port still held after Close: %v", err)
	}
	again.Serve(New(Options{}).Gatherer())
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkObserveRequest is the cost a request pays with metrics on.
func BenchmarkObserveRequest(b *testing.B) {
	m := New(Options{})
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest(tree.OpGetData, false, 300*time.Microsecond)
		}
	})
}
