package zktest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// ConnOptions tunes Dial. Zero values take the defaults named.
type ConnOptions struct {
	SessionTimeout time.Duration // default 10s
	WaitTimeout    time.Duration // how long to wait for a session; default 15s
	Quiet          bool          // drop the client's log instead of t.Log
}

// Connect returns a go-zookeeper client of addr that has a session, closed
// at t's cleanup. Session events after the first are drained and dropped.
func Connect(t testing.TB, addr string) *zk.Conn {
	t.Helper()
	c, events := Dial(t, addr, ConnOptions{})
	go func() {
		for range events {
		}
	}()
	return c
}

// Dial is Connect with options; it also returns the client's session
// events from after the session was established (StateDisconnected,
// StateExpired, ...) on a channel buffered for 1024 events that is closed
// when the client is. The caller must either read it or not care about
// losing events once it is full.
func Dial(t testing.TB, addr string, o ConnOptions) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	if o.SessionTimeout == 0 {
		o.SessionTimeout = 10 * time.Second
	}
	if o.WaitTimeout == 0 {
		o.WaitTimeout = 15 * time.Second
	}
	lg := &testLogger{t: t, quiet: o.Quiet}
	c, ev, err := zk.Connect([]string{addr}, o.SessionTimeout, zk.WithLogger(lg))
	if err != nil {
		t.Fatalf("zktest: connect %s: %v", addr, err)
	}
	t.Cleanup(func() {
		c.Close()
		lg.stop()
	})
	deadline := time.NewTimer(o.WaitTimeout)
	defer deadline.Stop()
	for {
		select {
		case e, ok := <-ev:
			if !ok {
				t.Fatalf("zktest: connect %s: client closed before a session", addr)
			}
			if e.State == zk.StateHasSession {
				out := make(chan zk.Event, 1024)
				go forward(ev, out)
				return c, out
			}
		case <-deadline.C:
			t.Fatalf("zktest: connect %s: no session after %v (state %v)", addr, o.WaitTimeout, c.State())
		}
	}
}

func forward(in <-chan zk.Event, out chan<- zk.Event) {
	defer close(out)
	for e := range in {
		select {
		case out <- e:
		default:
		}
	}
}

// testLogger sends go-zookeeper's log to t.Log until stop is called.
// mu guards done; t.Log is only called with mu held and done false, and
// stop runs in a cleanup, when t.Log is still allowed.
type testLogger struct {
	t     testing.TB
	quiet bool
	mu    sync.Mutex
	done  bool
}

func (l *testLogger) Printf(format string, args ...any) {
	l.t.Helper()
	if l.quiet {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Log("zk client: " + fmt.Sprintf(format, args...))
	}
}

func (l *testLogger) stop() {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
}
