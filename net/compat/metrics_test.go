package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

// zkNamesPromtoolObjectsTo are Apache ZooKeeper's metric names that
// promtool's lint rejects (gauges ending in _count, a counter without
// _total); zabd keeps them so ZooKeeper's dashboards and alerts work.
var zkNamesPromtoolObjectsTo = map[string]bool{
	"auth_failed_count": true, "ephemerals_count": true, "max_file_descriptor_count": true,
	"open_file_descriptor_count": true, "watch_count": true, "znode_count": true, "stale_sessions_expired": true,
}

// TestPrometheusScrapesZabd starts zabd with ZooKeeper's Prometheus
// provider keys and a real Prometheus (Debian's) scraping it every
// second, then reads through Prometheus' query API the figures the client
// operations decided: znodes, ephemerals, sessions, writes and reads
// observed, txns made durable. promtool check metrics finds nothing wrong
// with zabd's own metrics and no format error (its lint objects only to
// names ZooKeeper chose).
func TestPrometheusScrapesZabd(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		zktest.RequireInstalled(t, "prometheus", fmt.Errorf("%w: %v", launch.ErrNotInstalled, err))
	}
	p := zktest.StartZabd(t, launch.ZabdOptions{ExtraCfg: map[string]string{
		"metricsProvider.className": "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
		"metricsProvider.httpHost":  "127.0.0.1",
	}, PortKeys: []string{"metricsProvider.httpPort"}})
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", p.Ports["metricsProvider.httpPort"])
	c := zktest.Connect(t, p.Addr)
	for i := range 25 {
		if _, err := c.Create(fmt.Sprintf("/m%02d", i), []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if _, err := c.Create(fmt.Sprintf("/m00/e%d", i), nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		if _, _, err := c.Get(fmt.Sprintf("/m%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	want, err := launch.FourLetter(p.Addr, "mntr", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	znodes := regexp.MustCompile(`zk_znode_count\t(\d+)`).FindStringSubmatch(want)
	if znodes == nil {
		t.Fatalf("mntr has no zk_znode_count:\n%s", want)
	}

	// promtool on the endpoint's text.
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q, want the text format 0.0.4", ct)
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(text)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee) && ee.ExitCode() == 3: // lint problems only
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				name, _, _ := strings.Cut(line, " ")
				if !zkNamesPromtoolObjectsTo[name] {
					t.Errorf("promtool check metrics: %s", line)
				}
			}
		default:
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	} else {
		zktest.RequireInstalled(t, "prometheus", fmt.Errorf("%w: promtool: %v", launch.ErrNotInstalled, err))
	}

	// A real Prometheus scraping every second.
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: zabd\n    static_configs:\n      - targets: ['%s']\n", metricsAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	promPort, err := launch.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	promAddr := fmt.Sprintf("127.0.0.1:%d", promPort)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	prom := exec.Command(promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr, "--log.level=warn")
	prom.Stdout, prom.Stderr = logf, logf
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		prom.Process.Kill()
		prom.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", b)
		}
	})

	// query returns the value of an instant vector with one sample, or
	// ok=false while Prometheus has none.
	query := func(q string) (string, bool) {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return "", false
		}
		defer resp.Body.Close()
		var r struct {
			Status string
			Data   struct {
				Result []struct {
					Value [2]any
				}
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" || len(r.Data.Result) != 1 {
			return "", false
		}
		v, _ := r.Data.Result[0].Value[1].(string)
		return v, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	checks := []struct{ query, want string }{
		{`up{job="zabd"}`, "1"},
		{"znode_count", znodes[1]},
		{"ephemerals_count", "3"},
		{"global_sessions", "1"},
		{"num_alive_connections", "1"},
		{"updatelatency_count >= 28", ""},
		{"readlatency_count >= 10", ""},
		{`zabd_txns_total{engine="native"} >= 28`, ""},
		{`sum(zabd_request_duration_seconds_count{op="create"})`, "28"},
		{`sum(zabd_request_duration_seconds_count{op="getData"})`, "10"},
		{"zabd_writes_refused", "0"},
		{`fsynctime{quantile="0.5"} > 0`, ""},
	}
	for _, ch := range checks {
		for {
			v, ok := query(ch.query)
			if ok && (ch.want == "" || v == ch.want) {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("Prometheus query %s: %q (ok %v), want %q", ch.query, v, ok, ch.want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}
