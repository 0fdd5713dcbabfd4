package zab

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"zabd/engine"
	"zabd/engine/datadir"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/log/vfs/errorfs"
	"zabd/tree"
)

// submitWait submits req and waits (bounded) for its answer.
func submitWait(t *testing.T, p *Pipeline, req tree.Request) (tree.Result, error) {
	t.Helper()
	type answer struct {
		res tree.Result
		err error
	}
	ch := make(chan answer, 1)
	p.Submit(1, req, func(res tree.Result, err error) { ch <- answer{res, err} })
	select {
	case a := <-ch:
		return a.res, a.err
	case <-time.After(10 * time.Second):
		t.Fatalf("%v %s not answered", req.Op, req.Path)
		return tree.Result{}, nil
	}
}

func createReq(path, data string) tree.Request {
	return tree.Request{Op: tree.OpCreate, Path: path, Data: []byte(data), ACL: tree.OpenACLUnsafe}
}

// gatedStorage is a native engine whose append outcomes can be held back
// from the pipeline (the appends themselves go through at once).
type gatedStorage struct {
	*engine.Native
	mu   sync.Mutex
	hold chan struct{} // nil: outcomes pass at once
}

// holdOutcomes holds every append's outcome from now on until release.
func (g *gatedStorage) holdOutcomes() (release func()) {
	hold := make(chan struct{})
	g.mu.Lock()
	g.hold = hold
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		g.hold = nil
		g.mu.Unlock()
		close(hold)
	}
}

func (g *gatedStorage) AppendAsync(recs []log.Record) <-chan error {
	inner := g.Native.AppendAsync(recs)
	g.mu.Lock()
	hold := g.hold
	g.mu.Unlock()
	if hold == nil {
		return inner
	}
	out := make(chan error, 1)
	go func() {
		<-hold
		out <- <-inner
	}()
	return out
}

// AppendAsyncInto holds outcomes as AppendAsync does (the pipeline takes
// this path when the storage has it; without it the embedded engine's
// would answer at once and bypass the gate).
func (g *gatedStorage) AppendAsyncInto(recs []log.Record, done chan<- error) {
	g.mu.Lock()
	hold := g.hold
	g.mu.Unlock()
	if hold == nil {
		g.Native.AppendAsyncInto(recs, done)
		return
	}
	inner := g.Native.AppendAsync(recs)
	go func() {
		<-hold
		done <- <-inner
	}()
}

// describeReplayed replays the engine's log into a fresh tree and
// describes it, to compare with the live tree.
func describeReplayed(t *testing.T, eng engine.Engine) string {
	t.Helper()
	it, err := eng.Iter(0)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	tr := tree.New(tree.Config{})
	if _, err := datadir.Replay(tr, it); err != nil {
		t.Fatalf("replay: %v", err)
	}
	return tr.DescribeTree()
}

// TestPipelineDiskFull fills the disk under a write that a later write
// (prepped while the first was pending) depends on: both are refused with
// ErrDiskFull (not sticky, SystemError for the client), reads go on, and
// once there is space the next writes succeed against a tree that never
// saw the refused ones; the log (with a gap where their zxids were)
// replays to the live tree.
func TestPipelineDiskFull(t *testing.T) {
	mem := vfs.NewMem()
	efs := errorfs.Wrap(mem)
	eng, err := engine.OpenNative(efs, "/data/log", engine.NativeOptions{Log: log.Options{SegmentBytes: 4 << 10, Preallocate: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	gated := &gatedStorage{Native: eng}
	p, err := NewPipeline(PipelineConfig{Tree: tree.New(tree.Config{}), Storage: gated, Epoch: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := submitWait(t, p, tree.Request{Op: tree.OpCreateSession, SessionTimeout: 30000}); err != nil {
		t.Fatalf("createSession: %v", err)
	}
	if res, err := submitWait(t, p, createReq("/a", "1")); err != nil || res.Err != tree.CodeOK {
		t.Fatalf("create /a: %v %v", res.Err, err)
	}

	efs.Add(errorfs.Rule{Op: errorfs.OpWrite, Err: errorfs.ErrNoSpace})
	// Both are submitted before either is answered: the setData is
	// prepped against the pending create.
	type answer struct {
		res tree.Result
		err error
	}
	answers := make(chan answer, 2)
	// The create's outcome is held back from the applier until the
	// setData is prepped: otherwise, on a busy machine, the applier may
	// see the failure first and the setData is prepped against a tree
	// without /b (NoNode), which is right but not what this tests.
	release := gated.holdOutcomes()
	p.Submit(1, createReq("/b", "x"), func(res tree.Result, err error) { answers <- answer{res, err} })
	p.Submit(1, tree.Request{Op: tree.OpSetData, Path: "/b", Data: []byte("y"), Version: 0},
		func(res tree.Result, err error) { answers <- answer{res, err} })
	release()
	for i := 0; i < 2; i++ {
		select {
		case a := <-answers:
			if !errors.Is(a.err, ErrDiskFull) || !errors.Is(a.err, log.ErrNoSpace) || errors.Is(a.err, ErrStorageFailed) {
				t.Fatalf("write %d on a full disk: got %v, want ErrDiskFull", i, a.err)
			}
			if code := tree.CodeOf(a.err); code != tree.CodeSystemError {
				t.Errorf("client code %v, want SystemError", code)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("writes on a full disk not answered")
		}
	}
	if p.Failed() != nil {
		t.Fatalf("a full disk made the pipeline fail for good: %v", p.Failed())
	}
	// Reads go on.
	if res := p.Read(1, 0, tree.Request{Op: tree.OpGetData, Path: "/a"}); res.Err != tree.CodeOK || string(res.Data) != "1" {
		t.Errorf("read /a while the disk is full: %v %q", res.Err, res.Data)
	}
	// Still full: the next write is refused too (and tries the disk).
	if _, err := submitWait(t, p, createReq("/c", "")); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("create /c on a full disk: %v", err)
	}

	efs.ClearRules() // space is back
	// The refused create never happened: /b does not exist for prep.
	if res, err := submitWait(t, p, tree.Request{Op: tree.OpSetData, Path: "/b", Data: []byte("z"), Version: -1}); err != nil || res.Err != tree.CodeNoNode {
		t.Fatalf("setData /b after the refused create: %v %v, want NoNode", res.Err, err)
	}
	res, err := submitWait(t, p, createReq("/b", "again"))
	if err != nil || res.Err != tree.CodeOK {
		t.Fatalf("create /b with space back: %v %v", res.Err, err)
	}
	var st tree.Stat
	p.WithTree(func(tr *tree.Tree) { st, _ = tr.StatOf("/b") })
	if st.Version != 0 || st.Czxid <= 1<<32|1 {
		t.Errorf("/b stat %+v: want version 0 and a czxid past the refused ones", st)
	}
	var live string
	p.WithTree(func(tr *tree.Tree) { live = tr.DescribeTree() })
	if d := cmp.Diff(live, describeReplayed(t, eng)); d != "" {
		t.Errorf("log replayed differs from the live tree (-live +replayed):\n%s", d)
	}
}

// TestPipelineFsyncFailureSticky: a failed fsync (even for a full disk)
// stops the pipeline taking writes for good.
func TestPipelineFsyncFailureSticky(t *testing.T) {
	mem := vfs.NewMem()
	efs := errorfs.Wrap(mem)
	eng, err := engine.OpenNative(efs, "/data/log", engine.NativeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	p, err := NewPipeline(PipelineConfig{Tree: tree.New(tree.Config{}), Storage: eng, Epoch: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := submitWait(t, p, tree.Request{Op: tree.OpCreateSession, SessionTimeout: 30000}); err != nil {
		t.Fatalf("createSession: %v", err)
	}
	if _, err := submitWait(t, p, createReq("/a", "")); err != nil {
		t.Fatal(err)
	}
	efs.Add(errorfs.Rule{Op: errorfs.OpSync, PathContains: "log.", Nth: 1, Err: errorfs.ErrNoSpace})
	if _, err := submitWait(t, p, createReq("/b", "")); !errors.Is(err, ErrStorageFailed) {
		t.Fatalf("write whose fsync failed: %v, want ErrStorageFailed", err)
	}
	efs.ClearRules()
	if _, err := submitWait(t, p, createReq("/c", "")); !errors.Is(err, ErrStorageFailed) {
		t.Fatalf("write after a failed fsync: %v, want ErrStorageFailed (sticky)", err)
	}
	var n int
	p.WithTree(func(tr *tree.Tree) { n = tr.NodeCount() })
	if res := p.Read(1, 0, tree.Request{Op: tree.OpExists, Path: "/b"}); res.Err != tree.CodeNoNode {
		t.Errorf("/b exists after its fsync failed (%d nodes)", n)
	}
}

// The degraded state is visible and logged once each way: WritesRefused
// says why while the disk is full (however many writes are refused) and
// is empty again once a write is durable; "writes stopped" and "writes
// resumed" are each logged once. A failed fsync refuses writes for good.
func TestWritesRefusedStateAndLogs(t *testing.T) {
	mem := vfs.NewMem()
	efs := errorfs.Wrap(mem)
	eng, err := engine.OpenNative(efs, "/data/log", engine.NativeOptions{Log: log.Options{SegmentBytes: 4 << 10, Preallocate: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	var logs syncBuffer
	p, err := NewPipeline(PipelineConfig{Tree: tree.New(tree.Config{}), Storage: eng, Epoch: 1,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := submitWait(t, p, tree.Request{Op: tree.OpCreateSession, SessionTimeout: 30000}); err != nil {
		t.Fatal(err)
	}
	if why := p.WritesRefused(); why != "" {
		t.Fatalf("healthy pipeline: WritesRefused = %q", why)
	}
	efs.Add(errorfs.Rule{Op: errorfs.OpWrite, Err: errorfs.ErrNoSpace})
	for i := range 5 {
		if _, err := submitWait(t, p, createReq(fmt.Sprintf("/full%d", i), "")); !errors.Is(err, ErrDiskFull) {
			t.Fatalf("write %d on a full disk: %v", i, err)
		}
		if why := p.WritesRefused(); !strings.Contains(why, "disk full") {
			t.Fatalf("write %d refused, WritesRefused = %q", i, why)
		}
	}
	efs.ClearRules()
	if _, err := submitWait(t, p, createReq("/ok", "")); err != nil {
		t.Fatal(err)
	}
	if why := p.WritesRefused(); why != "" {
		t.Fatalf("after a durable write: WritesRefused = %q", why)
	}
	out := logs.String()
	if n, m := strings.Count(out, "writes stopped"), strings.Count(out, "writes resumed"); n != 1 || m != 1 {
		t.Fatalf("logged 'writes stopped' %d and 'writes resumed' %d times, want once each:\n%s", n, m, out)
	}
	efs.Add(errorfs.Rule{Op: errorfs.OpSync, PathContains: "log.", Err: errors.New("disk on fire")})
	if _, err := submitWait(t, p, createReq("/fire", "")); !errors.Is(err, ErrStorageFailed) {
		t.Fatalf("write whose fsync failed: %v", err)
	}
	efs.ClearRules()
	if why := p.WritesRefused(); !strings.Contains(why, "disk on fire") {
		t.Fatalf("after a failed fsync: WritesRefused = %q", why)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A pipeline started without an epoch (the disk was full when it was to
// be recorded) refuses writes from the start, saying why; each write tries
// to record the epoch again, and once that and the write succeed writes
// are taken, stamped with the new epoch.
func TestPipelineStartsWithoutEpoch(t *testing.T) {
	efs := errorfs.Wrap(vfs.NewMem())
	if err := efs.MkdirAll("/data", 0o755); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.OpenNative(efs, "/data/log", engine.NativeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	dd := datadir.Open(efs, "/data")
	efs.SetFree(0)
	_, epochErr := dd.NextEpoch(eng.LastZxid())
	if !errors.Is(epochErr, syscall.ENOSPC) {
		t.Fatalf("NextEpoch on a full disk: %v", epochErr)
	}
	var logs syncBuffer
	p, err := NewPipeline(PipelineConfig{Tree: tree.New(tree.Config{}), Storage: eng,
		ChooseEpoch: func() (uint32, error) { return dd.NextEpoch(eng.LastZxid()) }, EpochErr: epochErr,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if why := p.WritesRefused(); !strings.Contains(why, "currentEpoch.tmp") || !strings.Contains(why, "0 B free on /data") {
		t.Fatalf("WritesRefused at start = %q, want the epoch's failure", why)
	}
	for range 2 {
		if _, err := submitWait(t, p, tree.Request{Op: tree.OpCreateSession, SessionTimeout: 30000}); !errors.Is(err, ErrDiskFull) || p.Failed() != nil {
			t.Fatalf("write without an epoch: %v (failed %v), want ErrDiskFull, not sticky", err, p.Failed())
		}
	}
	if res, err := submitWait(t, p, tree.Request{Op: tree.OpSync, Path: "/"}); err != nil || res.Err != tree.CodeOK {
		t.Fatalf("sync without an epoch: %v %v", res.Err, err)
	}
	efs.SetFree(-1)
	res, err := submitWait(t, p, tree.Request{Op: tree.OpCreateSession, SessionTimeout: 30000})
	if err != nil || res.Err != tree.CodeOK {
		t.Fatalf("write with room again: %v %v", res.Err, err)
	}
	if got := log.Zxid(eng.LastZxid()); got != 1<<32|1 {
		t.Errorf("first zxid %v, want epoch 1 counter 1", got)
	}
	if why := p.WritesRefused(); why != "" {
		t.Errorf("after a durable write: WritesRefused = %q", why)
	}
	if !strings.Contains(logs.String(), "writes resumed") {
		t.Errorf("no 'writes resumed' line:\n%s", logs.String())
	}
}
