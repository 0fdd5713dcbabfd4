package logtool

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// AuditSummary counts events per session and per path prefix.
type AuditSummary struct {
	// Depth is how many path components a prefix keeps (1: /app for
	// /app/x/y).
	Depth    int
	server   string
	sessions map[int64]*SessionSummary
	prefixes map[string]*PrefixSummary
}

// SessionSummary is what one session did.
type SessionSummary struct {
	Session     string         `json:"session"`
	Client      string         `json:"client,omitempty"`
	User        string         `json:"user,omitempty"`
	First       string         `json:"first"`
	Last        string         `json:"last"`
	Operations  map[string]int `json:"operations"`
	Failures    int            `json:"failures"`
	first, last int64
	id          int64
}

// PrefixSummary is what was done under one path prefix.
type PrefixSummary struct {
	Prefix     string         `json:"prefix"`
	Operations map[string]int `json:"operations"`
	Failures   int            `json:"failures"`
	Sessions   int            `json:"sessions"`
	sessions   map[int64]bool
}

// NewAuditSummary summarises by prefixes of depth components (at least 1);
// server names what the server did itself, as AuditWriter does.
func NewAuditSummary(depth int, server string) *AuditSummary {
	return &AuditSummary{Depth: max(depth, 1), server: server,
		sessions: map[int64]*SessionSummary{}, prefixes: map[string]*PrefixSummary{}}
}

// Add counts e.
func (a *AuditSummary) Add(e *AuditEvent) {
	op := e.Operation
	if op == "" {
		op = "unknown"
	}
	fail := 0
	if e.Err != 0 {
		fail = 1
	}
	if !e.ByServer || e.Session != 0 {
		s := a.sessions[e.Session]
		if s == nil {
			s = &SessionSummary{Session: FormatSession(e.Session), Operations: map[string]int{}, first: e.Time, id: e.Session}
			a.sessions[e.Session] = s
		}
		if e.Client != "" {
			s.Client = e.Client
		}
		if u := e.User(a.server); u != "" && !e.ByServer {
			s.User = u
		}
		s.first, s.last = min(s.first, e.Time), max(s.last, e.Time)
		s.Operations[op]++
		s.Failures += fail
	}
	if e.Znode == "" {
		return
	}
	prefix := PathPrefixOf(e.Znode, a.Depth)
	p := a.prefixes[prefix]
	if p == nil {
		p = &PrefixSummary{Prefix: prefix, Operations: map[string]int{}, sessions: map[int64]bool{}}
		a.prefixes[prefix] = p
	}
	p.Operations[op]++
	p.Failures += fail
	p.sessions[e.Session] = true
}

// PathPrefixOf keeps the first depth components of path: /app/x/y at
// depth 1 is /app, at depth 2 /app/x.
func PathPrefixOf(path string, depth int) string {
	n := 0
	for i := 1; i < len(path); i++ {
		if path[i] == '/' {
			n++
			if n == depth {
				return path[:i]
			}
		}
	}
	return path
}

// Sessions returns the sessions in order of first activity.
func (a *AuditSummary) Sessions() []*SessionSummary {
	out := slices.Collect(maps.Values(a.sessions))
	for _, s := range out {
		s.First, s.Last = FormatTime(s.first), FormatTime(s.last)
	}
	slices.SortFunc(out, func(x, y *SessionSummary) int {
		return cmp.Or(cmp.Compare(x.first, y.first), cmp.Compare(x.id, y.id))
	})
	return out
}

// Prefixes returns the prefixes in path order.
func (a *AuditSummary) Prefixes() []*PrefixSummary {
	out := slices.Collect(maps.Values(a.prefixes))
	for _, p := range out {
		p.Sessions = len(p.sessions)
	}
	slices.SortFunc(out, func(x, y *PrefixSummary) int { return cmp.Compare(x.Prefix, y.Prefix) })
	return out
}

// Write prints the summary: text, or one JSON document.
func (a *AuditSummary) Write(w io.Writer, asJSON bool) error {
	sessions, prefixes := a.Sessions(), a.Prefixes()
	if asJSON {
		enc := json.NewEncoder(w)
		return enc.Encode(struct {
			Depth    int               `json:"depth"`
			Sessions []*SessionSummary `json:"sessions"`
			Prefixes []*PrefixSummary  `json:"prefixes"`
		}{a.Depth, sessions, prefixes})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "sessions: %d\n", len(sessions))
	for _, s := range sessions {
		fmt.Fprintf(&b, "  %s client=%s user=%s %s..%s %s failures=%d\n", s.Session, orDash(s.Client), orDash(s.User),
			s.First, s.Last, formatCounts(s.Operations), s.Failures)
	}
	fmt.Fprintf(&b, "paths (prefixes of %d components): %d\n", a.Depth, len(prefixes))
	for _, p := range prefixes {
		fmt.Fprintf(&b, "  %s %s failures=%d sessions=%d\n", p.Prefix, formatCounts(p.Operations), p.Failures, p.Sessions)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func formatCounts(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
