package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"zabd/tools/logread"
)

// quietFlag turns progress off; progress is shown only on a terminal.
var quietFlag = &cli.BoolFlag{Name: "quiet", Usage: "no progress line on a terminal"}

// progressLine shows a long read's progress on stderr, on one line
// rewritten a few times a second: txns read, txns/s, and where the
// engine can tell, percent and time left.
type progressLine struct {
	w            io.Writer
	what         string
	began, shown time.Time
	n            int
	shownAny     bool
}

// showReadProgress attaches a progress line to d's reads when stderr is a
// terminal, --quiet is not set and (for a command printing the data)
// stdout is not the same terminal. It returns a func that clears the
// line.
func showReadProgress(c *cli.Context, d *logread.DataDir, what string, printsToStdout bool) func() {
	if c.Bool("quiet") || !benchIsTerminal(c.App.ErrWriter) {
		return func() {}
	}
	if f, ok := c.App.Writer.(*os.File); printsToStdout && ok && term.IsTerminal(int(f.Fd())) {
		return func() {}
	}
	p := &progressLine{w: c.App.ErrWriter, what: what, began: time.Now(), shown: time.Now()}
	d.Progress = p.update
	return p.clear
}

func (p *progressLine) update(_ logread.Record, frac float64) {
	p.n++
	if p.n%1024 != 0 {
		return
	}
	now := time.Now()
	if now.Sub(p.shown) < 250*time.Millisecond {
		return
	}
	p.shown = now
	el := now.Sub(p.began)
	line := fmt.Sprintf("%s: %d txns, %.0f txns/s", p.what, p.n, float64(p.n)/el.Seconds())
	if frac > 0.001 {
		left := time.Duration(float64(el) * (1 - frac) / frac)
		line += fmt.Sprintf(", %.0f%%, about %v left", frac*100, left.Round(time.Second))
	}
	fmt.Fprintf(p.w, "\r%s\033[K", line)
	p.shownAny = true
}

func (p *progressLine) clear() {
	if p.shownAny {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
