package catchup

import (
	"math/rand/v2"
	"slices"
	"testing"

	"zabd/log"
)

// sliceLog is a leader's log: zxids ascending, from the oldest kept.
type sliceLog []log.Zxid

func (l sliceLog) Bounds() (log.Zxid, log.Zxid) {
	if len(l) == 0 {
		return 0, 0
	}
	return l[0], l[len(l)-1]
}

func (l sliceLog) Floor(z log.Zxid) (log.Zxid, bool) {
	if len(l) == 0 || z < l[0] {
		return 0, false
	}
	i, _ := slices.BinarySearch(l, z+1)
	return l[i-1], true
}

func zx(e, c uint32) log.Zxid { return log.MakeZxid(e, c) }

func TestPlan(t *testing.T) {
	leader := sliceLog{zx(1, 1), zx(1, 2), zx(1, 3), zx(2, 1), zx(2, 2), zx(3, 1)}
	purged := leader[2:] // oldest kept: 0x100000003
	for _, tc := range []struct {
		name    string
		learner log.Zxid
		log     sliceLog
		whole   bool
		tooBig  bool
		want    Decision
	}{
		{"up to date", zx(3, 1), leader, true, false, Decision{Kind: Diff, After: zx(3, 1)}},
		{"behind, in the log", zx(1, 2), leader, true, false, Decision{Kind: Diff, After: zx(1, 2)}},
		{"empty learner, whole log", 0, leader, true, false, Decision{Kind: Diff, After: 0}},
		{"empty learner, purged log", 0, purged, false, false, Decision{Kind: Snap}},
		{"behind the oldest kept", zx(1, 1), purged, false, false, Decision{Kind: Snap}},
		{"at the oldest kept", zx(1, 3), purged, false, false, Decision{Kind: Diff, After: zx(1, 3)}},
		{"ahead in the leader's last epoch", zx(3, 4), leader, true, false, Decision{Kind: Trunc, TruncTo: zx(3, 1)}},
		{"old epoch the leader never finished", zx(1, 9), leader, true, false, Decision{Kind: TruncDiff, TruncTo: zx(1, 3), After: zx(1, 3)}},
		{"in a gap of skipped zxids", zx(2, 5), sliceLog{zx(2, 1), zx(2, 9)}, true, false, Decision{Kind: TruncDiff, TruncTo: zx(2, 1), After: zx(2, 1)}},
		{"below a whole log's first", zx(1, 1), sliceLog{zx(2, 1)}, true, false, Decision{Kind: TruncDiff, TruncTo: 0, After: 0}},
		{"leader logged nothing", zx(1, 4), nil, true, false, Decision{Kind: Trunc, TruncTo: 0}},
		{"leader logged nothing past its snapshot", zx(1, 4), nil, false, false, Decision{Kind: Snap}},
		{"diff too big", zx(1, 1), leader, true, true, Decision{Kind: Snap}},
		{"trunc+diff too big", zx(1, 9), leader, true, true, Decision{Kind: Snap}},
		{"up to date is never too big", zx(3, 1), leader, true, true, Decision{Kind: Diff, After: zx(3, 1)}},
	} {
		in := Input{Learner: tc.learner, Log: tc.log, Whole: tc.whole}
		if tc.tooBig {
			in.TooBig = func(log.Zxid) bool { return true }
		}
		got := Plan(in)
		got.Why = ""
		if got != tc.want {
			t.Errorf("%s: Plan = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// history builds a leader's history and a learner's log that follows
// ZAB's prefix property: they share a prefix; the learner may stop early,
// or go on in the epoch where they part with txns the leader never got
// (an old leader's uncommitted proposals) while the leader went on in
// later epochs. Counters may skip (zabd skips the zxids of writes refused
// for a full disk).
func history(r *rand.Rand) (leader, learner []log.Zxid) {
	var all []log.Zxid
	epoch, counter := uint32(1), uint32(0)
	n := r.IntN(30)
	for range n {
		if r.IntN(8) == 0 {
			epoch, counter = epoch+1, 0
		}
		counter += uint32(1 + r.IntN(2))
		all = append(all, zx(epoch, counter))
	}
	leader = all
	cut := r.IntN(len(all) + 1)
	learner = slices.Clone(all[:cut])
	if r.IntN(2) == 0 {
		// The learner logged more in one epoch than the leader has: an
		// old leader's proposals that were never committed. By the
		// prefix property it then has everything the leader has of that
		// epoch and before (that old leader sent them in order), and the
		// extra txns follow; the leader's history went on in later
		// epochs, if at all.
		e := uint32(1)
		if cut > 0 {
			e = all[cut-1].Epoch()
		}
		end := cut
		for end < len(all) && all[end].Epoch() <= e {
			end++
		}
		learner = slices.Clone(all[:end])
		c := uint32(0)
		if end > 0 && all[end-1].Epoch() == e {
			c = all[end-1].Counter()
		}
		for range 1 + r.IntN(4) {
			c += uint32(1 + r.IntN(2))
			learner = append(learner, zx(e, c))
		}
	}
	return leader, learner
}

// apply carries out d on the learner's log, with the leader's whole
// history to draw txns and snapshots from.
func apply(d Decision, learner, leaderAll []log.Zxid) []log.Zxid {
	switch d.Kind {
	case Snap:
		return slices.Clone(leaderAll)
	case Trunc, TruncDiff:
		i, _ := slices.BinarySearch(learner, d.TruncTo+1)
		learner = learner[:i]
	}
	if d.Kind == Diff || d.Kind == TruncDiff {
		i, _ := slices.BinarySearch(leaderAll, d.After+1)
		learner = append(learner, leaderAll[i:]...)
	}
	return learner
}

// Whatever the histories, carrying out the plan leaves the learner with
// exactly the leader's history; a DIFF sends from a zxid the learner has
// (or from nothing); a whole log never needs a snapshot; a purged one
// needs one only when the learner is behind what it kept.
func TestPlanBringsLearnersUpToDate(t *testing.T) {
	kinds := map[Kind]int{}
	for seed := range uint64(5000) {
		r := rand.New(rand.NewPCG(seed, 1))
		leaderAll, learner := history(r)
		kept := leaderAll
		whole := r.IntN(2) == 0
		if !whole && len(leaderAll) > 0 {
			kept = leaderAll[r.IntN(len(leaderAll)):]
		}
		d := Plan(Input{Learner: lastOf(learner), Log: sliceLog(kept), Whole: whole})
		kinds[d.Kind]++
		got := apply(d, slices.Clone(learner), leaderAll)
		if !slices.Equal(got, leaderAll) {
			t.Fatalf("seed %d: %v on learner %v (leader %v, kept %v, whole %v) gives %v", seed, d, learner, leaderAll, kept, whole, got)
		}
		if d.Kind == Diff || d.Kind == TruncDiff {
			if i, found := slices.BinarySearch(learner, d.After); d.After != 0 && (!found || (d.Kind == Diff && i != len(learner)-1)) {
				t.Fatalf("seed %d: %v sends after %v, which the learner %v does not end at", seed, d, d.After, learner)
			}
		}
		if whole && d.Kind == Snap {
			t.Fatalf("seed %d: SNAP from a whole log (learner %v, leader %v)", seed, learner, leaderAll)
		}
		if d.Kind == Snap && len(kept) > 0 && lastOf(learner) >= kept[0] {
			t.Fatalf("seed %d: SNAP though the learner's last %v is within the kept log from %v", seed, lastOf(learner), kept[0])
		}
	}
	for _, k := range []Kind{Diff, Trunc, TruncDiff, Snap} {
		if kinds[k] < 100 {
			t.Errorf("only %d of 5000 histories gave %v: the generator misses a case (%v)", kinds[k], k, kinds)
		}
	}
}

func lastOf(l []log.Zxid) log.Zxid {
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1]
}
