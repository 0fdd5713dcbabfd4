package launch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Default bounds on waiting for a server.
const (
	DefaultStartTimeout = 30 * time.Second
	DefaultStopTimeout  = 15 * time.Second
	readyPollInterval   = 50 * time.Millisecond
	readyProbeTimeout   = 500 * time.Millisecond
)

// Errors callers may match with errors.Is.
var (
	// ErrNotInstalled: the server's program (java, ZooKeeper's jars, the zabd
	// binary) is not on this machine.
	ErrNotInstalled = errors.New("launch: not installed")
	// ErrNotReady: the server did not answer "ruok" with "imok" in time, or
	// exited before it did.
	ErrNotReady = errors.New("launch: server not ready")
	// ErrNotRunning: Stop/Kill on a process that has already exited.
	ErrNotRunning = errors.New("launch: process not running")
)

// Process is one server child process, restartable with the same command
// line.
//
// Concurrency: all methods are safe for concurrent use; mu guards cmd, done
// and waitErr. The exported fields are set before the Process is returned
// and never change.
type Process struct {
	Name       string // "zookeeper" or "zabd" ("zabd.2" for member 2 of an ensemble), used in messages
	ID         int    // the N of this server's server.N line in an ensemble; 0 for a standalone server
	Addr       string // client address, 127.0.0.1:Port
	Port       int
	Dir        string         // working directory holding the config and the log
	DataDir    string         // where the server keeps its state
	ConfigPath string         // the zoo.cfg written for it
	LogPath    string         // stdout and stderr of every run, appended
	Ports      map[string]int // the port each of ZabdOptions.PortKeys got; nil without any

	argv         []string
	env          []string
	startTimeout time.Duration
	stopTimeout  time.Duration
	// ready says whether the server at Addr serves clients (nil:
	// probeReady, a standalone server's test; an ensemble member's is
	// probeMember).
	ready func(addr string) error

	mu      sync.Mutex
	cmd     *exec.Cmd     // current child; nil before the first start
	done    chan struct{} // closed when cmd has exited
	waitErr error         // cmd.Wait's result, valid once done is closed
	runs    int           // how many times a child was started
}

// Argv returns the command line the process is (re)started with.
func (p *Process) Argv() []string { return append([]string(nil), p.argv...) }

// start starts a child and waits until it serves (see ready) or
// ctx/startTimeout expires; on failure the child is killed and the log's tail is in the error.
func (p *Process) start(ctx context.Context) error {
	done, err := p.spawn()
	if err != nil {
		return err
	}
	if err := p.waitReady(ctx, done); err != nil {
		_ = p.Kill()
		return err
	}
	return nil
}

// Exec starts the same command line again, like Restart, but returns as
// soon as the child is running (after fork/exec), without waiting for it
// to serve: the caller measures readiness itself (bench's recovery timer).
// It fails if a child is still running. Done and Kill apply to the new
// child.
func (p *Process) Exec() error {
	_, err := p.spawn()
	return err
}

// spawn starts a child (no readiness wait) and returns its done channel.
func (p *Process) spawn() (chan struct{}, error) {
	p.mu.Lock()
	if p.cmd != nil {
		select {
		case <-p.done:
		default:
			p.mu.Unlock()
			return nil, fmt.Errorf("launch: %s at %s: already running (pid %d)", p.Name, p.Addr, p.cmd.Process.Pid)
		}
	}
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.mu.Unlock()
		return nil, fmt.Errorf("launch: %s: open log: %w", p.Name, err)
	}
	p.runs++
	fmt.Fprintf(logf, "=== launch: run %d at %s: %q\n", p.runs, time.Now().Format(time.RFC3339Nano), p.argv)
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Dir = p.Dir
	cmd.Env = p.env
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.mu.Unlock()
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("launch: %s: start %s: %w (%w)", p.Name, p.argv[0], ErrNotInstalled, err)
		}
		return nil, fmt.Errorf("launch: %s: start %s: %w", p.Name, p.argv[0], err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.waitErr = cmd, done, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(done)
	}()
	return done, nil
}

// waitReady polls the server until it serves (ruok answers imok; for an
// ensemble member, srvr names its role), the child exits, or the deadline
// passes.
func (p *Process) waitReady(ctx context.Context, done <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, p.startTimeout)
	defer cancel()
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	probe := p.ready
	if probe == nil {
		probe = probeReady
	}
	var last error
	for {
		last = probe(p.Addr)
		if last == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("launch: %s at %s exited before ready (%v): %w\n%s", p.Name, p.Addr, p.exitErr(), ErrNotReady, p.LogTail(40))
		case <-ctx.Done():
			return fmt.Errorf("launch: %s at %s: not ready after %v (last probe: %v): %w\n%s", p.Name, p.Addr, p.startTimeout, last, ErrNotReady, p.LogTail(40))
		case <-tick.C:
		}
	}
}

// probeReady returns nil when the server at addr serves clients: "ruok"
// answers "imok" and "srvr" does not say it is not serving. NB: Apache
// ZooKeeper answers imok as soon as its listener is up, before the data
// tree is loaded; in that window srvr answers "This ZooKeeper instance is
// not currently serving requests" and client connections are dropped.
func probeReady(addr string) error {
	out, err := FourLetter(addr, "ruok", readyProbeTimeout)
	if err != nil {
		return err
	}
	if out != "imok" {
		return fmt.Errorf("ruok answered %q", out)
	}
	out, err = FourLetter(addr, "srvr", readyProbeTimeout)
	if err != nil {
		return err
	}
	if strings.Contains(out, "not currently serving") {
		return fmt.Errorf("srvr answered %q", out)
	}
	return nil
}

// exitedError says that member p of ensemble name exited while it was
// being started: its exit status, the last line of its log that says its
// port was taken (when one does: a JVM's stack trace can push that line
// out of the tail), and its log's tail.
func (p *Process) exitedError(name string) error {
	taken := ""
	if line := p.lastLogLine(portTakenWords); line != "" {
		taken = "; its log says: " + line
	}
	return fmt.Errorf("launch: %s ensemble: %s at %s exited during start (%v)%s: %w\n%s",
		name, p.Name, p.Addr, p.exitErr(), taken, ErrNotReady, p.LogTail(40))
}

// lastLogLine is the last line of the log's last 64 KiB that contains
// substr, compared without case, or "" when none does.
func (p *Process) lastLogLine(substr string) string {
	lines := strings.Split(p.LogTail(1<<30), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(strings.ToLower(lines[i]), strings.ToLower(substr)) {
			return strings.TrimSpace(lines[i])
		}
	}
	return ""
}

func (p *Process) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// current returns the running child and its done channel, or ErrNotRunning.
func (p *Process) current() (*exec.Cmd, chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil, nil, ErrNotRunning
	}
	select {
	case <-p.done:
		return nil, nil, ErrNotRunning
	default:
	}
	return p.cmd, p.done, nil
}

// Running reports whether the child is alive.
func (p *Process) Running() bool {
	_, _, err := p.current()
	return err == nil
}

// PID returns the current child's pid, or 0 when none was started.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Stop asks the server to shut down cleanly (SIGTERM) and waits up to the
// stop timeout; if it has not exited by then it is killed and Stop returns
// an error saying so. A clean exit is status 0 or death by SIGTERM (the JVM
// reports that as status 143). Stopping an exited process returns nil.
func (p *Process) Stop() error {
	cmd, done, err := p.current()
	if err != nil {
		return nil
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("launch: %s: SIGTERM pid %d: %w", p.Name, cmd.Process.Pid, err)
	}
	t := time.NewTimer(p.stopTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("launch: %s at %s (pid %d) ignored SIGTERM for %v; killed", p.Name, p.Addr, cmd.Process.Pid, p.stopTimeout)
	}
	if err := p.exitErr(); err != nil && !cleanExit(err) {
		return fmt.Errorf("launch: %s at %s (pid %d) exited after SIGTERM: %w\n%s", p.Name, p.Addr, cmd.Process.Pid, err, p.LogTail(20))
	}
	return nil
}

func cleanExit(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
		if ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return true
		}
		if ws.Exited() && ws.ExitStatus() == 128+int(syscall.SIGTERM) {
			return true
		}
	}
	return false
}

// Kill sends SIGKILL and waits for the child to be reaped. It returns
// ErrNotRunning if the child had already exited.
func (p *Process) Kill() error {
	cmd, done, err := p.current()
	if err != nil {
		return err
	}
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("launch: %s: SIGKILL pid %d: %w", p.Name, cmd.Process.Pid, err)
	}
	<-done
	return nil
}

// Wait blocks until the current child exits and returns its exit error
// (nil for status 0). It returns ErrNotRunning if nothing was started.
func (p *Process) Wait() error {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return ErrNotRunning
	}
	<-done
	return p.exitErr()
}

// Done returns a channel closed when the current child exits (nil if
// nothing was started).
func (p *Process) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Restart stops the child if it runs (cleanly, see Stop) and starts the same
// command line again, waiting until it is ready. Use Kill first to simulate
// a crash.
func (p *Process) Restart(ctx context.Context) error {
	if err := p.Stop(); err != nil {
		return err
	}
	return p.start(ctx)
}

// LogTail returns at most the last n lines of the process's log file.
func (p *Process) LogTail(n int) string {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	const maxTail = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > maxTail {
		_, _ = f.Seek(st.Size()-maxTail, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// CPUTime is the user+system CPU time the current child has used since
// it started, all its threads together (on Linux, utime+stime from
// /proc/PID/stat, 10 ms resolution; for Apache ZooKeeper that is the
// JVM, taskset having exec'd it). It fails when no child runs.
func (p *Process) CPUTime() (time.Duration, error) {
	cmd, _, err := p.current()
	if err != nil {
		return 0, fmt.Errorf("launch: %s: CPU time: %w", p.Name, err)
	}
	return procCPU(cmd.Process.Pid)
}

// RSS is the current child's resident set size in bytes.
func (p *Process) RSS() (int64, error) {
	cmd, _, err := p.current()
	if err != nil {
		return 0, fmt.Errorf("launch: %s: RSS: %w", p.Name, err)
	}
	return procRSS(cmd.Process.Pid)
}
