package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Report is what one run measured. Figures cover the measured phase only;
// latencies are in milliseconds (from the intended start in open loop).
// The JSON field names are a stable interface for scripts.
type Report struct {
	Workload   string   `json:"workload"`
	Params     string   `json:"params,omitempty"`
	Seed       int64    `json:"seed"`
	Servers    []string `json:"servers"`
	Sessions   int      `json:"sessions"`
	InFlight   int      `json:"in_flight"`
	Mode       string   `json:"mode"`   // "closed" or "open"
	Client     string   `json:"client"` // the load's connection code: "lean" or "gozk"
	TargetRate float64  `json:"target_rate,omitempty"`
	ValueBytes int      `json:"value_bytes"`
	KeySpace   int      `json:"key_space,omitempty"` // 0: the workload picks no existing keys
	WarmupS    float64  `json:"warmup_s"`
	// DurationS is the measured window: from the end of warm-up to the last
	// measured completion.
	DurationS float64 `json:"duration_s"`

	// Issued = Succeeded + Failed, measured phase only.
	Issued    int64 `json:"issued"`
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
	// Errors equals Failed; ErrorsByCode splits it by ZooKeeper code name.
	Errors       int64            `json:"errors"`
	ErrorsByCode map[string]int64 `json:"errors_by_code"`
	WarmupIssued int64            `json:"warmup_issued"`
	WarmupFailed int64            `json:"warmup_failed"`

	OpsPerSec float64 `json:"ops_per_sec"` // successes per second of DurationS
	P50Ms     float64 `json:"p50_ms"`
	P90Ms     float64 `json:"p90_ms"`
	P99Ms     float64 `json:"p99_ms"`
	P999Ms    float64 `json:"p999_ms"`
	MaxMs     float64 `json:"max_ms"`
	MeanMs    float64 `json:"mean_ms"`

	// LateStarts counts open-loop requests sent more than 1ms after their
	// intended start; MaxStartLagMs is the worst lag.
	LateStarts    int64   `json:"late_starts"`
	MaxStartLagMs float64 `json:"max_start_lag_ms"`

	// GeneratorCPUPct is this process's user+system CPU over the load
	// phase's wall time, in percent of one core; GeneratorCores is how many
	// cores the machine has, GeneratorProcs the generator's GOMAXPROCS (0
	// when not known).
	GeneratorCPUPct float64 `json:"generator_cpu_pct"`
	// GeneratorUsPerOp is the same CPU time in µs per completed request
	// (warm-up and measured, the phases it covers); 0 when not measured.
	GeneratorUsPerOp float64 `json:"generator_us_per_op,omitempty"`
	GeneratorCores   int     `json:"generator_cores"`
	GeneratorProcs   int     `json:"generator_procs,omitempty"`
	GeneratorLimited bool    `json:"generator_limited"`
	// StealPct is the share of the machine's CPU time, in percent, that
	// the hypervisor gave to others while this VM's vCPUs wanted to run
	// (steal in /proc/stat), over the load phase; -1 where not measured.
	// On a shared VM it is the noise gauge: runs above stealNoisyPct are
	// flagged, and figures from them are not comparable.
	StealPct float64 `json:"steal_pct"`

	// ServerCPU is each server process's CPU (user+system from /proc)
	// over the measured phase, when Config.ServerCPU was set;
	// ServerCPUUsPerOp is their sum in µs per measured success and
	// ServerCPUPct in % of one core.
	ServerCPU        []ServerCPU `json:"server_cpu,omitempty"`
	ServerCPUUsPerOp float64     `json:"server_cpu_us_per_op,omitempty"`
	ServerCPUPct     float64     `json:"server_cpu_pct,omitempty"`
	// OtherCPUPct is what the machine's other processes (neither the
	// servers nor the generator) used over the same phase, in % of one
	// core (/proc/stat's busy time minus both); -1 where not measured. On
	// a machine shared with other work it is the noise gauge that steal
	// is not: runs above otherNoisyPct are flagged.
	OtherCPUPct float64 `json:"other_cpu_pct"`

	Notes []string `json:"notes,omitempty"`

	hist *hdrhistogram.Histogram // measured latencies (µs); nil when decoded
}

// Histogram returns the run's latency histogram (µs), or nil for a report
// that was not produced by Run in this process.
func (r Report) Histogram() *hdrhistogram.Histogram { return r.hist }

// condition is a circumstance that makes a run's figures doubtful, judged
// from the figures alone, so the same rule holds for one run, for a
// median of runs and for every target.
type condition struct {
	kind  string // stable key: "generator", "steal", "other", "late"
	value string // the figure that set it off, short ("85%")
	note  string // the whole sentence for one run's report
}

// conditions lists what makes r's figures doubtful.
func (r *Report) conditions() []condition {
	var out []condition
	if r.GeneratorCPUPct > generatorLimitPct {
		out = append(out, condition{"generator", fmt.Sprintf("%.0f%%", r.GeneratorCPUPct), fmt.Sprintf(
			"generator used %.0f%% of a core (%d cores here): figures may be limited by the generator, not the server",
			r.GeneratorCPUPct, r.GeneratorCores)})
	}
	if r.StealPct > stealNoisyPct {
		out = append(out, condition{"steal", fmt.Sprintf("%.0f%%", r.StealPct), fmt.Sprintf(
			"the hypervisor took %.0f%% of this machine's CPU time during the run (steal): the machine was shared, figures are noisy", r.StealPct)})
	}
	if r.OtherCPUPct > otherNoisyPct {
		out = append(out, condition{"other", fmt.Sprintf("%.0f%%", r.OtherCPUPct), fmt.Sprintf(
			"other processes on this machine used %.0f%% of a core during the measured phase: the machine was shared, figures are noisy", r.OtherCPUPct)})
	}
	if r.Mode == "open" && r.Issued > 0 && r.LateStarts*100 > r.Issued {
		out = append(out, condition{"late", fmt.Sprintf("%d of %d", r.LateStarts, r.Issued), fmt.Sprintf(
			"%d of %d requests started late (worst %.1f ms): the offered rate was not kept; latencies include the wait",
			r.LateStarts, r.Issued, r.MaxStartLagMs)})
	}
	return out
}

// conditionHeads introduce each condition's line in a suite report, in
// the order the lines are written.
var conditionHeads = []struct{ kind, head string }{
	{"generator", fmt.Sprintf("The generator used more than %d%% of a core, so these figures may be the generator's limit rather than the server's", generatorLimitPct)},
	{"steal", fmt.Sprintf("The hypervisor took more than %d%% of the machine's CPU time (steal): noisy", stealNoisyPct)},
	{"other", fmt.Sprintf("Other processes on this machine used more than %d%% of a core: noisy", otherNoisyPct)},
	{"late", "The open loop fell behind its schedule (more than 1% of requests started late); latencies include the wait"},
}

// flag sets GeneratorLimited and adds a note for each condition.
func (r *Report) flag() {
	for _, c := range r.conditions() {
		if c.kind == "generator" {
			r.GeneratorLimited = true
		}
		r.Notes = append(r.Notes, c.note)
	}
}

// JSON is the report as one line of JSON (no trailing newline).
func (r Report) JSON() ([]byte, error) {
	if r.ErrorsByCode == nil {
		r.ErrorsByCode = map[string]int64{}
	}
	return json.Marshal(r)
}

// WriteText writes the human report.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "workload    %s", r.Workload)
	if r.Params != "" {
		fmt.Fprintf(&b, " (%s)", r.Params)
	}
	fmt.Fprintf(&b, "\nservers     %s\n", strings.Join(r.Servers, ","))
	fmt.Fprintf(&b, "load        %d sessions x %d in flight, %s loop", r.Sessions, r.InFlight, r.Mode)
	if r.Mode == "open" {
		fmt.Fprintf(&b, " at %g req/s", r.TargetRate)
	}
	fmt.Fprintf(&b, ", value %d B", r.ValueBytes)
	if r.KeySpace > 0 {
		fmt.Fprintf(&b, ", key space %d", r.KeySpace)
	}
	fmt.Fprintf(&b, ", seed %d\n", r.Seed)
	fmt.Fprintf(&b, "measured    %.2f s after %.2f s warm-up (%d warm-up requests, %d failed)\n",
		r.DurationS, r.WarmupS, r.WarmupIssued, r.WarmupFailed)
	fmt.Fprintf(&b, "requests    %d issued, %d succeeded, %d failed\n", r.Issued, r.Succeeded, r.Failed)
	fmt.Fprintf(&b, "throughput  %.1f ops/s\n", r.OpsPerSec)
	fmt.Fprintf(&b, "latency ms  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (mean %.3f)\n",
		r.P50Ms, r.P90Ms, r.P99Ms, r.P999Ms, r.MaxMs, r.MeanMs)
	if r.Mode == "open" {
		fmt.Fprintf(&b, "schedule    %d late starts, worst lag %.3f ms\n", r.LateStarts, r.MaxStartLagMs)
	}
	fmt.Fprintf(&b, "generator   %s client, %.0f%% of one core (%d cores", r.Client, r.GeneratorCPUPct, r.GeneratorCores)
	if r.GeneratorProcs > 0 {
		fmt.Fprintf(&b, ", GOMAXPROCS %d", r.GeneratorProcs)
	}
	b.WriteString(")")
	if r.GeneratorUsPerOp > 0 {
		fmt.Fprintf(&b, ", %.1f µs/op", r.GeneratorUsPerOp)
	}
	if r.GeneratorLimited {
		b.WriteString("  GENERATOR-LIMITED")
	}
	b.WriteString("\n")
	if r.StealPct >= 0 {
		fmt.Fprintf(&b, "steal       %.1f%% of the machine's CPU time\n", r.StealPct)
	}
	if len(r.ServerCPU) > 0 {
		fmt.Fprintf(&b, "server CPU  %s\n", r.ServerCPUSummary())
	}
	if r.OtherCPUPct >= 0 {
		fmt.Fprintf(&b, "other CPU   %.0f%% of a core (processes neither server nor generator)\n", r.OtherCPUPct)
	}
	if len(r.ErrorsByCode) > 0 {
		b.WriteString("errors     ")
		for _, k := range sortedKeys(r.ErrorsByCode) {
			fmt.Fprintf(&b, " %s=%d", k, r.ErrorsByCode[k])
		}
		b.WriteString("\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note        %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedKeys(m map[string]int64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// writeErrorNotes lists the targets' errors (target, error) after a blank
// line, each shortened (the JSON keeps it whole); nothing when none has
// one.
func writeErrorNotes(b *strings.Builder, errs [][2]string) {
	first := true
	for _, e := range errs {
		if e[1] == "" {
			continue
		}
		if first {
			b.WriteString("\n")
			first = false
		}
		fmt.Fprintf(b, "- **%s:** %s (full message in the JSON)\n", e[0], mdEscape(shortErr(e[1])))
	}
}

// writeRunLogs adds a code block of a target's server log lines, each
// prefixed by its run's label and number; nothing when no run has any.
func writeRunLogs(b *strings.Builder, heading, label string, runs [][]string) {
	any := false
	for _, l := range runs {
		any = any || len(l) > 0
	}
	if !any {
		return
	}
	fmt.Fprintf(b, "\n%s\n\n```\n", heading)
	for i, lines := range runs {
		for _, l := range lines {
			fmt.Fprintf(b, "%s %d: %s\n", label, i+1, l)
		}
	}
	b.WriteString("```\n")
}
