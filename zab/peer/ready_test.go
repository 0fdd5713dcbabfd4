package peer

import (
	"slices"
	"testing"

	"zabd/log"
)

func types(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Type.String()+"→"+string(rune('0'+m.To)))
	}
	return out
}

func TestOverlap(t *testing.T) {
	appendOp := []LogOp{{Kind: OpAppend, Entries: []Entry{{Zxid: log.MakeZxid(1, 9)}}}}
	leader := Status{Role: Leading, Leader: 1, Epoch: 1, Serving: true}
	follower := Status{Role: Following, Leader: 1, Epoch: 1, Serving: true}
	for _, tc := range []struct {
		name        string
		rd          Ready
		early, late []string
		commitEarly log.Zxid
	}{
		{
			name: "serving leader: proposals, commits and sync replies go early, the commit point too",
			rd: Ready{Status: leader, Log: appendOp, CommitTo: 7, Messages: []Message{
				{Type: Proposal, To: 2}, {Type: Proposal, To: 3}, {Type: Commit, To: 2}, {Type: SyncReply, To: 3}}},
			early:       []string{"PROPOSAL→2", "PROPOSAL→3", "COMMIT→2", "SYNCREPLY→3"},
			commitEarly: 7,
		},
		{
			name: "a learner being synced keeps its order: what follows its NEWLEADER stays late",
			rd: Ready{Status: leader, Log: appendOp, CommitTo: 7, Messages: []Message{
				{Type: NewLeader, To: 3}, {Type: Proposal, To: 2}, {Type: Proposal, To: 3}, {Type: Commit, To: 3}, {Type: Commit, To: 2}}},
			early:       []string{"PROPOSAL→2", "COMMIT→2"},
			late:        []string{"NEWLEADER→3", "PROPOSAL→3", "COMMIT→3"},
			commitEarly: 7,
		},
		{
			name: "a SNAP holds the state at its zxid: nothing is applied early",
			rd: Ready{Status: leader, Log: appendOp, CommitTo: 7, Messages: []Message{
				{Type: Snap, To: 3}, {Type: Proposal, To: 2}}},
			early: []string{"PROPOSAL→2"},
			late:  []string{"SNAP→3"},
		},
		{
			name: "a leader not yet serving sends only its proposals early",
			rd: Ready{Status: Status{Role: Leading, Leader: 1, Epoch: 1}, Log: appendOp, CommitTo: 7, Messages: []Message{
				{Type: Proposal, To: 2}, {Type: Commit, To: 2}}},
			early: []string{"PROPOSAL→2"},
			late:  []string{"COMMIT→2"},
		},
		{
			name: "a log op other than an append keeps everything but proposals late",
			rd: Ready{Status: leader, Log: []LogOp{{Kind: OpHardState}}, CommitTo: 7, Messages: []Message{
				{Type: Proposal, To: 2}, {Type: Commit, To: 2}}},
			early: []string{"PROPOSAL→2"},
			late:  []string{"COMMIT→2"},
		},
		{
			name: "a follower's ACK of the entries it appends waits for its log; forwarded writes and syncs do not",
			rd: Ready{Status: follower, Log: appendOp, CommitTo: 8, Messages: []Message{
				{Type: Forwarded, To: 1}, {Type: Ack, To: 1, Zxid: log.MakeZxid(1, 9)}, {Type: SyncReq, To: 1}}},
			early:       []string{"REQUEST→1"},
			late:        []string{"ACK→1", "SYNC→1"},
			commitEarly: 8,
		},
		{
			name: "a follower's ACK of what was durable before the Ready goes early",
			rd: Ready{Status: follower, Log: appendOp, CommitTo: 8, Messages: []Message{
				{Type: Ack, To: 1, Zxid: log.MakeZxid(1, 8)}, {Type: Forwarded, To: 1}}},
			early:       []string{"ACK→1", "REQUEST→1"},
			commitEarly: 8,
		},
		{
			name: "a NEWLEADER ack always waits",
			rd: Ready{Status: follower, Log: appendOp, CommitTo: 8, Messages: []Message{
				{Type: Ack, To: 1, NewLeaderAck: true}}},
			late:        []string{"ACK→1"},
			commitEarly: 8,
		},
		{
			name: "no log ops: nothing to wait for",
			rd: Ready{Status: follower, CommitTo: 8, Messages: []Message{
				{Type: Ack, To: 1}}},
			early:       []string{"ACK→1"},
			commitEarly: 8,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.rd.Overlap()
			if got := types(o.Early); !slices.Equal(got, tc.early) {
				t.Errorf("early = %v, want %v", got, tc.early)
			}
			if got := types(o.Late); !slices.Equal(got, tc.late) {
				t.Errorf("late = %v, want %v", got, tc.late)
			}
			if o.CommitEarly != tc.commitEarly {
				t.Errorf("CommitEarly = %v, want %v", o.CommitEarly, tc.commitEarly)
			}
			if len(tc.late) == 0 {
				// Every message early (a steady broadcast): Early is
				// Messages itself, nothing built per Ready.
				if n := testing.AllocsPerRun(100, func() { tc.rd.Overlap() }); n != 0 {
					t.Errorf("Overlap allocated %v times with every message early", n)
				}
			}
		})
	}
}
