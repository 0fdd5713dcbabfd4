package bench

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// sessionsLabel matches a point label "<workload> ... s=<n>".
var sessionsLabel = regexp.MustCompile(`^(\S+).* s=(\d+)$`)

// sessionSeries returns, for workload, the points that differ only in
// session count, ordered by sessions.
func (s *SuiteResult) sessionSeries(workload string) (labels []string, sessions []int) {
	type ps struct {
		label string
		n     int
	}
	var all []ps
	for _, l := range s.Points {
		m := sessionsLabel.FindStringSubmatch(l)
		if m == nil || m[1] != workload {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		all = append(all, ps{l, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n < all[j].n })
	for _, p := range all {
		labels = append(labels, p.label)
		sessions = append(sessions, p.n)
	}
	return labels, sessions
}

// WriteThroughputPlot draws median throughput against sessions for the
// workload's points, one line per target, to path (.svg or .png).
func (s *SuiteResult) WriteThroughputPlot(path, workload string) error {
	labels, sessions := s.sessionSeries(workload)
	if len(labels) == 0 {
		return fmt.Errorf("bench: no %q points with s=N labels to plot", workload)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s throughput vs sessions", workload)
	p.X.Label.Text = "sessions"
	p.Y.Label.Text = "ops/s (median)"
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	var lines []any
	for _, t := range s.Targets {
		var xy plotter.XYs
		for i, l := range labels {
			if c, ok := s.cell(l, t); ok {
				xy = append(xy, plotter.XY{X: float64(sessions[i]), Y: c.Median.OpsPerSec})
			}
		}
		if len(xy) > 0 {
			lines = append(lines, t, xy)
		}
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	return save(p, path)
}

// WriteLatencyPlot draws the latency percentiles (p50 .. max) of one point
// for every target, to path (.svg or .png), on a log scale.
func (s *SuiteResult) WriteLatencyPlot(path, point string) error {
	names := []string{"p50", "p90", "p99", "p99.9", "max"}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("latency percentiles, %s", point)
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "ms (median of runs, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.NominalX(names...)
	p.Legend.Top = true
	p.Legend.Left = true
	var lines []any
	for _, t := range s.Targets {
		c, ok := s.cell(point, t)
		if !ok {
			continue
		}
		m := c.Median
		var xy plotter.XYs
		for i, v := range []float64{m.P50Ms, m.P90Ms, m.P99Ms, m.P999Ms, m.MaxMs} {
			xy = append(xy, plotter.XY{X: float64(i), Y: max(v, 0.001)}) // log scale needs > 0
		}
		lines = append(lines, t, xy)
	}
	if len(lines) == 0 {
		return fmt.Errorf("bench: no results for %q to plot", point)
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	return save(p, path)
}

func save(p *plot.Plot, path string) error {
	if err := p.Save(6*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("bench: saving plot %s: %w", path, err)
	}
	return nil
}

// WriteRecoveryPlot draws each target's median restart time (exec to the
// first read served) as a bar, with the fastest and slowest restart as
// an error bar, to path (.svg or .png).
func (r *RecoveryReport) WriteRecoveryPlot(path string) error {
	var names []string
	var vals plotter.Values
	var errs plotter.YErrors
	for _, res := range r.Results {
		if len(res.Runs) == 0 {
			continue
		}
		names = append(names, res.Target)
		vals = append(vals, res.MedianMs/1000)
		errs = append(errs, struct{ Low, High float64 }{(res.MedianMs - res.MinMs) / 1000, (res.MaxMs - res.MedianMs) / 1000})
	}
	if len(vals) == 0 {
		return fmt.Errorf("bench: no recovery results to plot")
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("restart to first read, %d znodes (median, min-max)", r.Znodes)
	p.Y.Label.Text = "seconds"
	p.Y.Min = 0
	bars, err := plotter.NewBarChart(vals, vg.Points(40))
	if err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	bars.Color = plotutil.Color(0)
	p.Add(bars)
	xy := make(plotter.XYs, len(vals))
	for i, v := range vals {
		xy[i] = plotter.XY{X: float64(i), Y: v}
	}
	eb, err := plotter.NewYErrorBars(struct {
		plotter.XYer
		plotter.YErrorer
	}{xy, errs})
	if err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	p.Add(eb)
	p.NominalX(names...)
	return save(p, path)
}
