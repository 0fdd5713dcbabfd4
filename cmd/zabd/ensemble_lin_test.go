package main

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"
)

// A register per key: put(key, value) by setData, get(key) by sync then
// getData (ZooKeeper's reads are only sequentially consistent without the
// sync). Values are unique per put.
type regInput struct {
	key   int
	put   bool
	value string
}

var registerModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[int][]porcupine.Operation{}
		var keys []int
		for _, op := range h {
			k := op.Input.(regInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "0" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(regInput)
		if in.put {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		if in.put {
			return fmt.Sprintf("put(k%d, %s)", in.key, in.value)
		}
		return fmt.Sprintf("get(k%d) -> %v", in.key, output)
	},
}

// history records operations with times relative to its start.
type history struct {
	began time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	nextC int // the next client id: a client that saw an outcome unknown takes a new one
	unk   int
}

func (h *history) now() int64 { return int64(time.Since(h.began)) }

func (h *history) clientID() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextC++
	return h.nextC - 1
}

func (h *history) add(op porcupine.Operation) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

func (h *history) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ops)
}

// linClient does random puts and synced gets on keys through a client
// that tries server first, until stop or maxOps operations in h.
func linClient(t *testing.T, h *history, servers []string, keys, maxOps int, seed uint64, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	c, _, err := zkConnect(servers, true)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	rnd := rand.New(rand.NewPCG(seed, seed))
	id := h.clientID()
	for seq := 0; h.len() < maxOps; seq++ {
		select {
		case <-stop:
			return
		default:
		}
		k := rnd.IntN(keys)
		p := fmt.Sprintf("/lin/k%d", k)
		if rnd.IntN(2) == 0 {
			v := fmt.Sprintf("c%d-%d", id, seq)
			call := h.now()
			_, err := c.Set(p, []byte(v), -1)
			ret := h.now()
			if err != nil {
				// It may have happened, at any time after the call:
				// its return is after every other operation's.
				ret = math.MaxInt64
				h.mu.Lock()
				h.unk++
				h.mu.Unlock()
			}
			h.add(porcupine.Operation{ClientId: id, Input: regInput{key: k, put: true, value: v}, Call: call, Return: ret})
			if err != nil {
				id = h.clientID()
				if !errors.Is(err, zk.ErrConnectionClosed) && !errors.Is(err, zk.ErrSessionExpired) && !errors.Is(err, zk.ErrNoServer) {
					t.Logf("set %s: %v", p, err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		call := h.now()
		if _, err := c.Sync(p); err != nil {
			continue // a read that failed changed nothing
		}
		b, _, err := c.Get(p)
		if err != nil {
			continue
		}
		h.add(porcupine.Operation{ClientId: id, Input: regInput{key: k}, Call: call, Output: string(b), Return: h.now()})
	}
}

// TestEnsembleLinearizable checks with porcupine that a history of
// clients putting and getting (sync, then read) a few registers through
// different members is linearizable while the leader is killed -9 and
// restarted, twice. A put whose client got an error may or may not have
// happened: it is recorded as returning after everything else.
func TestEnsembleLinearizable(t *testing.T) {
	e := newEnsemble(t, 3, fastRestart)
	leader := e.waitModes(30 * time.Second)
	const keys, clients, maxOps = 4, 6, 4000
	setup, err := e.connect(leader)
	if err != nil {
		t.Fatal(err)
	}
	acl := zk.WorldACL(zk.PermAll)
	if _, err := setup.Create("/lin", nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	for k := 0; k < keys; k++ {
		if _, err := setup.Create(fmt.Sprintf("/lin/k%d", k), []byte("0"), 0, acl); err != nil {
			t.Fatal(err)
		}
	}
	setup.Close()
	h := &history{began: time.Now()}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		// Client c tries member c%n first, then the others in turn.
		var servers []string
		for i := 0; i < e.n; i++ {
			servers = append(servers, e.client[(c+i)%e.n])
		}
		wg.Add(1)
		go linClient(t, h, servers, keys, maxOps, uint64(c+1), stop, &wg)
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	waitOps := func(n int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for h.len() < min(n, maxOps) {
			if time.Now().After(deadline) {
				t.Fatalf("only %d operations within 30s, waiting for %d", h.len(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for round := 0; round < 2; round++ {
		waitOps(h.len() + 300)
		e.kill(leader)
		newLeader := e.waitModes(30 * time.Second)
		waitOps(h.len() + 300)
		e.start(leader)
		e.waitModes(30 * time.Second)
		e.logf("leader %d killed, %d leads, %d restarted; %d operations", leader, newLeader, leader, h.len())
		leader = newLeader
	}
	waitOps(h.len() + 300)
	close(stop)
	wg.Wait()
	h.mu.Lock()
	ops, unk := h.ops, h.unk
	h.mu.Unlock()
	began := time.Now()
	res, info := porcupine.CheckOperationsVerbose(registerModel, ops, 60*time.Second)
	e.logf("%d operations (%d puts of unknown outcome), %d clients, %d keys: %s in %v", len(ops), unk, clients, keys, res,
		time.Since(began).Round(time.Millisecond))
	switch res {
	case porcupine.Illegal:
		f, err := os.CreateTemp("", "zabd-linearizability-*.html")
		if err == nil {
			porcupine.Visualize(registerModel, info, f)
			f.Close()
			t.Errorf("the history is not linearizable; see %s", f.Name())
		} else {
			t.Errorf("the history is not linearizable")
		}
	case porcupine.Unknown:
		t.Logf("the check timed out: inconclusive")
	}
}

// TestRegisterModel: the checker with this model takes a history whose
// unknown put may have happened late, and refuses a stale read.
func TestRegisterModel(t *testing.T) {
	put := func(c int, v string, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: regInput{key: 0, put: true, value: v}, Call: call, Return: ret}
	}
	get := func(c int, v string, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: regInput{key: 0}, Output: v, Call: call, Return: ret}
	}
	ok := []porcupine.Operation{put(0, "a", 0, 10), put(1, "b", 5, math.MaxInt64), get(2, "a", 20, 30), get(2, "b", 40, 50)}
	if !porcupine.CheckOperations(registerModel, ok) {
		t.Error("an unknown put seen late was refused")
	}
	stale := []porcupine.Operation{put(0, "a", 0, 10), put(0, "b", 20, 30), get(1, "a", 40, 50)}
	if porcupine.CheckOperations(registerModel, stale) {
		t.Error("a stale read was taken")
	}
	lost := []porcupine.Operation{put(0, "a", 0, 10), get(1, "0", 20, 30)}
	if porcupine.CheckOperations(registerModel, lost) {
		t.Error("a lost acknowledged put was taken")
	}
}
