package compat

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// A script is a list of steps, each run on one of a few sessions (s0, s1,
// ...) opened lazily on first use. Running a script yields a transcript:
// one line per step with the reply's error code and decoded body, plus the
// watch notifications that session received before that reply. Transcripts
// of two servers are compared line by line after normalisation (see
// normalizer), so they differ exactly where the servers behave differently.

type script struct {
	name  string
	steps []step
}

type step struct {
	s    int    // session index
	desc string // human-readable, printed in the transcript
	// do runs the step; op is the op code whose reply it decodes (0 for
	// steps with no reply to decode).
	op   int32
	body []byte
	// special, when set, replaces the plain call.
	special func(rs *run, s *rawSession) (obs, error)
	// connectMs, when set, opens session s with this timeout instead of
	// the default; s must not be open yet.
	connectMs int32
}

// obs is what a step observed.
type obs struct {
	step   int
	s      int
	desc   string
	err    int32
	closed bool
	// noReply: neither a reply nor a close within quietWait.
	noReply bool
	res     result
	events  []event
	note    string
}

// run is one execution of a script against one server.
type run struct {
	addr     string
	sessions map[int]*rawSession
	owners   map[int64]int // session id -> index
	start    time.Time
	end      time.Time
	obs      []obs
}

const defaultSessionMs = 30000

func (rs *run) session(i int) (*rawSession, error) {
	if s, ok := rs.sessions[i]; ok {
		return s, nil
	}
	s, err := dialSession(rs.addr, defaultSessionMs)
	if err != nil {
		return nil, fmt.Errorf("open session s%d: %w", i, err)
	}
	rs.sessions[i] = s
	rs.owners[s.SessionID] = i
	return s, nil
}

func (rs *run) closeAll() {
	keys := make([]int, 0, len(rs.sessions))
	for k := range rs.sessions {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	for _, k := range keys {
		rs.sessions[k].close()
	}
}

// runScript runs sc against the server at addr and returns its transcript.
// An error means the harness itself failed (no reply in time, a reply that
// does not decode), which is reported as such, not as a difference.
func runScript(addr string, sc script) ([]string, error) {
	rs := &run{addr: addr, sessions: map[int]*rawSession{}, owners: map[int64]int{}, start: time.Now()}
	defer rs.closeAll()
	for i, st := range sc.steps {
		o, err := rs.do(st)
		if err != nil {
			return nil, fmt.Errorf("script %s step %d (s%d %s): %w", sc.name, i, st.s, st.desc, err)
		}
		o.step, o.s, o.desc = i, st.s, st.desc
		rs.obs = append(rs.obs, o)
	}
	rs.end = time.Now()
	return rs.transcript(), nil
}

func (rs *run) do(st step) (obs, error) {
	if st.connectMs != 0 {
		if _, ok := rs.sessions[st.s]; ok {
			return obs{}, fmt.Errorf("session s%d already open", st.s)
		}
		s, err := dialSession(rs.addr, st.connectMs)
		if err != nil {
			return obs{}, err
		}
		rs.sessions[st.s] = s
		rs.owners[s.SessionID] = st.s
	}
	s, err := rs.session(st.s)
	if err != nil {
		return obs{}, err
	}
	if st.special != nil {
		return st.special(rs, s)
	}
	return rs.call(s, st.op, st.body)
}

func (rs *run) call(s *rawSession, op int32, body []byte) (obs, error) {
	r, err := s.call(op, body)
	if errors.Is(err, errClosed) {
		return obs{closed: true, events: s.pendingEvents()}, nil
	}
	if err != nil {
		return obs{}, err
	}
	res, err := decodeReply(op, r)
	if err != nil {
		return obs{}, err
	}
	return obs{err: r.Err, res: res, events: r.Events}, nil
}

// ---- normalisation ----

// normalizer turns values that legitimately differ between servers into
// ones that must not: a zxid becomes its rank among the distinct nonzero
// zxids seen in stats in this run (z1 < z2 < ...; 0 stays 0), a nonzero
// time becomes "t" (times are checked separately, see timeChecks), and an
// ephemeralOwner that is one of the run's sessions becomes its name (s0,
// s1, ...). Everything else is printed as is.
type normalizer struct {
	rank   map[int64]int
	owners map[int64]int
}

func newNormalizer(rs *run) *normalizer {
	seen := map[int64]bool{}
	for _, o := range rs.obs {
		if o.res == nil {
			continue
		}
		for _, st := range o.res.stats() {
			for _, z := range []int64{st.Czxid, st.Mzxid, st.Pzxid} {
				if z != 0 {
					seen[z] = true
				}
			}
		}
	}
	zs := make([]int64, 0, len(seen))
	for z := range seen {
		zs = append(zs, z)
	}
	sort.Slice(zs, func(i, j int) bool { return zs[i] < zs[j] })
	rank := make(map[int64]int, len(zs))
	for i, z := range zs {
		rank[z] = i + 1
	}
	return &normalizer{rank: rank, owners: rs.owners}
}

func (nz *normalizer) zxid(z int64) string {
	if z == 0 {
		return "0"
	}
	return fmt.Sprintf("z%d", nz.rank[z])
}

func (nz *normalizer) time(t int64) string {
	if t == 0 {
		return "0"
	}
	return "t"
}

func (nz *normalizer) owner(o int64) string {
	if o == 0 {
		return "0"
	}
	if i, ok := nz.owners[o]; ok {
		return fmt.Sprintf("s%d", i)
	}
	return fmt.Sprintf("%#x", uint64(o))
}

func (nz *normalizer) stat(st stat) string {
	return fmt.Sprintf("stat{czxid=%s mzxid=%s pzxid=%s ctime=%s mtime=%s version=%d cversion=%d aversion=%d owner=%s dataLength=%d numChildren=%d}",
		nz.zxid(st.Czxid), nz.zxid(st.Mzxid), nz.zxid(st.Pzxid), nz.time(st.Ctime), nz.time(st.Mtime),
		st.Version, st.Cversion, st.Aversion, nz.owner(st.EphemeralOwner), st.DataLength, st.NumChildren)
}

// transcript renders the run, then appends one line per violated time
// relation (there are none on a correct server).
func (rs *run) transcript() []string {
	nz := newNormalizer(rs)
	var out []string
	for _, o := range rs.obs {
		var b strings.Builder
		fmt.Fprintf(&b, "%02d s%d %s => ", o.step, o.s, o.desc)
		switch {
		case o.closed:
			b.WriteString("CONNECTION CLOSED")
		case o.noReply:
			b.WriteString("NO REPLY (connection open)")
		default:
			b.WriteString(codeName(o.err))
			if o.res != nil {
				if r := o.res.render(nz); r != "" {
					b.WriteString(" " + r)
				}
			}
		}
		if o.note != "" {
			b.WriteString(" " + o.note)
		}
		out = append(out, strings.Split(b.String(), "\n")...)
		for _, e := range o.events {
			out = append(out, "     event: "+e.String())
		}
	}
	return append(out, rs.timeChecks()...)
}

// timeChecks returns a line per violated relation between times and zxids
// in this run: a time is 0 only on nodes created at zxid 0, ctime <= mtime,
// times lie within the run's wall-clock window (with 2s slack), and times
// follow zxid order (a later zxid never carries an earlier time).
func (rs *run) timeChecks() []string {
	type stamp struct{ z, t int64 }
	var stamps []stamp
	var bad []string
	lo, hi := rs.start.Add(-2*time.Second).UnixMilli(), rs.end.Add(2*time.Second).UnixMilli()
	for _, o := range rs.obs {
		if o.res == nil {
			continue
		}
		for _, st := range o.res.stats() {
			if st.Ctime > st.Mtime {
				bad = append(bad, fmt.Sprintf("TIME CHECK step %02d: ctime %d > mtime %d", o.step, st.Ctime, st.Mtime))
			}
			for _, p := range []stamp{{st.Czxid, st.Ctime}, {st.Mzxid, st.Mtime}} {
				if p.z == 0 {
					if p.t != 0 {
						// The time itself is left out: it is not the run's to
						// predict (an ensemble's config node).
						bad = append(bad, fmt.Sprintf("TIME CHECK step %02d: zxid 0 with time t, not 0", o.step))
					}
					continue
				}
				if p.t < lo || p.t > hi {
					bad = append(bad, fmt.Sprintf("TIME CHECK step %02d: time %d outside the run [%d, %d]", o.step, p.t, lo, hi))
				}
				stamps = append(stamps, p)
			}
		}
	}
	sort.Slice(stamps, func(i, j int) bool { return stamps[i].z < stamps[j].z })
	for i := 1; i < len(stamps); i++ {
		if stamps[i].t < stamps[i-1].t {
			bad = append(bad, fmt.Sprintf("TIME CHECK: zxid %#x has time %d, before zxid %#x's %d", stamps[i].z, stamps[i].t, stamps[i-1].z, stamps[i-1].t))
		}
	}
	return bad
}

// ---- step constructors ----

func quoteData(d string) string { return fmt.Sprintf("%q", d) }

func modeName(f int32) string {
	switch f {
	case modePersistent:
		return "persistent"
	case modeEphemeral:
		return "ephemeral"
	case modePersistentSeq:
		return "persistent_sequential"
	case modeEphemeralSeq:
		return "ephemeral_sequential"
	case modeContainer:
		return "container"
	case modeTTL:
		return "persistent_ttl"
	case modeTTLSeq:
		return "persistent_sequential_ttl"
	}
	return fmt.Sprintf("flags(%d)", f)
}

// create uses create2 (path and stat back), as the Java client does.
func create(s int, path, data string, flags int32) step {
	return step{s: s, desc: fmt.Sprintf("create2 %q %s %s", path, quoteData(data), modeName(flags)), op: opCreate2, body: encCreate(path, data, openACL, flags)}
}

// create1 uses the original create op (path only back), as go-zookeeper
// and kazoo do.
func create1(s int, path, data string, flags int32) step {
	return step{s: s, desc: fmt.Sprintf("create %q %s %s", path, quoteData(data), modeName(flags)), op: opCreate, body: encCreate(path, data, openACL, flags)}
}

func createACL(s int, path, data string, flags int32, a []acl) step {
	return step{s: s, desc: fmt.Sprintf("create2 %q %s %s acl=%s", path, quoteData(data), modeName(flags), renderACL(a)), op: opCreate2, body: encCreate(path, data, a, flags)}
}

func createTTL(s int, path, data string, flags int32, ttl int64) step {
	return step{s: s, desc: fmt.Sprintf("createTTL %q %s %s ttl=%d", path, quoteData(data), modeName(flags), ttl), op: opCreateTTL, body: encCreateTTL(path, data, openACL, flags, ttl)}
}

func createContainer(s int, path, data string, flags int32) step {
	return step{s: s, desc: fmt.Sprintf("createContainer %q %s %s", path, quoteData(data), modeName(flags)), op: opCreateContainer, body: encCreate(path, data, openACL, flags)}
}

func del(s int, path string, v int32) step {
	return step{s: s, desc: fmt.Sprintf("delete %q v=%d", path, v), op: opDelete, body: encPathInt(path, v)}
}

func exists(s int, path string, watch bool) step {
	return step{s: s, desc: fmt.Sprintf("exists %q watch=%v", path, watch), op: opExists, body: encPathWatch(path, watch)}
}

func get(s int, path string, watch bool) step {
	return step{s: s, desc: fmt.Sprintf("getData %q watch=%v", path, watch), op: opGetData, body: encPathWatch(path, watch)}
}

func set(s int, path, data string, v int32) step {
	return step{s: s, desc: fmt.Sprintf("setData %q %s v=%d", path, quoteData(data), v), op: opSetData, body: encSetData(path, data, v)}
}

func children(s int, path string, watch bool) step {
	return step{s: s, desc: fmt.Sprintf("getChildren %q watch=%v", path, watch), op: opGetChildren, body: encPathWatch(path, watch)}
}

func children2(s int, path string, watch bool) step {
	return step{s: s, desc: fmt.Sprintf("getChildren2 %q watch=%v", path, watch), op: opGetChildren2, body: encPathWatch(path, watch)}
}

func getACL(s int, path string) step {
	return step{s: s, desc: fmt.Sprintf("getACL %q", path), op: opGetACL, body: encPath(path)}
}

func setACL(s int, path string, a []acl, v int32) step {
	return step{s: s, desc: fmt.Sprintf("setACL %q %s v=%d", path, renderACL(a), v), op: opSetACL, body: encSetACL(path, a, v)}
}

func syncStep(s int, path string) step {
	return step{s: s, desc: fmt.Sprintf("sync %q", path), op: opSync, body: encPath(path)}
}

func check(s int, path string, v int32) step {
	return step{s: s, desc: fmt.Sprintf("check %q v=%d (outside multi)", path, v), op: opCheck, body: encPathInt(path, v)}
}

// Watch modes of addWatch, and watcher types of removeWatches/checkWatches.
const (
	watchPersistent          int32 = 0
	watchPersistentRecursive int32 = 1
	wtChildren               int32 = 1
	wtData                   int32 = 2
	wtAny                    int32 = 3
)

func addWatch(s int, path string, mode int32) step {
	m := map[int32]string{watchPersistent: "persistent", watchPersistentRecursive: "persistent_recursive"}[mode]
	if m == "" {
		m = fmt.Sprintf("mode(%d)", mode)
	}
	return step{s: s, desc: fmt.Sprintf("addWatch %q %s", path, m), op: opAddWatch, body: encPathInt(path, mode)}
}

func removeWatches(s int, path string, typ int32) step {
	return step{s: s, desc: fmt.Sprintf("removeWatches %q type=%d", path, typ), op: opRemoveWatches, body: encPathInt(path, typ)}
}

func checkWatches(s int, path string, typ int32) step {
	return step{s: s, desc: fmt.Sprintf("checkWatches %q type=%d", path, typ), op: opCheckWatches, body: encPathInt(path, typ)}
}

func addAuth(s int, scheme, auth string) step {
	return step{s: s, desc: fmt.Sprintf("addauth %s %s", scheme, auth), op: opAuth, body: encAuth(scheme, auth)}
}

func multi(s int, ops ...mop) step {
	return multiOf(s, opMulti, "multi", ops)
}

func multiRead(s int, ops ...mop) step {
	return multiOf(s, opMultiRead, "multiRead", ops)
}

func multiOf(s int, op int32, name string, ops []mop) step {
	var d []string
	for _, o := range ops {
		d = append(d, o.desc)
	}
	return step{s: s, desc: name + " [" + strings.Join(d, "; ") + "]", op: op, body: encMulti(ops)}
}

func allChildren(s int, path string) step {
	return step{s: s, desc: fmt.Sprintf("getAllChildrenNumber %q", path), op: opGetAllChildrenNumber, body: encPath(path)}
}

func ephemerals(s int, prefix string) step {
	return step{s: s, desc: fmt.Sprintf("getEphemerals %q", prefix), op: opGetEphemerals, body: encPath(prefix)}
}

func rawOp(s int, op int32, body []byte, desc string) step {
	return step{s: s, desc: desc, op: op, body: body}
}

// closeSession ends session s (its ephemerals go); later steps on s open a
// new session under the same name.
func closeSession(s int) step {
	return step{s: s, desc: "closeSession", special: func(rs *run, ss *rawSession) (obs, error) {
		o, err := rs.call(ss, opCloseSession, nil)
		if err != nil {
			return o, err
		}
		ss.close()
		delete(rs.sessions, s)
		return o, nil
	}}
}

// flush does a read round trip on s (exists "/" without a watch) and shows
// only the notifications s received before its reply: after another
// session's write returned, its events for s are certain to come first.
func flush(s int) step {
	return step{s: s, desc: "flush", special: func(rs *run, ss *rawSession) (obs, error) {
		o, err := rs.call(ss, opExists, encPathWatch("/", false))
		o.res = nil
		return o, err
	}}
}

// connect opens session s asking for timeoutMs and records the negotiated
// timeout.
func connect(s int, timeoutMs int32) step {
	return step{s: s, connectMs: timeoutMs, desc: fmt.Sprintf("connect timeout=%d", timeoutMs), special: func(rs *run, ss *rawSession) (obs, error) {
		return obs{note: fmt.Sprintf("negotiated=%d", ss.Timeout)}, nil
	}}
}
