package peer

// follow starts following (or observing) leader: a new connection.
func (p *Peer) follow(leader ID, observer bool) {
	p.role = Following
	if observer {
		p.role = Observing
	}
	p.leader = leader
	p.connSeq++
	p.conn = uint64(p.cfg.Incarnation)<<32 | uint64(p.connSeq)
	p.lphase = lConnecting
	p.heard = p.tick
	p.since = p.tick
	p.commit = 0
	p.ackedSent = 0
	p.sendFollowerInfo()
}

// sendFollowerInfo (re)sends FOLLOWERINFO: every tick until LEADERINFO
// comes, since the leader may still be deciding (finalizing its vote)
// when the first one arrives, and drops it.
func (p *Peer) sendFollowerInfo() {
	p.send(Message{Type: FollowerInfo, To: p.leader, Conn: p.conn, Epoch: p.hs.AcceptedEpoch,
		Zxid: p.lastLogged, Observer: p.role == Observing})
}

// breakOff ends the connection to the leader and looks for one again.
func (p *Peer) breakOff(why string, args ...any) {
	p.note("leaving leader %d (epoch %d): "+why, append([]any{p.leader, p.epoch}, args...)...)
	p.lookForLeader()
}

func (p *Peer) tickLearner() {
	if !p.serving && p.tick-p.since > p.cfg.InitLimit {
		// initLimit bounds connecting and syncing as a whole, as
		// ZooKeeper documents it.
		p.breakOff("not synced within initLimit (%d ticks)", p.cfg.InitLimit)
		return
	}
	limit := p.cfg.InitLimit
	if p.lphase == lServing {
		limit = p.cfg.SyncLimit
	}
	if p.tick-p.heard > limit {
		p.breakOff("nothing heard for %d ticks", p.tick-p.heard)
		return
	}
	if p.lphase == lConnecting {
		p.sendFollowerInfo()
	}
}

func (p *Peer) stepLearner(m Message) {
	if m.From != p.leader || m.Conn != p.conn {
		return // another member, or an earlier connection
	}
	p.heard = p.tick
	switch m.Type {
	case LeaderInfo:
		if p.lphase != lConnecting {
			return
		}
		if m.Epoch < p.hs.AcceptedEpoch {
			p.breakOff("it proposes epoch %d, older than the accepted %d", m.Epoch, p.hs.AcceptedEpoch)
			return
		}
		p.setHardState(HardState{AcceptedEpoch: m.Epoch, CurrentEpoch: p.hs.CurrentEpoch})
		p.epoch = m.Epoch
		p.lphase = lEpochAcked
		p.send(Message{Type: AckEpoch, To: p.leader, Conn: p.conn, Epoch: p.hs.CurrentEpoch,
			Zxid: p.lastLogged, Prev: p.cfg.Log.Base()})

	case Trunc:
		if p.lphase != lEpochAcked {
			p.outOfPlace(m)
			return
		}
		if base := p.cfg.Log.Base(); m.Zxid > p.lastLogged || m.Zxid < base {
			p.breakOff("TRUNC to %v outside what it can do (%v..%v)", m.Zxid, base, p.lastLogged)
			return
		}
		p.logOps = append(p.logOps, LogOp{Kind: OpTruncate, Zxid: m.Zxid})
		p.lastLogged = m.Zxid
		p.forgetAbove(m.Zxid)
		p.applied = min(p.applied, m.Zxid)
		p.lphase = lSyncing

	case Snap:
		if p.lphase != lEpochAcked {
			p.outOfPlace(m)
			return
		}
		if e := m.Zxid.Epoch(); p.hs.CurrentEpoch > e {
			// The snapshot replaces a log that may hold the history
			// currentEpoch stands for: lower currentEpoch first (a vote
			// only gets weaker), so no crash leaves a high epoch over a
			// short log. NEWLEADER raises it again.
			p.setHardState(HardState{AcceptedEpoch: p.hs.AcceptedEpoch, CurrentEpoch: e})
		}
		mc := m
		p.logOps = append(p.logOps, LogOp{Kind: OpRestore, Zxid: m.Zxid, Message: &mc})
		p.lastLogged, p.applied = m.Zxid, m.Zxid
		p.forgetAbove(0)
		p.lphase = lSyncing

	case Diff:
		if p.lphase != lEpochAcked && p.lphase != lSyncing {
			p.outOfPlace(m)
			return
		}
		p.lphase = lSyncing
		p.appendFrom(m)

	case NewLeader:
		switch {
		case p.lphase >= lNewLeaderAck:
			return // a duplicate
		case p.lphase < lEpochAcked, m.Epoch != p.epoch:
			p.outOfPlace(m)
			return
		case m.Zxid != p.lastLogged:
			p.breakOff("NEWLEADER says the sync ended at %v, but the log ends at %v", m.Zxid, p.lastLogged)
			return
		}
		// Durable before the ACK: the entries (Log) come before the hard
		// state, which comes before the messages, in doing a Ready.
		p.setHardState(HardState{AcceptedEpoch: p.hs.AcceptedEpoch, CurrentEpoch: m.Epoch})
		p.lphase = lNewLeaderAck
		p.ackedSent = p.lastLogged
		p.send(Message{Type: Ack, To: p.leader, Conn: p.conn, Zxid: p.lastLogged, NewLeaderAck: true})

	case UpToDate:
		if p.lphase != lNewLeaderAck {
			if p.lphase != lServing {
				p.outOfPlace(m)
			}
			return
		}
		p.lphase = lServing
		p.serving = true
		p.commit = max(p.commit, m.Zxid)
		p.elect.UpdateEpoch(p.epoch)
		p.note("following leader %d in epoch %d from %v", p.leader, p.epoch, p.lastLogged)

	case Proposal, Inform:
		if (m.Type == Proposal) != (p.role == Following) || p.lphase < lNewLeaderAck {
			p.outOfPlace(m)
			return
		}
		if !p.appendFrom(m) {
			return
		}
		if m.Type == Inform {
			p.commit = max(p.commit, m.LastZxid())
		}

	case Commit:
		if p.lphase < lNewLeaderAck {
			p.outOfPlace(m)
			return
		}
		p.commit = max(p.commit, m.Zxid)

	case NotLeader:
		if p.lphase == lConnecting {
			p.breakOff("it is not leading")
		}

	case Ping:
		p.send(Message{Type: Ping, To: p.leader, Conn: p.conn})

	case SyncReply:
		if !p.serving {
			return
		}
		if m.Zxid > p.lastLogged {
			// Only a lost message can do this: the sync must not be
			// answered from a state that lacks what it waited for.
			p.breakOff("SYNC answered at %v, but the log ends at %v", m.Zxid, p.lastLogged)
			return
		}
		p.commit = max(p.commit, m.Zxid)
		p.doneSync = append(p.doneSync, m.SyncID)
	}
}

func (p *Peer) outOfPlace(m Message) {
	p.breakOff("%s out of place (phase %d)", m.Type, p.lphase)
}

// appendFrom logs m's entries when they continue the log (Prev is its
// last zxid); a message whose entries are all logged already is a
// duplicate and ignored. Anything else is a gap: the connection ends. It
// reports whether the log still follows the leader.
func (p *Peer) appendFrom(m Message) bool {
	if len(m.Entries) == 0 {
		if m.Type == Diff && m.Prev == p.lastLogged && m.Zxid == m.Prev {
			return true
		}
		p.breakOff("%s without entries", m.Type)
		return false
	}
	if m.Prev != p.lastLogged {
		if m.LastZxid() <= p.lastLogged && m.Prev < p.lastLogged {
			return true // a duplicate
		}
		p.breakOff("%s after %v does not continue the log at %v", m.Type, m.Prev, p.lastLogged)
		return false
	}
	prev := m.Prev
	for _, e := range m.Entries {
		if e.Zxid <= prev {
			p.breakOff("%s entries out of order (%v after %v)", m.Type, e.Zxid, prev)
			return false
		}
		prev = e.Zxid
	}
	if m.Type == Diff && m.Zxid != prev {
		p.breakOff("DIFF says it ends at %v, its entries at %v", m.Zxid, prev)
		return false
	}
	p.appendLog(m.Entries)
	return true
}
