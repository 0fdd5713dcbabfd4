package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"zabd/zab/peer"
)

// TestAdminServerInAnEnsemble asks each member of a 3-member ensemble its
// quorum commands: one leader, all in broadcast, the same voting view of
// three voters, and every member's server_stats naming its role.
func TestAdminServerInAnEnsemble(t *testing.T) {
	ports := freePorts(t, 3)
	e := newEnsembleEach(t, 3, func(i int) string {
		return fmt.Sprintf("admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=%d\n", ports[i-1])
	})
	leader := e.waitModes(30 * time.Second)
	get := func(i int, cmd string) map[string]any {
		t.Helper()
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/commands/%s", ports[i-1], cmd))
		if err != nil {
			t.Fatalf("server %d %s: %v", i, cmd, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("server %d %s: %v\n%s", i, cmd, err, b)
		}
		if out["error"] != nil {
			t.Fatalf("server %d %s: %v", i, cmd, out)
		}
		return out
	}
	var views []string
	for i := 1; i <= 3; i++ {
		role := "follower"
		if i == leader {
			role = "leader"
		}
		// A member may still be finishing its sync when waitModes sees
		// its mode: poll until it says broadcast.
		deadline := time.Now().Add(10 * time.Second)
		for get(i, "zabstate")["zabstate"] != "broadcast" {
			if time.Now().After(deadline) {
				t.Fatalf("server %d zabstate: %v", i, get(i, "zabstate"))
			}
			time.Sleep(20 * time.Millisecond)
		}
		if z := get(i, "zabstate"); z["voting"] != true {
			t.Errorf("server %d zabstate: %v", i, z)
		}
		l := get(i, "leader")
		if l["is_leader"] != (i == leader) || l["leader_id"] != float64(leader) || l["leader_ip"] != "127.0.0.1" {
			t.Errorf("server %d leader: %v (leader is %d)", i, l, leader)
		}
		if st := get(i, "server_stats")["server_stats"].(map[string]any); st["server_state"] != role {
			t.Errorf("server %d server_state %v, want %s", i, st["server_state"], role)
		}
		if q := get(i, "monitor")["quorum_size"]; q != 3.0 {
			t.Errorf("server %d monitor quorum_size %v, want 3", i, q)
		}
		v := get(i, "voting_view")["current_config"].(map[string]any)
		if len(v) != 3 {
			t.Errorf("server %d voting_view: %v", i, v)
		}
		views = append(views, fmt.Sprint(v))
	}
	if views[0] != views[1] || views[1] != views[2] {
		t.Errorf("members disagree on the voting view: %q", views)
	}
}

// electionTimer measures from looking to leading or following, once per
// election, and not an observer's.
func TestElectionTimer(t *testing.T) {
	now := time.Unix(100, 0)
	var got []time.Duration
	e := &electionTimer{now: func() time.Time { return now }, observe: func(d time.Duration) { got = append(got, d) }}
	step := func(d time.Duration, r peer.Role) {
		now = now.Add(d)
		e.status(peer.Status{Role: r})
	}
	step(0, peer.Looking)
	step(300*time.Millisecond, peer.Looking) // still looking: the first look counts
	step(200*time.Millisecond, peer.Following)
	step(time.Second, peer.Following)
	step(time.Second, peer.Looking)
	step(50*time.Millisecond, peer.Leading)
	step(time.Second, peer.Looking)
	step(time.Second, peer.Observing)
	if fmt.Sprint(got) != "[500ms 50ms]" {
		t.Errorf("elections timed %v, want [500ms 50ms]", got)
	}
}
