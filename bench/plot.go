package bench

import (
	"fmt"
	"math"
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

// spread is the lowest and highest of a figure over a cell's runs.
func spread(c PointResult, fig func(Report) float64) (lo, hi float64) {
	for i, r := range c.Runs {
		v := fig(r)
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	return lo, hi
}

// rangeBars are error bars from each point's value down to lo and up to
// hi: the spread of the runs around their median.
type rangeBars struct {
	plotter.XYs
	lo, hi []float64
}

func (r rangeBars) YError(i int) (float64, float64) {
	return r.XYs[i].Y - r.lo[i], r.hi[i] - r.XYs[i].Y
}

func (r rangeBars) XError(int) (float64, float64) { return 0, 0 }

// WriteThroughputPlot draws median throughput against sessions for the
// workload's points, one line per target with the runs' min-max as error
// bars, to path (.svg or .png). The sessions axis is logarithmic with a
// tick at each point's session count.
func (s *SuiteResult) WriteThroughputPlot(path, workload string) error {
	labels, sessions := s.sessionSeries(workload)
	if len(labels) == 0 {
		return fmt.Errorf("bench: no %q points with s=N labels to plot", workload)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s throughput vs sessions (median of %d, min-max)", workload, s.Repeat)
	p.X.Label.Text = "sessions"
	p.Y.Label.Text = "ops/s"
	p.Y.Min = 0
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for _, n := range sessions {
		ticks = append(ticks, plot.Tick{Value: float64(n), Label: strconv.Itoa(n)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = float64(sessions[0])/1.3, float64(sessions[len(sessions)-1])*1.3
	p.Legend.Top = true
	p.Legend.Left = true
	for ti, t := range s.Targets {
		var rb rangeBars
		for i, l := range labels {
			c, ok := s.cell(l, t)
			if !ok {
				continue
			}
			lo, hi := spread(c, func(r Report) float64 { return r.OpsPerSec })
			rb.XYs = append(rb.XYs, plotter.XY{X: float64(sessions[i]), Y: c.Median.OpsPerSec})
			rb.lo, rb.hi = append(rb.lo, lo), append(rb.hi, hi)
		}
		if len(rb.XYs) == 0 {
			continue
		}
		if err := addSeries(p, ti, t, rb); err != nil {
			return err
		}
	}
	return save(p, path)
}

// addSeries adds one target's line, its points and its min-max bars.
func addSeries(p *plot.Plot, i int, name string, rb rangeBars) error {
	l, pts, err := plotter.NewLinePoints(rb.XYs)
	if err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	l.Color, pts.Color = plotutil.Color(i), plotutil.Color(i)
	pts.Shape = plotutil.Shape(i)
	eb, err := plotter.NewYErrorBars(rb)
	if err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	eb.Color = plotutil.Color(i)
	p.Add(l, pts, eb)
	p.Legend.Add(name, l, pts)
	return nil
}

// WritePointsPlot draws every point of the suite: grouped bars, one per
// target, of the median of fig over the runs, with their min-max, to path
// (.svg or .png). fig is "ops" (throughput) or "p99" (p99 latency, on a
// log scale with ticks at 1-2-5 steps).
func (s *SuiteResult) WritePointsPlot(path, fig string) error {
	get := func(r Report) float64 { return r.OpsPerSec }
	p := plot.New()
	switch fig {
	case "ops":
		p.Title.Text = fmt.Sprintf("throughput, every point (median of %d, min-max)", s.Repeat)
		p.Y.Label.Text = "ops/s"
		p.Y.Min = 0
	case "p99":
		get = func(r Report) float64 { return max(r.P99Ms, 0.001) } // log scale needs > 0
		p.Title.Text = fmt.Sprintf("p99 latency, every point (median of %d, min-max)", s.Repeat)
		p.Y.Label.Text = "p99 ms (log scale)"
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = readableLogTicks{}
	default:
		return fmt.Errorf("bench: no figure %q to plot (ops, p99)", fig)
	}
	if len(s.Points) == 0 || len(s.Targets) == 0 {
		return fmt.Errorf("bench: no points to plot")
	}
	// Each target's bars sit at point index + its offset, in data units,
	// so its min-max bars (placed in data units) stand on them.
	step := 0.8 / float64(len(s.Targets))
	w := vg.Points(36 / float64(len(s.Targets)))
	any := false
	for ti, t := range s.Targets {
		off := step * (float64(ti) - float64(len(s.Targets)-1)/2)
		vals := make(plotter.Values, len(s.Points))
		var rb rangeBars
		for i, pt := range s.Points {
			c, ok := s.cell(pt, t)
			if !ok {
				continue // no bar, no mark where the cell failed
			}
			any = true
			vals[i] = get(c.Median)
			lo, hi := spread(c, get)
			rb.XYs = append(rb.XYs, plotter.XY{X: float64(i) + off, Y: vals[i]})
			rb.lo, rb.hi = append(rb.lo, lo), append(rb.hi, hi)
		}
		if fig == "ops" {
			bars, err := plotter.NewBarChart(vals, w)
			if err != nil {
				return fmt.Errorf("bench: plot: %w", err)
			}
			bars.XMin = off
			bars.Color = plotutil.Color(ti)
			bars.LineStyle.Width = 0
			p.Add(bars)
			p.Legend.Add(t, bars)
		} else if len(rb.XYs) > 0 {
			// A log axis has no zero for bars to stand on: marks.
			sc, err := plotter.NewScatter(rb.XYs)
			if err != nil {
				return fmt.Errorf("bench: plot: %w", err)
			}
			sc.Color, sc.Shape, sc.Radius = plotutil.Color(ti), plotutil.Shape(ti), vg.Points(4)
			p.Add(sc)
			p.Legend.Add(t, sc)
		}
		if len(rb.XYs) > 0 {
			eb, err := plotter.NewYErrorBars(rb)
			if err != nil {
				return fmt.Errorf("bench: plot: %w", err)
			}
			p.Add(eb)
		}
	}
	if !any {
		return fmt.Errorf("bench: no results to plot")
	}
	p.NominalX(s.Points...)
	p.X.Min, p.X.Max = -0.5, float64(len(s.Points))-0.5
	if fig == "p99" {
		// Room above and below the marks (the data range ends at them).
		p.Y.Min, p.Y.Max = p.Y.Min/1.5, p.Y.Max*1.5
	} else {
		p.Y.Max *= 1.15 // room for the legend
	}
	p.X.Tick.Label.Rotation = 0.35
	p.X.Tick.Label.XAlign = -0.9
	p.Legend.Top = true
	return save(p, path)
}

// readableLogTicks marks a log axis at 1, 2 and 5 times each power of
// ten in range, labelled as plain numbers (0.5, 1, 20), instead of
// plot.LogTicks' exponents.
type readableLogTicks struct{}

func (readableLogTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi >= lo) || math.IsInf(hi, 0) {
		return nil
	}
	var out []plot.Tick
	for e := math.Floor(math.Log10(lo)) - 1; e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < lo || v > hi {
				continue
			}
			out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		}
	}
	return out
}

// WriteLatencyPlot draws the latency percentiles (p50 .. max) of one point
// for every target, to path (.svg or .png), on a log scale with ticks at
// 1-2-5 steps.
func (s *SuiteResult) WriteLatencyPlot(path, point string) error {
	names := []string{"p50", "p90", "p99", "p99.9", "max"}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("latency percentiles, %s (median of %d, min-max)", point, s.Repeat)
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "ms (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = readableLogTicks{}
	p.NominalX(names...)
	p.Legend.Top = true
	p.Legend.Left = true
	figs := []func(Report) float64{
		func(r Report) float64 { return r.P50Ms }, func(r Report) float64 { return r.P90Ms },
		func(r Report) float64 { return r.P99Ms }, func(r Report) float64 { return r.P999Ms },
		func(r Report) float64 { return r.MaxMs },
	}
	drawn := false
	for ti, t := range s.Targets {
		c, ok := s.cell(point, t)
		if !ok {
			continue
		}
		var rb rangeBars
		for i, f := range figs {
			lo, hi := spread(c, f)
			rb.XYs = append(rb.XYs, plotter.XY{X: float64(i), Y: max(f(c.Median), 0.001)}) // log scale needs > 0
			rb.lo, rb.hi = append(rb.lo, max(lo, 0.001)), append(rb.hi, max(hi, 0.001))
		}
		if err := addSeries(p, ti, t, rb); err != nil {
			return err
		}
		drawn = true
	}
	if !drawn {
		return fmt.Errorf("bench: no results for %q to plot", point)
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
