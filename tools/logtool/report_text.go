package logtool

import (
	"fmt"
	"io"
	"strings"
)

// maxListed bounds the problems and epochs a text report lists; the rest
// are counted.
const maxListed = 20

// WriteText writes the report for a person: what was read, then SOUND or
// DAMAGED with the first problem, what is intact, and the other problems.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	logDir := ""
	if r.LogDir != r.Dir {
		logDir = ", log dir " + r.LogDir
	}
	p("data dir %s (engine %s%s), read-only", r.Dir, r.Engine, logDir)
	if r.Live.Held {
		p("live: %s; read a consistent prefix of the log, up to zxid %v", r.Live, r.Log.Last)
	}
	if r.ReadErr != nil {
		p("CANNOT READ: %v", r.ReadErr)
		_, err := io.WriteString(w, b.String())
		return err
	}
	if r.Log.Records == 0 {
		p("log: empty")
	} else {
		segs := ""
		if r.Engine == "native" {
			segs = fmt.Sprintf("%d segment%s, ", r.Log.Segments, plural(r.Log.Segments))
		}
		p("log: %s%d txns, zxids %s .. %s", segs, r.Log.Records, FormatZxid(r.Log.First), FormatZxid(r.Log.Last))
	}
	if r.Log.Retries > 0 {
		p("log: read again %d times after a failure beside the running server", r.Log.Retries)
	}
	for i, e := range r.Epochs {
		if i == maxListed && len(r.Epochs) > maxListed+1 {
			p("  ... %d more epochs", len(r.Epochs)-i-1)
			e = r.Epochs[len(r.Epochs)-1]
		} else if i > maxListed {
			continue
		}
		p("  epoch %d: %d txns, counters %d .. %d", e.Epoch, e.Txns, e.First.Counter(), e.Last.Counter())
	}
	ce := "none"
	if r.Markers.CurrentEpoch != 0 {
		ce = fmt.Sprint(r.Markers.CurrentEpoch)
	}
	pb := "never purged"
	if r.Markers.PurgedBelow != 0 {
		pb = "purged below " + r.Markers.PurgedBelow.String()
	}
	p("markers: currentEpoch %s, logPurgedBelow: %s", ce, pb)
	if len(r.Snapshots) == 0 {
		p("snapshots: none")
	}
	for _, s := range r.Snapshots {
		if s.Err != nil {
			p("snapshot %s: UNREADABLE", s.Name)
			continue
		}
		end := "end unknown (format version 1)"
		if s.Meta.EndKnown() {
			end = "end " + s.Meta.EndZxid.String()
		}
		p("snapshot %s: start %v, %s, %d nodes, %d sessions, %d bytes: checksums ok", s.Name, s.Meta.StartZxid, end, s.Nodes, s.Sessions, s.Bytes)
	}
	if r.Recovery != "" {
		p("recovery: %s", r.Recovery)
	}
	for _, w := range r.Warnings {
		p("warning: %s", w)
	}
	if r.Sound() {
		p("SOUND")
	} else {
		p("DAMAGED: %s", r.Problems[0])
		if r.Log.Records > 0 || r.IntactTxns > 0 {
			if r.IntactTxns > 0 {
				p("intact: the log's first %d txns, %s .. %s (the last good zxid)", r.IntactTxns, FormatZxid(r.Log.First), FormatZxid(r.LastGood))
			} else {
				p("intact: no txn of the log before the first problem")
			}
		}
		var good []string
		for _, s := range r.Snapshots {
			if s.Err == nil {
				good = append(good, s.Name)
			}
		}
		if len(good) > 0 {
			p("intact snapshots: %s", strings.Join(good, ", "))
		}
		for i, pr := range r.Problems[1:] {
			if i == maxListed {
				p("... and %d more problems", len(r.Problems)-1-i)
				break
			}
			p("also: %s", pr)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
