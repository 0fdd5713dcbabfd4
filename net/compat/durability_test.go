package compat

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

// TestDurabilityKill9 (zabd only), on each storage engine: writers create
// znodes (half of them in two-node multis) and record every create the
// server acknowledged; zabd is killed with SIGKILL while they run and
// restarted on the same data dir. Every acknowledged create must be there
// with its data, and no multi may be half there. Twenty cycles per engine,
// each on top of the previous ones.
func TestDurabilityKill9(t *testing.T) {
	if !wantZabd() {
		t.Skip("ZABD_COMPAT_ONLY excludes zabd")
	}
	for _, kind := range []string{"native", "pebble", "badger"} {
		t.Run(kind, func(t *testing.T) { testDurabilityKill9(t, kind) })
	}
}

func testDurabilityKill9(t *testing.T, engine string) {
	const (
		cycles          = 20
		writers         = 8
		killAfterAcks   = 150  // per cycle, across writers
		maxOpsPerWriter = 5000 // bounds a writer if the kill never lands
		cycleTimeout    = 60 * time.Second
		totalTimeout    = 3 * time.Minute // per engine
	)
	p := zktest.StartZabd(t, launch.ZabdOptions{Engine: engine})
	testDeadline := time.Now().Add(totalTimeout)
	setup, err := dialSession(p.Addr, 30000)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := setup.call(opCreate, encCreate("/d", "", openACL, modePersistent)); err != nil || r.Err != 0 {
		t.Fatalf("create /d: %v %s", err, codeName(r.Err))
	}
	setup.close()

	acked := map[string]string{} // path -> data, across all cycles
	var pairs [][2]string        // multi-created pairs, across all cycles
	for cycle := range cycles {
		if time.Now().After(testDeadline) {
			t.Fatalf("only %d of %d cycles in %v", cycle, cycles, totalTimeout)
		}
		var (
			mu     sync.Mutex
			nAcked atomic.Int64
			killed = make(chan struct{})
			wg     sync.WaitGroup
		)
		deadline := time.Now().Add(cycleTimeout)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := dialSession(p.Addr, 30000)
				if err != nil {
					t.Errorf("cycle %d writer %d: %v", cycle, w, err)
					return
				}
				defer s.close()
				for i := 0; i < maxOpsPerWriter && time.Now().Before(deadline); i++ {
					name := fmt.Sprintf("/d/c%d-w%d-%d", cycle, w, i)
					if w%2 == 0 {
						r, err := s.call(opCreate, encCreate(name, name, openACL, modePersistent))
						if err != nil {
							return // connection gone: the server was killed
						}
						if r.Err != 0 {
							t.Errorf("create %s: %s", name, codeName(r.Err))
							return
						}
						mu.Lock()
						acked[name] = name
						mu.Unlock()
					} else {
						a, b := name+"-a", name+"-b"
						r, err := s.call(opMulti, encMulti([]mop{mCreate(a, a, modePersistent), mCreate(b, b, modePersistent)}))
						if err != nil {
							return
						}
						if r.Err != 0 {
							t.Errorf("multi %s: %s", name, codeName(r.Err))
							return
						}
						mu.Lock()
						acked[a], acked[b] = a, b
						pairs = append(pairs, [2]string{a, b})
						mu.Unlock()
					}
					if nAcked.Add(1) == killAfterAcks {
						close(killed)
					}
				}
			}()
		}
		select {
		case <-killed:
		case <-time.After(cycleTimeout):
			t.Fatalf("cycle %d: only %d acks in %v", cycle, nAcked.Load(), cycleTimeout)
		}
		if err := p.Kill(); err != nil {
			t.Fatalf("cycle %d: kill: %v", cycle, err)
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := p.Restart(ctx)
		cancel()
		if err != nil {
			t.Fatalf("cycle %d: restart after kill -9: %v", cycle, err)
		}
		verifyDurable(t, p, cycle, acked, pairs, fmt.Sprintf("/d/c%d-", cycle))
		if t.Failed() {
			return
		}
		t.Logf("cycle %d: %d acknowledged creates so far, all present after kill -9", cycle, len(acked))
	}
}

// verifyDurable checks that every acknowledged path is present, that no
// multi is half there, and that the nodes whose path starts with
// dataPrefix (this cycle's) carry their data.
func verifyDurable(t *testing.T, p *launch.Process, cycle int, acked map[string]string, pairs [][2]string, dataPrefix string) {
	t.Helper()
	s, err := dialSession(p.Addr, 30000)
	if err != nil {
		t.Fatalf("cycle %d: connect after restart: %v", cycle, err)
	}
	defer s.close()
	r, err := s.call(opGetChildren, encPathWatch("/d", false))
	if err != nil || r.Err != 0 {
		t.Fatalf("cycle %d: getChildren /d: %v %s", cycle, err, codeName(r.Err))
	}
	res, err := decodeReply(opGetChildren, r)
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, c := range res.(rChildren).Children {
		present["/d/"+c] = true
	}
	var missing []string
	for path := range acked {
		if !present[path] {
			missing = append(missing, path)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("cycle %d: %d acknowledged creates lost after kill -9 (of %d), e.g. %s", cycle, len(missing), len(acked), strings.Join(missing[:min(5, len(missing))], " "))
	}
	// Every node of this cycle there (acknowledged or not) is whole: its
	// data is its name. (Earlier cycles' were checked in their turn.)
	paths := make([]string, 0, len(present))
	for path := range present {
		if strings.HasPrefix(path, dataPrefix) {
			paths = append(paths, path)
		}
	}
	sort.Strings(paths)
	for _, path := range paths {
		r, err := s.call(opGetData, encPathWatch(path, false))
		if err != nil || r.Err != 0 {
			t.Errorf("cycle %d: getData %s: %v %s", cycle, path, err, codeName(r.Err))
			continue
		}
		res, _ := decodeReply(opGetData, r)
		if got := string(res.(rData).Data); got != path {
			t.Errorf("cycle %d: %s has data %q, want %q", cycle, path, got, path)
		}
	}
	// A multi's nodes come in pairs: one without the other is half applied.
	for path := range present {
		if base, ok := strings.CutSuffix(path, "-a"); ok && !present[base+"-b"] {
			t.Errorf("cycle %d: multi half applied: %s without %s-b", cycle, path, base)
		}
		if base, ok := strings.CutSuffix(path, "-b"); ok && !present[base+"-a"] {
			t.Errorf("cycle %d: multi half applied: %s without %s-a", cycle, path, base)
		}
	}
	for _, pr := range pairs {
		if present[pr[0]] != present[pr[1]] {
			t.Errorf("cycle %d: acknowledged multi %v half present", cycle, pr)
		}
	}
}
