package zab

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"zabd/engine"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/tree"
)

// heldStorage holds every append's answer until the test releases it, in
// whatever order the test picks, from whatever goroutine.
type heldStorage struct {
	mu      sync.Mutex
	waiting []func(error)
}

func (s *heldStorage) AppendAsync(recs []log.Record) <-chan error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan error, 1)
	s.waiting = append(s.waiting, func(err error) { ch <- err })
	return ch
}

func (s *heldStorage) LastZxid() log.Zxid { return 0 }

// take removes and returns the answers held so far.
func (s *heldStorage) take() []func(error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.waiting
	s.waiting = nil
	return w
}

// answerLog records done calls in the order they happen.
type answerLog struct {
	mu  sync.Mutex
	got []string
}

func (a *answerLog) done(name string) Done {
	return func(res tree.Result, err error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.got = append(a.got, fmt.Sprintf("%s:%d:%v", name, res.Err, err))
	}
}

func (a *answerLog) list() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.got...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAnswersInQueueOrderWhateverOrderStorageAnswers: the storage answers
// appends in reverse order; the pipeline still
// answers every request in submit order, none before its txn is durable,
// and an answer with no txn (a sync) waits its turn.
func TestAnswersInQueueOrderWhateverOrderStorageAnswers(t *testing.T) {
	st := &heldStorage{}
	p, err := NewPipeline(PipelineConfig{Tree: tree.New(tree.Config{}), Storage: st, Epoch: 1, MaxBatchTxns: 64})
	if err != nil {
		t.Fatal(err)
	}
	var a answerLog
	p.Submit(0, createReq("/a", ""), a.done("create /a"))
	p.Submit(0, createReq("/a", ""), a.done("create /a again")) // NodeExists at prep, from the pending /a
	p.Submit(0, tree.Request{Op: tree.OpSync, Path: "/"}, a.done("sync"))
	p.Submit(0, createReq("/b", ""), a.done("create /b"))
	p.Submit(0, createReq("/a/c", ""), a.done("create /a/c"))
	if got := a.list(); len(got) != 0 {
		t.Fatalf("answered before anything was durable: %v", got)
	}
	held := st.take()
	if len(held) != 4 {
		t.Fatalf("%d appends reached storage, want 4 (three creates and the failed one's error txn)", len(held))
	}
	// The last three txns become durable first: nothing may be answered,
	// since /a (first in line) is not durable yet.
	held[3](nil)
	held[2](nil)
	held[1](nil)
	time.Sleep(20 * time.Millisecond)
	if got := a.list(); len(got) != 0 {
		t.Fatalf("answered ahead of the first, undurable txn: %v", got)
	}
	held[0](nil)
	waitFor(t, "five answers", func() bool { return len(a.list()) == 5 })
	want := []string{
		"create /a:0:<nil>",
		"create /a again:-110:<nil>",
		"sync:0:<nil>",
		"create /b:0:<nil>",
		"create /a/c:0:<nil>",
	}
	if got := a.list(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("answers\n got %v\nwant %v", got, want)
	}
	if res := p.Read(0, 0, tree.Request{Op: tree.OpGetChildren, Path: "/a"}); len(res.Children) != 1 {
		t.Errorf("/a children after apply: %v", res.Children)
	}
	p.Close()
}

// TestSubmitWaitsForRoomAndCloseForAnswers: with the queue full, Submit
// waits until durable txns are answered; Close returns only once
// everything submitted is answered.
func TestSubmitWaitsForRoomAndCloseForAnswers(t *testing.T) {
	st := &heldStorage{}
	p, err := NewPipeline(PipelineConfig{Tree: tree.New(tree.Config{}), Storage: st, Epoch: 1, MaxBatchTxns: 1})
	if err != nil {
		t.Fatal(err)
	}
	// The applier holds the first entry (waiting for it to be durable);
	// the queue holds the rest.
	room := cap(p.queue) + 1
	var a answerLog
	for i := 0; i < room; i++ {
		p.Submit(0, createReq(fmt.Sprintf("/n%d", i), ""), a.done(fmt.Sprint(i)))
	}
	waitFor(t, "the applier to take the first entry", func() bool { return len(p.queue) == cap(p.queue) })
	submitted := make(chan struct{})
	go func() {
		p.Submit(0, createReq("/last", ""), a.done("last"))
		close(submitted)
	}()
	time.Sleep(20 * time.Millisecond)
	select {
	case <-submitted:
		t.Fatalf("Submit returned with the queue full (%d entries)", room)
	default:
	}
	first := st.take()
	first[0](nil) // one answered: room for one
	<-submitted
	closed := make(chan struct{})
	go func() {
		p.Close()
		close(closed)
	}()
	time.Sleep(20 * time.Millisecond)
	select {
	case <-closed:
		t.Fatal("Close returned with txns in flight")
	default:
	}
	// The last create reached storage before or after it got room.
	for _, n := range append(first[1:], st.take()...) {
		n(nil)
	}
	<-closed
	if got := a.list(); len(got) != room+1 || got[room] != "last:0:<nil>" {
		t.Fatalf("answers after Close: %v", got)
	}
	var answered bool
	p.Submit(0, createReq("/after", ""), func(_ tree.Result, err error) { answered = err == ErrStopped })
	if !answered {
		t.Error("Submit after Close not answered at once with ErrStopped")
	}
}

// TestConcurrentSubmittersOnGroupCommit runs many submitters against the
// native engine's group commit: every
// request is answered once, each submitter's answers come in its own
// order, and zxids in answer order strictly increase.
func TestConcurrentSubmittersOnGroupCommit(t *testing.T) {
	eng, err := engine.OpenNative(vfs.Default, t.TempDir(), engine.NativeOptions{Log: log.Options{SegmentBytes: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	p, err := NewPipeline(PipelineConfig{Tree: tree.New(tree.Config{}), Storage: eng, Epoch: 1, MaxBatchTxns: 16})
	if err != nil {
		t.Fatal(err)
	}
	const submitters, each = 8, 150
	var (
		mu       sync.Mutex
		lastZxid int64
		bad      []string
		wg       sync.WaitGroup
	)
	for w := 0; w < submitters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := 0 // index of the answer this submitter expects next
			answered := make(chan struct{}, each)
			for i := 0; i < each; i++ {
				i := i
				req := createReq(fmt.Sprintf("/w%d-%d", w, i), "")
				if i%10 == 9 {
					req = createReq(fmt.Sprintf("/w%d-%d", w, i-1), "") // NodeExists
				}
				p.Submit(0, req, func(res tree.Result, err error) {
					mu.Lock()
					defer mu.Unlock()
					wantErr := tree.CodeOK
					if i%10 == 9 {
						wantErr = tree.CodeNodeExists
					}
					switch {
					case err != nil || res.Err != wantErr:
						bad = append(bad, fmt.Sprintf("w%d #%d: %v %v", w, i, res.Err, err))
					case i != next:
						bad = append(bad, fmt.Sprintf("w%d: answer %d came when %d was due", w, i, next))
					case wantErr == tree.CodeOK && res.Zxid <= lastZxid:
						bad = append(bad, fmt.Sprintf("w%d #%d: zxid %#x after %#x", w, i, res.Zxid, lastZxid))
					}
					if wantErr == tree.CodeOK {
						lastZxid = res.Zxid
					}
					next = i + 1
					answered <- struct{}{}
				})
			}
			for i := 0; i < each; i++ {
				<-answered
			}
		}()
	}
	wg.Wait()
	p.Close()
	if len(bad) > 0 {
		t.Fatalf("%d bad answers, first: %v", len(bad), bad[:min(len(bad), 5)])
	}
	if st := p.Stats(); st.Txns != submitters*each {
		t.Errorf("applied %d txns, want %d (the failed creates' error txns among them)", st.Txns, submitters*each)
	}
}
