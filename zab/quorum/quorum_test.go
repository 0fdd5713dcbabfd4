package quorum

import (
	"math/rand/v2"
	"testing"

	"zabd/log"
)

func TestMajority(t *testing.T) {
	if _, err := NewMajority(1, 2, 2); err == nil {
		t.Fatal("duplicate voter accepted")
	}
	for _, tc := range []struct {
		voters []ID
		size   int
	}{{nil, 1}, {[]ID{1}, 1}, {[]ID{1, 2}, 2}, {[]ID{1, 2, 3}, 2}, {[]ID{1, 2, 3, 4}, 3}, {[]ID{1, 2, 3, 4, 5}, 3}} {
		m, err := NewMajority(tc.voters...)
		if err != nil {
			t.Fatal(err)
		}
		if m.Size() != tc.size {
			t.Errorf("%v: Size %d, want %d", tc.voters, m.Size(), tc.size)
		}
	}
	var none Majority
	if none.Has(func(ID) bool { return true }) || none.Committed(func(ID) log.Zxid { return 9 }) != 0 {
		t.Fatal("no voters: a quorum")
	}
	m, _ := NewMajority(5, 1, 3)
	if !m.IsVoter(3) || m.IsVoter(2) {
		t.Fatal("IsVoter wrong")
	}
	// An observer (9) acking or agreeing never counts.
	if m.Has(func(id ID) bool { return id == 1 || id == 9 }) {
		t.Fatal("one voter and an observer made a quorum of 3 voters")
	}
	if got := m.Committed(func(id ID) log.Zxid { return map[ID]log.Zxid{1: 7, 3: 4, 5: 2, 9: 100}[id] }); got != 4 {
		t.Fatalf("Committed = %v, want 4 (the 2nd greatest of 7, 4, 2)", got)
	}
}

// Committed agrees with the definition, counted naively: the greatest z
// such that a quorum of voters acked at least z.
func TestCommittedAgainstNaiveCount(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		n := 1 + r.IntN(7)
		var voters []ID
		for i := range n {
			voters = append(voters, ID(i+1))
		}
		m, _ := NewMajority(voters...)
		acks := map[ID]log.Zxid{}
		for _, id := range voters {
			if r.IntN(4) > 0 {
				acks[id] = log.Zxid(r.IntN(10))
			}
		}
		acks[99] = log.Zxid(r.IntN(20)) // an observer
		got := m.Committed(func(id ID) log.Zxid { return acks[id] })
		var want log.Zxid
		for z := log.Zxid(0); z < 20; z++ {
			if m.Has(func(id ID) bool { return m.IsVoter(id) && acks[id] >= z }) {
				want = z
			}
		}
		if got != want {
			t.Fatalf("voters %v acks %v: Committed %v, want %v", voters, acks, got, want)
		}
	}
}

func BenchmarkCommitted(b *testing.B) {
	for _, n := range []int{3, 5, 7} {
		var voters []ID
		for i := range n {
			voters = append(voters, ID(i+1))
		}
		m, _ := NewMajority(voters...)
		acks := make([]log.Zxid, n+1)
		for i := range acks {
			acks[i] = log.Zxid(i * 3 % 7)
		}
		b.Run("voters="+string(rune('0'+n)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.Committed(func(id ID) log.Zxid { return acks[id] })
			}
		})
	}
}
