package logtool

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"zabd/log"
	"zabd/tree"
)

// Bound is one end of a range of txns: a zxid or a time. The zero Bound
// bounds nothing.
type Bound struct {
	Zxid log.Zxid
	Time time.Time // set: the bound is a time (the txn's stamp), not a zxid
}

// IsZero reports whether b bounds nothing.
func (b Bound) IsZero() bool { return b.Zxid == 0 && b.Time.IsZero() }

func (b Bound) String() string {
	if !b.Time.IsZero() {
		return b.Time.UTC().Format(time.RFC3339Nano)
	}
	return b.Zxid.String()
}

// ParseZxid reads a zxid written as hex (0x100000003), decimal
// (4294967299) or epoch/counter (1/3).
func ParseZxid(s string) (log.Zxid, error) {
	if e, c, ok := strings.Cut(s, "/"); ok {
		ev, err1 := strconv.ParseUint(e, 10, 32)
		cv, err2 := strconv.ParseUint(c, 10, 32)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("%q is not a zxid: epoch/counter must be two decimal numbers below 2^32", s)
		}
		return log.MakeZxid(uint32(ev), uint32(cv)), nil
	}
	var v uint64
	var err error
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		v, err = strconv.ParseUint(h, 16, 64)
	} else {
		v, err = strconv.ParseUint(s, 10, 64)
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not a zxid (0x hex, decimal, or epoch/counter)", s)
	}
	return log.Zxid(v), nil
}

// ParseBound reads a --from or --to value: a zxid (see ParseZxid), a time
// in RFC 3339 (2026-11-22T01:40:22Z, fractions and offsets allowed), or a
// time relative to now: a minus sign and a duration (-1h, -90s, -2h30m,
// -3d).
func ParseBound(s string, now time.Time) (Bound, error) {
	if s == "" {
		return Bound{}, nil
	}
	if rel, ok := strings.CutPrefix(s, "-"); ok {
		d, err := parseDuration(rel)
		if err != nil {
			return Bound{}, fmt.Errorf("%q: a relative time is a minus sign and a duration such as -1h, -90s or -3d: %v", s, err)
		}
		return Bound{Time: now.Add(-d)}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return Bound{Time: t}, nil
	}
	if strings.ContainsAny(s, "T:") {
		return Bound{}, fmt.Errorf("%q is not an RFC 3339 time such as 2026-11-22T01:40:22Z", s)
	}
	z, err := ParseZxid(s)
	if err != nil {
		return Bound{}, fmt.Errorf("%v, an RFC 3339 time, or a relative time such as -1h", err)
	}
	return Bound{Zxid: z}, nil
}

// parseDuration is time.ParseDuration with whole days ("3d") too.
func parseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(d, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("bad number of days %q", d)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// ParseSession reads a session id: 0x hex (as ZooKeeper prints them) or
// decimal.
func ParseSession(s string) (int64, error) {
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		v, err := strconv.ParseUint(h, 16, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a session id (0x hex or decimal)", s)
		}
		return int64(v), nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a session id (0x hex or decimal)", s)
	}
	return v, nil
}

// txnTypes are the types a logged txn or sub-op can have, by name.
var txnTypes = func() map[string]tree.Op {
	m := map[string]tree.Op{}
	for _, op := range []tree.Op{tree.OpCreate, tree.OpCreate2, tree.OpCreateContainer, tree.OpCreateTTL,
		tree.OpDelete, tree.OpDeleteContainer, tree.OpSetData, tree.OpSetACL, tree.OpCheck, tree.OpMulti,
		tree.OpCreateSession, tree.OpCloseSession, tree.OpReconfig, tree.OpSessionSecret, tree.OpError, tree.OpAuth} {
		m[strings.ToLower(op.String())] = op
	}
	return m
}()

// ParseTypes reads a comma-separated list of txn type names (create,
// delete, setData, multi, createSession, ...; case does not matter).
func ParseTypes(s string) ([]tree.Op, error) {
	var out []tree.Op
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		op, ok := txnTypes[strings.ToLower(name)]
		if !ok {
			var known []string
			for _, op := range txnTypes {
				known = append(known, op.String())
			}
			slices.Sort(known)
			return nil, fmt.Errorf("unknown txn type %q (known: %s)", name, strings.Join(known, ", "))
		}
		out = append(out, op)
	}
	return out, nil
}

// Filter selects txns. The zero Filter selects every txn. A txn must pass
// every part that is set.
type Filter struct {
	// From and To bound the range, both ends included: zxids, or times
	// compared with the txn's time stamp (the leader's clock, so not
	// necessarily in zxid order: a time range reads the whole log).
	From, To Bound
	// PathPrefix: the txn's path, or a multi sub-op's, starts with it (a
	// string prefix: /app matches /app, /app/x and /apple).
	PathPrefix string
	// Session: the txn's session id (HasSession set).
	Session    int64
	HasSession bool
	// Types: the txn's type, or a multi sub-op's, is one of them.
	Types []tree.Op
}

// startZxid is where a read can begin.
func (f *Filter) startZxid() log.Zxid {
	if f.From.Time.IsZero() {
		return f.From.Zxid
	}
	return 0
}

// pastEnd reports that z and every later zxid are past a zxid To.
func (f *Filter) pastEnd(z log.Zxid) bool {
	return f.To.Time.IsZero() && f.To.Zxid != 0 && z > f.To.Zxid
}

// match reports whether a decoded txn passes.
func (f *Filter) match(z log.Zxid, t *tree.Txn) bool {
	if f.From.Zxid != 0 && z < f.From.Zxid || f.To.Zxid != 0 && z > f.To.Zxid {
		return false
	}
	if !f.From.Time.IsZero() && t.Time < f.From.Time.UnixMilli() ||
		!f.To.Time.IsZero() && t.Time > f.To.Time.UnixMilli() {
		return false
	}
	if f.HasSession && t.Session != f.Session {
		return false
	}
	if f.PathPrefix != "" && !f.anyOp(t, func(o *tree.Txn) bool {
		return (hasPath(o.Type) || o.Type == tree.OpError) && o.Path != "" && strings.HasPrefix(o.Path, f.PathPrefix)
	}) {
		return false
	}
	if len(f.Types) > 0 && !f.anyOp(t, func(o *tree.Txn) bool { return slices.Contains(f.Types, o.Type) }) {
		return false
	}
	return true
}

// matchUndecodable: a record that does not decode has only its zxid, so
// it passes when no other part is set.
func (f *Filter) matchUndecodable(z log.Zxid) bool {
	if f.From.Zxid != 0 && z < f.From.Zxid || f.To.Zxid != 0 && z > f.To.Zxid {
		return false
	}
	return f.From.Time.IsZero() && f.To.Time.IsZero() && !f.HasSession && f.PathPrefix == "" && len(f.Types) == 0
}

func (f *Filter) anyOp(t *tree.Txn, pred func(*tree.Txn) bool) bool {
	if pred(t) {
		return true
	}
	for i := range t.Txns {
		if pred(&t.Txns[i]) {
			return true
		}
	}
	return false
}

func hasPath(op tree.Op) bool {
	switch op {
	case tree.OpCreate, tree.OpCreate2, tree.OpCreateContainer, tree.OpCreateTTL, tree.OpDelete,
		tree.OpDeleteContainer, tree.OpSetData, tree.OpReconfig, tree.OpSetACL, tree.OpCheck:
		return true
	}
	return false
}
