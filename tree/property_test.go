package tree

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// randomWorkload generates requests against the paths a tree has.
type randomWorkload struct {
	rng      *rand.Rand
	sessions []int64
	nextSess int64
}

func (w *randomWorkload) path(tr *Tree) string {
	var paths []string
	tr.Walk("", func(p string, n *Node) bool {
		paths = append(paths, p)
		return true
	})
	if w.rng.IntN(8) == 0 {
		return "/missing/x"
	}
	return paths[w.rng.IntN(len(paths))]
}

func (w *randomWorkload) child(tr *Tree) string {
	p := w.path(tr)
	if p == "/" {
		p = ""
	}
	return p + "/" + string(rune('a'+w.rng.IntN(4)))
}

func (w *randomWorkload) version() int32 {
	if w.rng.IntN(3) == 0 {
		return -1
	}
	return int32(w.rng.IntN(3))
}

func (w *randomWorkload) acl() []ACL {
	switch w.rng.IntN(10) {
	case 0:
		return ReadACLUnsafe
	case 1:
		return CreatorAllACL
	case 2:
		return nil
	}
	return OpenACLUnsafe
}

func (w *randomWorkload) auth() []Id {
	if w.rng.IntN(2) == 0 {
		return []Id{{SchemeIP, "127.0.0.1"}, {SchemeDigest, DigestID("u:p")}}
	}
	return []Id{{SchemeIP, "127.0.0.1"}}
}

// writeOp returns a single write (inMulti restricts it to multi's ops).
func (w *randomWorkload) writeOp(tr *Tree, inMulti bool) Request {
	n := 6
	if !inMulti {
		n = 9
	}
	switch w.rng.IntN(n) {
	case 0, 1:
		mode := CreateMode(w.rng.IntN(7))
		op := OpCreate
		var ttl int64
		switch {
		case mode == ModeContainer && w.rng.IntN(2) == 0:
			op = OpCreateContainer
		case mode == ModePersistentTTL || mode == ModePersistentSeqTTL:
			op, ttl = OpCreateTTL, int64(w.rng.IntN(3))*100
		case w.rng.IntN(3) == 0:
			op = OpCreate2
		}
		return Request{Op: op, Path: w.child(tr), Data: []byte{byte(w.rng.IntN(256))}, ACL: w.acl(), Mode: mode, TTL: ttl}
	case 2:
		return Request{Op: OpDelete, Path: w.path(tr), Version: w.version()}
	case 3:
		return Request{Op: OpSetData, Path: w.path(tr), Data: []byte(fmt.Sprint(w.rng.IntN(100))), Version: w.version()}
	case 4:
		return Request{Op: OpCheck, Path: w.path(tr), Version: w.version()}
	case 5:
		return Request{Op: OpCreate, Path: w.child(tr), ACL: OpenACLUnsafe, Mode: ModePersistentSequential}
	case 6:
		return Request{Op: OpSetACL, Path: w.path(tr), ACL: w.acl(), Version: w.version()}
	case 7:
		return Request{Op: OpDeleteContainer, Path: w.path(tr)}
	}
	ops := make([]Request, 1+w.rng.IntN(4))
	for i := range ops {
		ops[i] = w.writeOp(tr, true)
	}
	return Request{Op: OpMulti, Ops: ops}
}

func (w *randomWorkload) next(tr *Tree) (int64, Request) {
	s := w.sessions[w.rng.IntN(len(w.sessions))]
	switch w.rng.IntN(40) {
	case 0:
		w.nextSess++
		w.sessions = append(w.sessions, w.nextSess)
		return w.nextSess, Request{Op: OpCreateSession, SessionTimeout: int32(1000 * w.rng.IntN(30))}
	case 1:
		if len(w.sessions) > 1 {
			i := w.rng.IntN(len(w.sessions))
			s = w.sessions[i]
			w.sessions = slices.Delete(w.sessions, i, i+1)
			return s, Request{Op: OpCloseSession}
		}
	}
	r := w.writeOp(tr, false)
	r.Auth = w.auth()
	return s, r
}

// replay builds a fresh tree from txns.
func replay(cfg Config, txns []Txn) *Tree {
	tr := New(cfg)
	for _, txn := range txns {
		tr.Apply(txn)
	}
	return tr
}

// TestRandomWorkloadProperties runs seeded random workloads through a
// pipeline that keeps several txns prepped but unapplied, and checks:
//   - Prep against tree+Pending equals Prep against a copy of the tree with
//     the pending txns applied (the naive twin of the overlay);
//   - applying every txn twice equals applying it once;
//   - replaying the log into a fresh tree equals the live tree;
//   - a snapshot walked in chunks while txns are applied (fuzzy), plus the
//     log replayed from the zxid its walk began at, equals the live tree.
func TestRandomWorkloadProperties(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	steps := 300
	if testing.Short() {
		seeds, steps = seeds[:2], 100
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seed))
			cfg := Config{ExtendedTypesEnabled: seed%2 == 0}
			h := newHarness(t, cfg)
			w := &randomWorkload{rng: rng, sessions: []int64{0}, nextSess: 100}
			var queue []Txn

			// Fuzzy snapshot state.
			snapStart := steps / 3
			var snap *Tree
			var snapZxid int64
			var snapFrom string
			snapDone := false
			snapChunk := func() {
				if snap == nil || snapDone {
					return
				}
				n := 0
				first := true
				done := true
				h.tr.Walk(snapFrom, func(p string, nd *Node) bool {
					if first && p == snapFrom && p != "/" {
						first = false
						return true // seen in the previous chunk
					}
					first = false
					if n == 3 {
						done = false
						return false
					}
					if err := snap.PutNode(p, *nd); err != nil && CodeOf(err) != CodeNoNode {
						t.Fatalf("snapshot put %s: %v", p, err)
					}
					snapFrom = p
					n++
					return true
				})
				snapDone = done
			}

			applyOne := func() {
				txn := queue[0]
				queue = queue[1:]
				h.apply(txn)
				once := h.tr.DescribeTree()
				if _, evs := h.tr.ApplyResult(txn); len(evs) != 0 {
					t.Fatalf("zxid %#x applied twice fired %v", txn.Zxid, evs)
				}
				if twice := h.tr.DescribeTree(); twice != once {
					t.Fatalf("zxid %#x applied twice:\n%s", txn.Zxid, cmp.Diff(once, twice))
				}
				snapChunk()
			}

			for step := 0; step < steps; step++ {
				if step == snapStart {
					snap = New(cfg)
					snapZxid = h.tr.LastZxid()
					snapFrom = "/"
					for id, to := range h.tr.Sessions() {
						snap.PutSession(id, to)
					}
				}
				if len(queue) > 0 && (len(queue) >= 5 || rng.IntN(3) == 0) {
					applyOne()
					continue
				}
				session, req := w.next(h.tr)
				hdr := h.hdr(session)
				twin := replay(cfg, append(slices.Clone(h.log), queue...))
				wantTxn, wantErr := twin.Prep(NewPending(), req, hdr)
				gotTxn, gotErr := h.tr.Prep(h.p, req, hdr)
				if diff := cmp.Diff(wantTxn, gotTxn, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("step %d %v %s: Prep with Pending differs from the naive twin (-twin +pending):\n%s", step, req.Op, req.Path, diff)
				}
				if CodeOf(wantErr) != CodeOf(gotErr) {
					t.Fatalf("step %d %v %s: error %v, twin %v", step, req.Op, req.Path, gotErr, wantErr)
				}
				if gotErr != nil {
					h.zxid--
					continue
				}
				queue = append(queue, gotTxn)
			}
			for len(queue) > 0 {
				applyOne()
			}
			for !snapDone {
				snapChunk()
			}
			if h.p.Len() != 0 {
				t.Errorf("pending not drained: %d records", h.p.Len())
			}
			live := h.tr.DescribeTree()
			if diff := cmp.Diff(live, replay(cfg, h.log).DescribeTree()); diff != "" {
				t.Errorf("replay differs (-live +replay):\n%s", diff)
			}
			snap.SetLastZxid(snapZxid)
			for _, txn := range h.log {
				snap.Apply(txn)
			}
			if diff := cmp.Diff(live, snap.DescribeTree()); diff != "" {
				t.Errorf("fuzzy snapshot + replay differs (-live +snapshot):\n%s", diff)
			}
			t.Logf("%d txns, %d nodes", len(h.log), h.tr.NodeCount())
		})
	}
}
