package zab

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"zabd/engine"
	"zabd/log"
	"zabd/tree"
)

func newTestPipeline(t *testing.T, eng Storage) *Pipeline {
	t.Helper()
	p, err := NewPipeline(PipelineConfig{Tree: tree.New(tree.Config{}), Storage: eng, Epoch: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// TestWriteFromClosedSession: once a session's closeSession is ordered,
// its writes get SessionExpired (ZooKeeper's checkSession), so an
// ephemeral can never outlive the session that owns it.
func TestWriteFromClosedSession(t *testing.T) {
	p := newTestPipeline(t, engine.NewMemory())
	if _, err := submitWait(t, p, tree.Request{Op: tree.OpCreateSession, SessionTimeout: 30000}); err != nil {
		t.Fatal(err)
	}
	if res, err := submitWait(t, p, tree.Request{Op: tree.OpCloseSession}); err != nil || res.Err != tree.CodeOK {
		t.Fatalf("closeSession: %v %v", res.Err, err)
	}
	eph := tree.Request{Op: tree.OpCreate, Path: "/e", ACL: tree.OpenACLUnsafe, Mode: tree.ModeEphemeral}
	if res, err := submitWait(t, p, eph); err != nil || res.Err != tree.CodeSessionExpired {
		t.Fatalf("ephemeral create from a closed session: %v %v, want SessionExpired", res.Err, err)
	}
	if res := p.Read(1, 0, tree.Request{Op: tree.OpExists, Path: "/e"}); res.Err != tree.CodeNoNode {
		t.Fatalf("/e exists: %v", res.Err)
	}
	// A session never created is refused the same way.
	if res, err := submitWait(t, p, createReq("/x", "")); err != nil || res.Err != tree.CodeSessionExpired {
		t.Fatalf("create from an unknown session: %v %v", res.Err, err)
	}
}

// TestNoAnswerFromAFailedTxn: a request prepped against a pending txn
// that then fails must not be answered from it (NodeExists for a node
// that never existed): it gets the storage failure.
func TestNoAnswerFromAFailedTxn(t *testing.T) {
	mem := engine.NewMemory()
	p := newTestPipeline(t, mem)
	if _, err := submitWait(t, p, tree.Request{Op: tree.OpCreateSession, SessionTimeout: 30000}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk on fire")
	mem.Fail(boom)
	answers := make(chan error, 2)
	for i := 0; i < 2; i++ {
		p.Submit(1, createReq("/b", ""), func(res tree.Result, err error) {
			if err == nil && res.Err != tree.CodeOK {
				err = res.Err
			}
			answers <- err
		})
	}
	for i := 0; i < 2; i++ {
		if err := <-answers; !errors.Is(err, ErrStorageFailed) {
			t.Fatalf("answer %d: %v, want ErrStorageFailed (never NodeExists)", i, err)
		}
	}
}

// SubmitRefused logs the write as an error txn with the code (a quorum
// leader refusing a write whose session moved: every member answers it
// from the log) and answers it with that code; outside quorum mode it is
// refused.
func TestSubmitRefused(t *testing.T) {
	mem := engine.NewMemory()
	p, err := NewPipeline(PipelineConfig{Tree: tree.New(tree.Config{}), Storage: mem, Epoch: 1, Quorum: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	if _, err := submitWait(t, p, tree.Request{Op: tree.OpCreateSession, SessionTimeout: 30000}); err != nil {
		t.Fatal(err)
	}
	ch := make(chan tree.Result, 1)
	p.SubmitRefused(1, createReq("/m", ""), tree.CodeSessionMoved, func(res tree.Result, err error) {
		if err != nil {
			t.Errorf("SubmitRefused: %v", err)
		}
		ch <- res
	})
	if res := <-ch; res.Err != tree.CodeSessionMoved {
		t.Fatalf("answered %v, want SessionMoved", res.Err)
	}
	if res := p.Read(1, 0, tree.Request{Op: tree.OpExists, Path: "/m"}); res.Err != tree.CodeNoNode {
		t.Fatalf("the refused create happened: %v", res.Err)
	}
	it, err := mem.Iter(0)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var last tree.Txn
	for it.Next() {
		if last, err = tree.DecodeTxn(it.Record().Data); err != nil {
			t.Fatal(err)
		}
	}
	if last.Type != tree.OpError || last.Err != tree.CodeSessionMoved || last.Session != 1 {
		t.Fatalf("logged %+v, want an error txn of session 1 with SessionMoved", last.TxnHeader)
	}

	standalone := newTestPipeline(t, engine.NewMemory())
	errc := make(chan error, 1)
	standalone.SubmitRefused(1, createReq("/m", ""), tree.CodeSessionMoved, func(_ tree.Result, err error) { errc <- err })
	if err := <-errc; err == nil {
		t.Fatal("SubmitRefused outside quorum mode was taken")
	}
}

// ReadAnswer answers while the tree is held against writes: the reply a
// connection queues in answer comes before the event of any txn applied
// after the read (clients drop events for watches whose reply has not
// arrived).
func TestReadAnswerHoldsTheTree(t *testing.T) {
	p := newTestPipeline(t, engine.NewMemory())
	if _, err := submitWait(t, p, tree.Request{Op: tree.OpCreateSession, SessionTimeout: 30000}); err != nil {
		t.Fatal(err)
	}
	if res, err := submitWait(t, p, createReq("/n", "v")); err != nil || res.Err != tree.CodeOK {
		t.Fatalf("create /n: %v %v", res.Err, err)
	}
	answered := false
	p.ReadAnswer(1, 7, tree.Request{Op: tree.OpGetData, Path: "/n", Watch: true}, func(res tree.Result) {
		answered = true
		if string(res.Data) != "v" || res.Err != tree.CodeOK {
			t.Errorf("getData /n: %q %v", res.Data, res.Err)
		}
		if p.TreeLock().TryLock() {
			p.TreeLock().Unlock()
			t.Error("a write could apply (and fire the watch) before the read was answered")
		}
	})
	if !answered {
		t.Fatal("ReadAnswer returned without answering")
	}
}

// TestAnswersAndOverlayWithRecycledEntries: many creates in flight at
// once (so entries are recycled while others are queued) each get their
// own answer, in zxid order per submitter, and once they are applied the
// pending overlay Prep checks against is empty again: an applied txn's
// paths leave it, or it would grow with every write.
func TestAnswersAndOverlayWithRecycledEntries(t *testing.T) {
	for _, eng := range []struct {
		name string
		s    Storage
	}{{"answers into the entry's channel", engine.NewMemory()}, {"a channel per append", channelPerAppend{engine.NewMemory()}}} {
		t.Run(eng.name, func(t *testing.T) {
			p := newTestPipeline(t, eng.s)
			const submitters, each = 8, 100
			type answer struct {
				path string
				res  tree.Result
				err  error
			}
			answers := make([]chan answer, submitters)
			for g := range submitters {
				answers[g] = make(chan answer, each)
				go func() {
					for i := range each {
						path := fmt.Sprintf("/g%d-%03d", g, i)
						p.Submit(0, createReq(path, path), func(res tree.Result, err error) {
							answers[g] <- answer{path, res, err}
						})
					}
				}()
			}
			for g := range submitters {
				var last int64
				for i := range each {
					var a answer
					select {
					case a = <-answers[g]:
					case <-time.After(10 * time.Second):
						t.Fatalf("submitter %d: create %d not answered", g, i)
					}
					if want := fmt.Sprintf("/g%d-%03d", g, i); a.err != nil || a.res.Err != tree.CodeOK || a.path != want || a.res.Path != want {
						t.Fatalf("submitter %d, create %d: answer for %s: path %q, %v, %v; want %s created", g, i, a.path, a.res.Path, a.res.Err, a.err, want)
					}
					if a.res.Zxid <= last {
						t.Fatalf("submitter %d: zxid %#x after %#x", g, a.res.Zxid, last)
					}
					last = a.res.Zxid
				}
			}
			// Everything is answered; a barrier returns once the applier
			// has done its bookkeeping for all of it.
			b := make(chan struct{})
			p.queue <- &entry{barrier: b}
			<-b
			p.pendingMu.Lock()
			n := p.pending.Len()
			p.pendingMu.Unlock()
			if n != 0 {
				t.Errorf("pending overlay holds %d paths after every txn was applied, want 0", n)
			}
			p.WithTree(func(tr *tree.Tree) {
				if got := tr.NodeCount(); got != submitters*each+4 {
					t.Errorf("tree holds %d nodes, want %d", got, submitters*each+4)
				}
			})
		})
	}
}

// channelPerAppend is storage without AppendAsyncInto.
type channelPerAppend struct{ m *engine.Memory }

func (c channelPerAppend) AppendAsync(recs []log.Record) <-chan error { return c.m.AppendAsync(recs) }
func (c channelPerAppend) LastZxid() log.Zxid                         { return c.m.LastZxid() }
