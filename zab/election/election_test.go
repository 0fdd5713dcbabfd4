package election

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBetter(t *testing.T) {
	for _, tc := range []struct {
		a, b Vote
		want bool
	}{
		{Vote{1, 5, 2}, Vote{9, 9, 1}, true},  // epoch first
		{Vote{1, 6, 2}, Vote{9, 5, 2}, true},  // then zxid
		{Vote{3, 5, 2}, Vote{2, 5, 2}, true},  // then id
		{Vote{2, 5, 2}, Vote{2, 5, 2}, false}, // not better than itself
		{Vote{1, 0, 0}, Vote{}, true},         // any vote beats an observer's
	} {
		if got := Better(tc.a, tc.b); got != tc.want {
			t.Errorf("Better(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if tc.want && Better(tc.b, tc.a) {
			t.Errorf("Better(%v, %v) and the reverse both hold", tc.b, tc.a)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{ID: 1},
		{ID: 4, Voters: []ID{1, 2, 3}},
		{ID: 1, Voters: []ID{1, 2, 2}},
		{ID: 1, Voters: []ID{0, 1}},
		{ID: 1, Voters: []ID{1, 2}, Observers: []ID{2}},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

// member is one simulated server: its election and what it starts with.
type member struct {
	e     *Election
	zxid  uint64
	epoch uint32
	down  bool // neither sends nor receives
}

// sim runs members over an in-memory network, every choice drawn from one
// seed: which pending message is delivered next, whether it is dropped or
// duplicated, and when members tick.
type sim struct {
	t        *testing.T
	rng      *rand.Rand
	members  map[ID]*member
	ids      []ID
	pending  []Notification
	dropPct  int
	dupPct   int
	cut      map[[2]ID]bool // directed links that lose everything
	steps    int
	maxSteps int
}

func newSim(t *testing.T, seed uint64, voters []ID, observers []ID, state func(ID) (uint64, uint32)) *sim {
	s := &sim{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), members: map[ID]*member{}, cut: map[[2]ID]bool{}, maxSteps: 200000}
	for _, id := range append(slices.Clone(voters), observers...) {
		e, err := New(Config{ID: id, Voters: voters, Observers: observers})
		if err != nil {
			t.Fatal(err)
		}
		z, ep := state(id)
		s.members[id] = &member{e: e, zxid: z, epoch: ep}
		s.ids = append(s.ids, id)
	}
	slices.Sort(s.ids)
	return s
}

func (s *sim) start(id ID) {
	m := s.members[id]
	m.e.Start(m.zxid, m.epoch)
	s.collect(id)
}

func (s *sim) collect(id ID) {
	for _, n := range s.members[id].e.Outbox() {
		if s.members[id].down || s.cut[[2]ID{n.From, n.To}] {
			continue
		}
		s.pending = append(s.pending, n)
	}
}

// step delivers one pending message (in random order), or, when the
// network is empty or by chance, ticks every member.
func (s *sim) step(tickPct int) {
	s.steps++
	if len(s.pending) == 0 || s.rng.IntN(100) < tickPct {
		for _, id := range s.ids {
			if !s.members[id].down {
				s.members[id].e.Tick()
				s.collect(id)
			}
		}
		return
	}
	i := s.rng.IntN(len(s.pending))
	n := s.pending[i]
	s.pending = slices.Delete(s.pending, i, i+1)
	if s.rng.IntN(100) < s.dropPct {
		return
	}
	if s.rng.IntN(100) < s.dupPct {
		s.pending = append(s.pending, n)
	}
	to := s.members[n.To]
	if to == nil || to.down {
		return
	}
	to.e.Step(n)
	s.collect(n.To)
}

// runUntil steps until every member in ids decided, or fails.
func (s *sim) runUntil(ids []ID, tickPct int) {
	s.t.Helper()
	for ; s.steps < s.maxSteps; s.step(tickPct) {
		all := true
		for _, id := range ids {
			if _, ok := s.members[id].e.Decision(); !ok {
				all = false
				break
			}
		}
		if all {
			return
		}
	}
	s.t.Fatalf("not all of %v decided in %d steps: %s", ids, s.maxSteps, s.describe())
}

func (s *sim) describe() string {
	out := ""
	for _, id := range s.ids {
		m := s.members[id]
		d, _ := m.e.Decision()
		out += fmt.Sprintf("\n  %d: %s round %d proposal %s decided %+v", id, m.e.State(), m.e.Round(), m.e.Proposal(), d)
	}
	return out
}

// best is the vote that wins among the voters that are up.
func (s *sim) best(voters []ID) Vote {
	var b Vote
	for _, id := range voters {
		m := s.members[id]
		if v := (Vote{Leader: id, Zxid: m.zxid, PeerEpoch: m.epoch}); !m.down && Better(v, b) {
			b = v
		}
	}
	return b
}

func ids(n int) []ID {
	out := make([]ID, n)
	for i := range out {
		out[i] = ID(i + 1)
	}
	return out
}

// When every message sent before a tick is delivered before it (in any
// order), every member decides the best vote: the voter with the highest
// (epoch, zxid, id) leads, the other voters follow, observers observe.
func TestAllDecideTheBestVote(t *testing.T) {
	for _, size := range []int{1, 3, 5} {
		for seed := range uint64(300) {
			voters := ids(size)
			observers := []ID{10, 11}
			r := rand.New(rand.NewPCG(seed, 7))
			zx := map[ID]uint64{}
			ep := map[ID]uint32{}
			for _, id := range voters {
				ep[id] = uint32(r.IntN(2) + 1)
				zx[id] = uint64(r.IntN(3))
			}
			s := newSim(t, seed, voters, observers, func(id ID) (uint64, uint32) { return zx[id], ep[id] })
			for _, id := range s.ids {
				s.start(id)
			}
			s.runUntil(s.ids, 0) // ticks only when the network is empty
			want := s.best(voters)
			for _, id := range s.ids {
				d, _ := s.members[id].e.Decision()
				wantState := Following
				switch {
				case id >= 10:
					wantState = Observing
				case id == want.Leader:
					wantState = Leading
				}
				if d.Vote != want || d.State != wantState {
					t.Fatalf("size %d seed %d: member %d decided %s %v, want %s %v%s", size, seed, id, d.State, d.Vote, wantState, want, s.describe())
				}
			}
		}
	}
}

// With messages dropped, duplicated and delayed past ticks, every member
// still decides (resends), every decision names a voter, and a voter that
// leads decided so for itself.
func TestDecidesDespiteLossAndDelay(t *testing.T) {
	for seed := range uint64(300) {
		voters := ids(5)
		s := newSim(t, seed, voters, []ID{9}, func(id ID) (uint64, uint32) { return uint64(id % 3), 1 })
		s.dropPct, s.dupPct = 20, 10
		for _, id := range s.ids {
			s.start(id)
		}
		s.runUntil(s.ids, 5)
		for _, id := range s.ids {
			d, _ := s.members[id].e.Decision()
			if !slices.Contains(voters, d.Vote.Leader) {
				t.Fatalf("seed %d: member %d follows %d, not a voter%s", seed, id, d.Vote.Leader, s.describe())
			}
			if (d.State == Leading) != (d.Vote.Leader == id) {
				t.Fatalf("seed %d: member %d decided %s for %s%s", seed, id, d.State, d.Vote, s.describe())
			}
		}
	}
}

// A minority cut off from the rest never decides; the majority does, and
// once the cut heals the minority joins the leader the majority chose.
func TestMinorityNeverDecidesAlone(t *testing.T) {
	for seed := range uint64(100) {
		voters := ids(5)
		s := newSim(t, seed, voters, nil, func(id ID) (uint64, uint32) { return uint64(10 - id), 1 })
		minority, majority := []ID{1, 2}, []ID{3, 4, 5}
		for _, a := range minority {
			for _, b := range majority {
				s.cut[[2]ID{a, b}], s.cut[[2]ID{b, a}] = true, true
			}
		}
		for _, id := range s.ids {
			s.start(id)
		}
		s.runUntil(majority, 10)
		for range 2000 {
			s.step(10)
		}
		for _, id := range minority {
			if d, ok := s.members[id].e.Decision(); ok {
				t.Fatalf("seed %d: member %d of the minority decided %+v%s", seed, id, d, s.describe())
			}
		}
		leader, _ := s.members[3].e.Decision()
		clear(s.cut)
		s.runUntil(s.ids, 10)
		for _, id := range minority {
			if d, _ := s.members[id].e.Decision(); d.Vote.Leader != leader.Vote.Leader || d.State != Following {
				t.Fatalf("seed %d: after the cut healed member %d decided %+v, want to follow %d%s", seed, id, d, leader.Vote.Leader, s.describe())
			}
		}
	}
}

// A member that starts looking after the others decided joins their
// leader, but only once the leader itself says it leads: followers alone
// are not enough (ZooKeeper's checkLeader).
func TestLateJoinerNeedsTheLeader(t *testing.T) {
	voters := ids(5)
	s := newSim(t, 1, voters, nil, func(id ID) (uint64, uint32) { return uint64(id), 1 })
	others := []ID{2, 3, 4, 5}
	for _, id := range others {
		s.start(id)
	}
	s.runUntil(others, 0)
	if d, _ := s.members[5].e.Decision(); d.State != Leading {
		t.Fatalf("5 decided %+v, want leading", d)
	}
	// 1 starts with the leader unreachable: three followers saying
	// FOLLOWING 5 are a quorum, but must not make it decide.
	s.cut[[2]ID{5, 1}], s.cut[[2]ID{1, 5}] = true, true
	s.start(1)
	for range 500 {
		s.step(10)
	}
	if d, ok := s.members[1].e.Decision(); ok {
		t.Fatalf("1 decided %+v without hearing from the leader%s", d, s.describe())
	}
	clear(s.cut)
	s.runUntil(voters, 10)
	if d, _ := s.members[1].e.Decision(); d.State != Following || d.Vote.Leader != 5 {
		t.Fatalf("1 decided %+v, want to follow 5", d)
	}
}

// One seed replays a run exactly.
func TestSimulationReplays(t *testing.T) {
	run := func() string {
		s := newSim(t, 42, ids(5), []ID{7}, func(id ID) (uint64, uint32) { return uint64(id % 2), 1 })
		s.dropPct, s.dupPct = 20, 10
		for _, id := range s.ids {
			s.start(id)
		}
		s.runUntil(s.ids, 5)
		return fmt.Sprintf("%d steps%s", s.steps, s.describe())
	}
	if a, b := run(), run(); a != b {
		t.Fatalf("same seed, different runs:\n%s\n%s", a, b)
	}
}

// Scripted: the finalize wait lets a better vote in; a member that hears
// nothing resends with doubling intervals.
func TestFinalizeAndResend(t *testing.T) {
	e, err := New(Config{ID: 1, Voters: []ID{1, 2, 3}, FinalizeTicks: 3, ResendTicks: 2, MaxResendTicks: 8})
	if err != nil {
		t.Fatal(err)
	}
	e.Start(5, 1)
	if got := len(e.Outbox()); got != 2 {
		t.Fatalf("start sent %d notifications, want 2 (to 2 and 3)", got)
	}
	// 2 votes for 1 in the same round: a quorum, so 1 waits to finalize.
	e.Step(Notification{From: 2, To: 1, State: Looking, Round: 1, Vote: Vote{Leader: 1, Zxid: 5, PeerEpoch: 1}})
	e.Tick()
	e.Tick()
	if _, ok := e.Decision(); ok {
		t.Fatal("decided before the finalize wait was over")
	}
	// 3 has a better vote: 1 adopts it and tells everyone. 1 and 3 now
	// hold it, a quorum: the wait starts again for the new proposal.
	e.Step(Notification{From: 3, To: 1, State: Looking, Round: 1, Vote: Vote{Leader: 3, Zxid: 6, PeerEpoch: 1}})
	if e.Proposal().Leader != 3 {
		t.Fatalf("proposal %v, want 3's", e.Proposal())
	}
	out := e.Outbox()
	if len(out) != 2 || out[0].To != 2 || out[1].To != 3 || out[0].Vote.Leader != 3 {
		t.Fatalf("after adopting 3's vote sent %v", out)
	}
	e.Tick()
	e.Tick()
	if _, ok := e.Decision(); ok {
		t.Fatal("decided before the new finalize wait was over")
	}
	e.Tick()
	if d, ok := e.Decision(); !ok || d.State != Following || d.Vote.Leader != 3 || d.Round != 1 {
		t.Fatalf("after the wait: %+v, %v; want following 3 in round 1", d, ok)
	}
	// Silence: resends after 2, 4 and 8 ticks, then every 8.
	var at []int
	e2, _ := New(Config{ID: 1, Voters: []ID{1, 2, 3}, ResendTicks: 2, MaxResendTicks: 8})
	e2.Start(0, 1)
	e2.Outbox()
	for tick := 1; tick <= 30; tick++ {
		e2.Tick()
		if len(e2.Outbox()) > 0 {
			at = append(at, tick)
		}
	}
	if want := []int{2, 6, 14, 22, 30}; !slices.Equal(at, want) {
		t.Fatalf("resent at ticks %v, want %v", at, want)
	}
}
