package peer

import (
	"zabd/log"
	"zabd/zab/catchup"
)

// lead starts leading: discovery first.
func (p *Peer) lead() {
	p.role = Leading
	p.leader = p.cfg.ID
	p.lphaseL = pDiscovery
	p.since = p.tick
	p.handlers, p.handlerOrder = map[ID]*handler{}, nil
	p.accepted = map[ID]uint32{p.cfg.ID: p.hs.AcceptedEpoch}
	p.epochAcks = map[ID]bool{p.cfg.ID: true}
	p.startEpoch, p.startLast = p.hs.CurrentEpoch, p.lastLogged
	p.counter = 0
	p.maybeChooseEpoch()
}

// maybeChooseEpoch picks the new epoch once a quorum of voters told their
// acceptedEpoch: one above every acceptedEpoch heard (ZooKeeper's
// getEpochToPropose).
func (p *Peer) maybeChooseEpoch() {
	if p.lphaseL != pDiscovery || !p.majority.Has(func(id ID) bool { _, ok := p.accepted[id]; return ok }) {
		return
	}
	var e uint32
	for _, a := range p.accepted {
		e = max(e, a)
	}
	e++
	p.epoch = e
	p.setHardState(HardState{AcceptedEpoch: e, CurrentEpoch: p.hs.CurrentEpoch})
	p.lphaseL = pEpochAcks
	for _, id := range p.handlerIDs() {
		h := p.handlers[id]
		p.send(Message{Type: LeaderInfo, To: id, Conn: h.conn, Epoch: e})
	}
	p.maybeSync()
}

// maybeSync starts synchronizing once a quorum of voters acknowledged the
// epoch: the leader's currentEpoch moves to it (ZooKeeper's Leader.lead
// after waitForEpochAck).
func (p *Peer) maybeSync() {
	if p.lphaseL != pEpochAcks || !p.majority.Has(func(id ID) bool { return p.epochAcks[id] }) {
		return
	}
	p.lphaseL = pSyncing
	p.setHardState(HardState{AcceptedEpoch: p.hs.AcceptedEpoch, CurrentEpoch: p.epoch})
	p.initialLast = p.lastLogged
	for _, id := range p.handlerIDs() {
		if h := p.handlers[id]; h.epochAcked && !h.synced {
			p.syncLearner(h)
		}
	}
	p.maybeEstablish()
}

// planLog is the leader's log as the sync plan sees it: the driver's plus
// what the pending Ready appends.
type planLog struct{ p *Peer }

func (l planLog) Bounds() (log.Zxid, log.Zxid) {
	oldest, last := l.p.cfg.Log.Bounds()
	return oldest, max(last, l.p.lastLogged)
}

func (l planLog) Floor(z log.Zxid) (log.Zxid, bool) {
	if z >= l.p.lastLogged {
		return l.p.lastLogged, true
	}
	return l.p.cfg.Log.Floor(z)
}

// syncLearner sends a learner the plan that brings it up to date: TRUNC,
// SNAP, the DIFF, then NEWLEADER.
func (p *Peer) syncLearner(h *handler) {
	d := catchup.Plan(catchup.Input{Learner: h.last, Log: planLog{p}, Whole: p.cfg.Log.Whole(), TooBig: p.cfg.TooBig})
	if (d.Kind == catchup.Trunc || d.Kind == catchup.TruncDiff) && d.TruncTo < h.base {
		d = catchup.Decision{Kind: catchup.Snap, Why: "the learner cannot truncate below its snapshot at " + h.base.String()}
	}
	var after log.Zxid
	switch d.Kind {
	case catchup.Snap:
		after = p.applied
		p.send(Message{Type: Snap, To: h.id, Conn: h.conn, Zxid: after})
	case catchup.Trunc, catchup.TruncDiff:
		after = d.TruncTo
		p.send(Message{Type: Trunc, To: h.id, Conn: h.conn, Zxid: d.TruncTo})
	case catchup.Diff:
		after = d.After
	}
	if after < p.lastLogged {
		p.send(Message{Type: Diff, To: h.id, Conn: h.conn, Prev: after, Zxid: p.lastLogged})
	}
	p.send(Message{Type: NewLeader, To: h.id, Conn: h.conn, Epoch: p.epoch, Zxid: p.lastLogged})
	h.synced = true
	h.sent = p.lastLogged
	p.note("syncing %d (last %v) in epoch %d: %v", h.id, h.last, p.epoch, d)
}

// maybeEstablish makes the leader established once a quorum of voters
// acknowledged NEWLEADER holding its whole history: that history is then
// committed.
func (p *Peer) maybeEstablish() {
	if p.lphaseL != pSyncing || !p.majority.Has(func(id ID) bool {
		if id == p.cfg.ID {
			return p.durable >= p.initialLast
		}
		h := p.handlers[id]
		return h != nil && h.newLeader && h.acked >= p.initialLast
	}) {
		return
	}
	p.lphaseL = pEstablished
	p.serving = true
	p.commit = max(p.commit, p.initialLast)
	p.elect.UpdateEpoch(p.epoch)
	p.note("leading epoch %d from %v", p.epoch, p.initialLast)
	for _, id := range p.handlerIDs() {
		if h := p.handlers[id]; h.newLeader {
			p.sendUpToDate(h)
		}
	}
	p.advanceCommit()
}

func (p *Peer) sendUpToDate(h *handler) {
	p.send(Message{Type: UpToDate, To: h.id, Conn: h.conn, Zxid: p.commit})
	h.upToDate = true
	h.commitSent = p.commit
}

func (p *Peer) stepLeader(m Message) {
	if m.Type == FollowerInfo {
		p.stepFollowerInfo(m)
		return
	}
	h := p.handlers[m.From]
	if h == nil || m.Conn != h.conn {
		return
	}
	h.heard = p.tick
	switch m.Type {
	case AckEpoch:
		if h.epochAcked || p.lphaseL == pDiscovery {
			return
		}
		if p.lphaseL == pEpochAcks && !h.observer &&
			(m.Epoch > p.startEpoch || m.Epoch == p.startEpoch && m.Zxid > p.startLast) {
			// The election should have made it leader instead.
			p.note("learner %d is ahead of this leader (epoch %d, last %v > epoch %d, last %v)",
				h.id, m.Epoch, m.Zxid, p.startEpoch, p.startLast)
			p.lookForLeader()
			return
		}
		h.epochAcked = true
		h.last, h.base = m.Zxid, m.Prev
		p.epochAcks[h.id] = true
		if p.lphaseL == pEpochAcks {
			p.maybeSync()
		} else {
			p.syncLearner(h)
		}
	case Ack:
		if !h.synced {
			return
		}
		if m.NewLeaderAck {
			if h.newLeader {
				return
			}
			h.newLeader = true
			h.acked = max(h.acked, m.Zxid)
			if p.lphaseL == pEstablished {
				p.sendUpToDate(h)
			} else {
				p.maybeEstablish()
			}
			return
		}
		if h.newLeader {
			h.acked = max(h.acked, m.Zxid)
			p.advanceCommit()
		}
	case Forwarded:
		if p.lphaseL == pEstablished {
			p.requests = append(p.requests, Request{From: h.id, Data: m.Data})
		}
	case SyncReq:
		if p.lphaseL == pEstablished {
			p.syncs = append(p.syncs, pendingSync{from: h.id, conn: h.conn, id: m.SyncID, target: p.lastLogged})
		}
	}
}

func (p *Peer) stepFollowerInfo(m Message) {
	if !p.isVoter[m.From] && !p.observers[m.From] {
		return
	}
	if old := p.handlers[m.From]; old != nil && m.Conn <= old.conn {
		if m.Conn == old.conn && p.lphaseL != pDiscovery && !old.epochAcked {
			// Resent: the learner has not heard LEADERINFO.
			p.send(Message{Type: LeaderInfo, To: old.id, Conn: old.conn, Epoch: p.epoch})
		}
		return // a duplicate, or an earlier connection
	}
	if p.lphaseL != pDiscovery && m.Epoch > p.epoch {
		// It accepted the epoch of a leader that never established
		// itself, past this one's: it would refuse LEADERINFO for as long
		// as this leader leads (Apache ZooKeeper leaves it out until the
		// leader changes). Elect again, so the next epoch is past it.
		p.note("member %d accepted epoch %d, past this leader's %d: electing again so it can join", m.From, m.Epoch, p.epoch)
		p.lookForLeader()
		return
	}
	h := &handler{id: m.From, conn: m.Conn, observer: p.observers[m.From], heard: p.tick}
	p.handlers[m.From] = h
	p.handlerOrder = nil
	if p.lphaseL == pDiscovery {
		p.accepted[m.From] = m.Epoch
		p.maybeChooseEpoch()
		return
	}
	p.send(Message{Type: LeaderInfo, To: h.id, Conn: h.conn, Epoch: p.epoch})
}

// advanceCommit commits what a quorum of voters has durably: the leader's
// own log after Advance, and each synced follower's cumulative ack.
func (p *Peer) advanceCommit() {
	if p.lphaseL != pEstablished {
		return
	}
	c := p.majority.Committed(func(id ID) log.Zxid {
		if id == p.cfg.ID {
			return p.durable
		}
		if h := p.handlers[id]; h != nil && h.newLeader && !h.observer {
			return h.acked
		}
		return 0
	})
	p.commit = max(p.commit, c)
}

// leaderDue reports whether a Ready would send commits or answer syncs.
func (p *Peer) leaderDue() bool {
	if p.role != Leading || p.lphaseL != pEstablished {
		return false
	}
	for _, h := range p.handlers {
		if h.upToDate && p.commit > h.commitSent {
			return true
		}
	}
	for _, s := range p.syncs {
		if s.target <= p.commit {
			return true
		}
	}
	return false
}

// sendCommits tells every up-to-date learner the commit point: COMMIT to
// followers, INFORM (the txns) and COMMIT to observers.
func (p *Peer) sendCommits() {
	if p.lphaseL != pEstablished {
		return
	}
	keepAbove := p.commit
	for _, id := range p.handlerIDs() {
		h := p.handlers[id]
		if h.observer && h.synced {
			if h.upToDate && p.commit > h.sent {
				var es []Entry
				for _, e := range p.outstanding {
					if e.Zxid > h.sent && e.Zxid <= p.commit {
						es = append(es, e)
					}
				}
				if len(es) > 0 {
					p.send(Message{Type: Inform, To: id, Conn: h.conn, Prev: h.sent, Zxid: es[len(es)-1].Zxid, Entries: es})
					h.sent = es[len(es)-1].Zxid
				}
			}
			keepAbove = min(keepAbove, h.sent)
		}
		if h.upToDate && p.commit > h.commitSent {
			p.send(Message{Type: Commit, To: id, Conn: h.conn, Zxid: p.commit})
			h.commitSent = p.commit
		}
	}
	i := 0
	for i < len(p.outstanding) && p.outstanding[i].Zxid <= keepAbove {
		i++
	}
	p.outstanding = p.outstanding[i:]
}

// answerSyncs answers every SYNC whose target is committed, after the
// COMMIT that covers it.
func (p *Peer) answerSyncs() {
	if p.lphaseL != pEstablished {
		return
	}
	kept := p.syncs[:0]
	for _, s := range p.syncs {
		switch {
		case s.target > p.commit:
			kept = append(kept, s)
		case s.from == 0:
			p.doneSync = append(p.doneSync, s.id)
		default:
			if h := p.handlers[s.from]; h != nil && h.conn == s.conn {
				p.send(Message{Type: SyncReply, To: s.from, Conn: s.conn, SyncID: s.id, Zxid: s.target})
			}
		}
	}
	p.syncs = kept
}

func (p *Peer) tickLeader() {
	for _, id := range p.handlerIDs() {
		h := p.handlers[id]
		limit := p.cfg.InitLimit
		if h.upToDate {
			limit = p.cfg.SyncLimit
		}
		if p.tick-h.heard > limit {
			p.note("learner %d silent for %d ticks: dropped", id, p.tick-h.heard)
			delete(p.handlers, id)
			p.handlerOrder = nil
			continue
		}
		p.send(Message{Type: Ping, To: id, Conn: h.conn})
	}
	if p.lphaseL != pEstablished {
		if p.tick-p.since > p.cfg.InitLimit {
			p.note("no quorum synced within %d ticks (phase %d)", p.cfg.InitLimit, p.lphaseL)
			p.lookForLeader()
		}
		return
	}
	if !p.majority.Has(func(id ID) bool {
		if id == p.cfg.ID {
			return true
		}
		h := p.handlers[id]
		return h != nil && h.upToDate
	}) {
		p.note("lost the quorum of synced followers")
		p.lookForLeader()
	}
}
