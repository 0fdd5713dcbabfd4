package launch

import (
	"context"
	"errors"
	"fmt"
	stdnet "net"
	"testing"
)

func TestFreePortIsBindable(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if p <= 0 || p > 65535 {
			t.Fatalf("FreePort() = %d, want a TCP port", p)
		}
		l, err := stdnet.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("port %d from FreePort is not bindable: %v", p, err)
		}
		l.Close()
		seen[p] = true
	}
	if len(seen) < 2 {
		t.Errorf("20 FreePort calls returned only %v", seen)
	}
}

// TestOnFreePortRetriesATakenPort: a start that fails because its picked
// port was taken is run again (up to portTries), one that fails otherwise
// or on a port the caller named is not.
func TestOnFreePortRetriesATakenPort(t *testing.T) {
	taken := fmt.Errorf("launch: zabd exited before ready: %w\nlisten tcp 127.0.0.1:4000: bind: address already in use", ErrNotReady)
	other := fmt.Errorf("launch: zookeeper exited before ready: %w\njava.io.IOException: no space", ErrNotReady)
	ok := &Process{Name: "ok"}
	for _, tc := range []struct {
		name      string
		port      int
		errs      []error // start's results in turn; then it succeeds
		wantCalls int
		wantOK    bool
	}{
		{"first try", 0, nil, 1, true},
		{"taken once, then free", 0, []error{taken}, 2, true},
		{"taken every time", 0, []error{taken, taken, taken, taken}, portTries, false},
		{"another failure", 0, []error{other}, 1, false},
		{"a port the caller named", 4000, []error{taken}, 1, false},
		{"the JVM's words", 0, []error{errors.New("java.net.BindException: Address already in use")}, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			p, err := onFreePort(context.Background(), tc.port != 0, func() (*Process, error) {
				calls++
				if calls <= len(tc.errs) {
					return nil, tc.errs[calls-1]
				}
				return ok, nil
			})
			if calls != tc.wantCalls || (err == nil) != tc.wantOK || (p == ok) != tc.wantOK {
				t.Errorf("%d calls, got %v, %v; want %d calls, success %v", calls, p, err, tc.wantCalls, tc.wantOK)
			}
		})
	}
}
