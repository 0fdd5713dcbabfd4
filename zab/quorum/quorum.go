// Package quorum answers the one question ZAB asks of a set of voters,
// "has a majority of them done this?", in the two forms the protocol
// needs: a set of members (ACKEPOCH, NEWLEADER acks, election votes) and,
// for broadcast, the greatest zxid a majority has made durable, from each
// voter's cumulative ack (followers log in zxid order and ack through a
// zxid per group commit, so an ack of z covers every proposal up to z).
//
// Observers are not voters: they are never passed in, or are ignored.
// Pure functions of their arguments; no state.
package quorum

import (
	"fmt"
	"slices"

	"zabd/log"
)

// ID is a server id.
type ID = uint64

// Majority is a set of voters, decided by simple majority (ZooKeeper's
// QuorumMaj; hierarchical group/weight quorums are not supported). The
// zero value has no voters and never has a quorum.
type Majority struct {
	voters []ID // sorted, unique
}

// NewMajority makes a majority over voters (duplicates refused).
func NewMajority(voters ...ID) (Majority, error) {
	vs := slices.Sorted(slices.Values(voters))
	for i := 1; i < len(vs); i++ {
		if vs[i] == vs[i-1] {
			return Majority{}, fmt.Errorf("quorum: voter %d listed twice", vs[i])
		}
	}
	return Majority{voters: vs}, nil
}

// Voters returns the voters, ascending. The caller must not modify it.
func (m Majority) Voters() []ID { return m.voters }

// Size is how many voters make a quorum: more than half.
func (m Majority) Size() int { return len(m.voters)/2 + 1 }

// IsVoter reports whether id votes.
func (m Majority) IsVoter(id ID) bool {
	_, ok := slices.BinarySearch(m.voters, id)
	return ok
}

// Has reports whether the members for which in is true include a quorum
// of voters (non-voters are not counted).
func (m Majority) Has(in func(ID) bool) bool {
	if len(m.voters) == 0 {
		return false
	}
	n := 0
	for _, id := range m.voters {
		if in(id) {
			n++
		}
	}
	return n >= m.Size()
}

// Committed returns the greatest zxid that a quorum of voters has acked,
// from each voter's cumulative ack (acked(id) is the greatest zxid id made
// durable, 0 if none): the Size()-th greatest of their acks. Non-voters'
// acks never count. With no voters it is 0.
func (m Majority) Committed(acked func(ID) log.Zxid) log.Zxid {
	if len(m.voters) == 0 {
		return 0
	}
	var small [7]log.Zxid
	zs := small[:0]
	for _, id := range m.voters {
		zs = append(zs, acked(id))
	}
	slices.Sort(zs)
	// Ascending: the quorum-th greatest is at len - Size.
	return zs[len(zs)-m.Size()]
}
