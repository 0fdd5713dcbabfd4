package launch

import (
	"context"
	"errors"
	"fmt"
	stdnet "net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ZooKeeperQuorumMainClass is the entry point of an ensemble member (it
// runs standalone when zoo.cfg has no server lines).
const ZooKeeperQuorumMainClass = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

// Quorum timing an ensemble gets unless ExtraCfg says otherwise: ZooKeeper's
// sample zoo.cfg (tickTime 2000 ms, initLimit 10 and syncLimit 5 ticks).
const (
	DefaultTickTime  = "2000"
	DefaultInitLimit = "10"
	DefaultSyncLimit = "5"
)

// memberPollInterval is the pause between two rounds of srvr to every
// member while waiting for an ensemble to serve.
const memberPollInterval = 20 * time.Millisecond

// Ensemble is a set of server processes of one kind on 127.0.0.1 that form
// one ZooKeeper ensemble. Member i (1-based, the i of its server.i line
// and of its myid) is Members[i-1]; each is a Process of its own, so it can
// be stopped, killed and restarted alone, and its ready test (used by
// Restart) is that srvr names its role (leader, follower, observer): an
// ensemble member answers srvr with "not currently serving" (ZooKeeper) or
// without a Mode (zabd, whose ruok is then silent) while it has no
// established leader.
//
// Concurrency: the fields are set before the Ensemble is returned and
// never change; methods are safe for concurrent use (they act through the
// members' own methods).
type Ensemble struct {
	Name          string // "zookeeper" or "zabd"
	Dir           string // member i lives in Dir/i (zoo.cfg, data/ with myid, its log)
	Members       []*Process
	QuorumPorts   []int // QuorumPorts[i-1] is member i's quorum port
	ElectionPorts []int
}

// StartZKEnsemble starts an ensemble of n Apache ZooKeeper servers
// (QuorumPeerMain) and waits until every member serves with one leader.
// o applies to every member: o.Dir is the ensemble's directory (member i
// gets Dir/i, emptied if the start is tried again on new ports), o.Port and o.DataDir must be unset (each member gets its
// own), ExtraCfg is laid over each member's zoo.cfg (BaseZooCfg, the
// default quorum timing, the server lines), o.CPUs pins every member to
// the same CPU list. StartTimeout bounds the whole start; on failure
// every member is killed and the error holds their log tails.
func StartZKEnsemble(ctx context.Context, n int, o ZKOptions) (*Ensemble, error) {
	java, cp, err := findZK(o)
	if err != nil {
		return nil, err
	}
	if o.Port != 0 || o.DataDir != "" {
		return nil, fmt.Errorf("launch: zookeeper ensemble: Port and DataDir are per member; leave them unset")
	}
	return startEnsemble(ctx, "zookeeper", n, o.Dir, o.ForceSync, o.ExtraCfg, o.StartTimeout, o.StopTimeout, func(p *Process) (err error) {
		p.argv, err = zkArgv(java, cp, ZooKeeperQuorumMainClass, p, o)
		p.env = os.Environ()
		return err
	})
}

// StartZabdEnsemble starts an ensemble of n zabd servers (binary bin) and
// waits until every member serves with one leader. o applies to every
// member as in StartZKEnsemble; the command line is StartZabd's.
func StartZabdEnsemble(ctx context.Context, bin string, n int, o ZabdOptions) (*Ensemble, error) {
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return nil, fmt.Errorf("launch: zabd binary %q: %w", bin, ErrNotInstalled)
	}
	if o.Port != 0 || o.DataDir != "" {
		return nil, fmt.Errorf("launch: zabd ensemble: Port and DataDir are per member; leave them unset")
	}
	return startEnsemble(ctx, "zabd", n, o.Dir, o.ForceSync, o.ExtraCfg, o.StartTimeout, o.StopTimeout, func(p *Process) (err error) {
		p.argv, err = zabdArgv(bin, p, o)
		p.env = append(os.Environ(), o.Env...)
		return err
	})
}

// startEnsemble lays out an ensemble of n members in dir, gives each its
// command line through command, and starts them all (see startAll). The
// 3n ports are picked free, so another process can take one before its
// member binds it (on a busy machine, another test binary picking at the
// same moment); the member then exits, and the whole ensemble is laid out
// afresh on new ports, up to portTries times while ctx lasts. Before such
// a try the members' directories (dir/1 ... dir/n, which the first try
// made or found) are removed with all they hold: an ensemble's Dir is
// meant to be a fresh one. It returns the ensemble only when it serves.
func startEnsemble(ctx context.Context, name string, n int, dir string, forceSync bool, extra map[string]string,
	startTimeout, stopTimeout time.Duration, command func(*Process) error) (*Ensemble, error) {
	var tried *Ensemble // the last try's, whose members' directories go first
	return onFreePort(ctx, false, func() (*Ensemble, error) {
		if tried != nil {
			for _, p := range tried.Members {
				if err := os.RemoveAll(p.Dir); err != nil {
					return nil, fmt.Errorf("launch: %s ensemble: empty %s for another try on new ports: %w", name, p.Dir, err)
				}
			}
		}
		e, err := layoutEnsemble(name, dir, n, forceSync, extra, startTimeout, stopTimeout)
		if err != nil {
			return nil, err
		}
		for _, p := range e.Members {
			if err := command(p); err != nil {
				return nil, err
			}
		}
		tried = e
		if err := e.startAll(ctx); err != nil {
			return nil, err
		}
		return e, nil
	})
}

// layoutEnsemble picks the ports, creates each member's directory, data
// dir and myid, and writes each member's zoo.cfg.
func layoutEnsemble(name, dir string, n int, forceSync bool, extra map[string]string, startTimeout, stopTimeout time.Duration) (*Ensemble, error) {
	if n < 1 || n > 255 {
		return nil, fmt.Errorf("launch: %s ensemble of %d servers: want 1 to 255", name, n)
	}
	if dir == "" {
		return nil, fmt.Errorf("launch: %s ensemble: Dir is required", name)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("launch: %s ensemble: %w", name, err)
	}
	ports, err := pickPorts(3 * n)
	if err != nil {
		return nil, err
	}
	e := &Ensemble{Name: name, Dir: dir}
	servers := map[string]string{}
	for i := 1; i <= n; i++ {
		client, quorum, election := ports[3*i-3], ports[3*i-2], ports[3*i-1]
		e.QuorumPorts = append(e.QuorumPorts, quorum)
		e.ElectionPorts = append(e.ElectionPorts, election)
		servers["server."+strconv.Itoa(i)] = fmt.Sprintf("127.0.0.1:%d:%d;127.0.0.1:%d", quorum, election, client)
	}
	for i := 1; i <= n; i++ {
		p, err := prepare(fmt.Sprintf("%s.%d", name, i), filepath.Join(dir, strconv.Itoa(i)), "", ports[3*i-3], startTimeout, stopTimeout)
		if err != nil {
			return nil, err
		}
		p.ID = i
		p.ready = probeMember
		if err := os.WriteFile(filepath.Join(p.DataDir, "myid"), []byte(strconv.Itoa(i)+"\n"), 0o644); err != nil {
			return nil, fmt.Errorf("launch: %s: write myid: %w", p.Name, err)
		}
		cfg := MergeCfg(BaseZooCfg(p.Port, p.DataDir, forceSync), map[string]string{
			"tickTime":  DefaultTickTime,
			"initLimit": DefaultInitLimit,
			"syncLimit": DefaultSyncLimit,
		})
		cfg = MergeCfg(MergeCfg(cfg, servers), extra)
		if err := writeCfg(p, cfg); err != nil {
			return nil, err
		}
		e.Members = append(e.Members, p)
	}
	return e, nil
}

// startAll spawns every member, then waits (bounded by the members' start
// timeout) until every one of them serves with one leader. A member that
// exits meanwhile fails the start at once: unlike WaitServing, which
// leaves out members stopped on purpose, a start is not done with a
// member missing. On failure it kills them all.
func (e *Ensemble) startAll(ctx context.Context) error {
	for _, p := range e.Members {
		if _, err := p.spawn(); err != nil {
			e.Kill()
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, e.Members[0].startTimeout)
	defer cancel()
	if _, err := e.waitServing(ctx, true); err != nil {
		e.Kill()
		return err
	}
	return nil
}

// Member returns member id (1-based), or nil when there is none.
func (e *Ensemble) Member(id int) *Process {
	if id < 1 || id > len(e.Members) {
		return nil
	}
	return e.Members[id-1]
}

// Addrs are the members' client addresses, member 1 first.
func (e *Ensemble) Addrs() []string {
	out := make([]string, len(e.Members))
	for i, p := range e.Members {
		out[i] = p.Addr
	}
	return out
}

// Leader is the member whose srvr says it leads, or 0 when none does.
func (e *Ensemble) Leader() int {
	for _, p := range e.Members {
		if !p.Running() {
			continue
		}
		if st, err := Srvr(p.Addr, readyProbeTimeout); err == nil && st.Mode == "leader" {
			return p.ID
		}
	}
	return 0
}

// Followers are the running members whose srvr says they follow.
func (e *Ensemble) Followers() []int {
	var out []int
	for _, p := range e.Members {
		if !p.Running() {
			continue
		}
		if st, err := Srvr(p.Addr, readyProbeTimeout); err == nil && st.Mode == "follower" {
			out = append(out, p.ID)
		}
	}
	return out
}

// WaitServing waits until every running member serves (srvr names its
// role) and exactly one of them leads, and returns the leader's id. A
// member that is not running (stopped or killed on purpose) is not waited
// for; at least one must run. It fails when ctx ends first, with each
// member's last answer and log tail.
func (e *Ensemble) WaitServing(ctx context.Context) (int, error) {
	return e.waitServing(ctx, false)
}

// waitServing is WaitServing; with everyone set, a member that does not
// run fails the wait at once, with its exit and what its log says.
func (e *Ensemble) waitServing(ctx context.Context, everyone bool) (int, error) {
	t := time.NewTicker(memberPollInterval)
	defer t.Stop()
	for {
		leader, leaders, serving, running := 0, 0, 0, 0
		last := make([]string, len(e.Members))
		for i, p := range e.Members {
			if !p.Running() && everyone {
				return 0, p.exitedError(e.Name)
			}
			if !p.Running() {
				last[i] = "not running"
				continue
			}
			running++
			st, err := Srvr(p.Addr, readyProbeTimeout)
			switch {
			case err != nil:
				last[i] = err.Error()
			case st.Mode == "":
				last[i] = "not serving"
			default:
				last[i] = st.Mode
				serving++
				if st.Mode == "leader" {
					leader = p.ID
					leaders++
				}
			}
		}
		if running > 0 && serving == running && leaders == 1 {
			return leader, nil
		}
		select {
		case <-ctx.Done():
			var b strings.Builder
			for i, p := range e.Members {
				fmt.Fprintf(&b, "\n--- %s at %s: %s; log %s:\n%s", p.Name, p.Addr, last[i], p.LogPath, p.LogTail(15))
			}
			return 0, fmt.Errorf("launch: %s ensemble: %d of %d running members serve, %d leading, when waiting ended (%v): %w%s",
				e.Name, serving, running, leaders, context.Cause(ctx), ErrNotReady, b.String())
		case <-t.C:
		}
	}
}

// Stop stops every member (see Process.Stop), all at once, and returns
// the first error.
func (e *Ensemble) Stop() error {
	errs := make([]error, len(e.Members))
	var wg sync.WaitGroup
	for i, p := range e.Members {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = p.Stop() }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Kill kills every running member (SIGKILL) and waits for them.
func (e *Ensemble) Kill() {
	for _, p := range e.Members {
		_ = p.Kill()
	}
}

// CPUTimes is each member's CPU time so far (see Process.CPUTime); a
// member that does not run has 0 and its error in errs.
func (e *Ensemble) CPUTimes() ([]time.Duration, error) {
	out := make([]time.Duration, len(e.Members))
	var errs []error
	for i, p := range e.Members {
		d, err := p.CPUTime()
		out[i] = d
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// ServerStatus is what srvr says about a server.
type ServerStatus struct {
	// Mode is leader, follower, observer or standalone; "" when the
	// server does not serve (ZooKeeper's "not currently serving", or a
	// zabd member without a role).
	Mode      string
	Zxid      int64 // -1 when srvr did not say
	NodeCount int64 // -1 when srvr did not say
}

// Srvr asks the server at addr for srvr and parses Mode, Zxid and Node
// count. A server that answers but does not serve has Mode "".
func Srvr(addr string, timeout time.Duration) (ServerStatus, error) {
	out, err := FourLetter(addr, "srvr", timeout)
	if err != nil {
		return ServerStatus{}, err
	}
	return ParseSrvr(out), nil
}

// ParseSrvr parses a srvr answer (see Srvr).
func ParseSrvr(out string) ServerStatus {
	st := ServerStatus{Zxid: -1, NodeCount: -1}
	if strings.Contains(out, "not currently serving") {
		return st
	}
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Mode":
			st.Mode = v
		case "Zxid":
			if z, err := strconv.ParseInt(strings.TrimPrefix(v, "0x"), 16, 64); err == nil {
				st.Zxid = z
			}
		case "Node count":
			if c, err := strconv.ParseInt(v, 10, 64); err == nil {
				st.NodeCount = c
			}
		}
	}
	return st
}

// probeMember returns nil when the ensemble member at addr serves: srvr
// names its role.
func probeMember(addr string) error {
	st, err := Srvr(addr, readyProbeTimeout)
	if err != nil {
		return err
	}
	if st.Mode == "" {
		return fmt.Errorf("srvr at %s: not serving", addr)
	}
	return nil
}

// pickPorts picks an ensemble's ports and a zabd's PortKeys: FreePorts,
// but for tests that hand out a taken port.
var pickPorts = FreePorts

// FreePorts returns n distinct TCP ports on 127.0.0.1 that were free when
// asked: all n are held open together, so none repeats, then closed for
// the caller to bind promptly.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []stdnet.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := stdnet.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("launch: pick free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*stdnet.TCPAddr).Port)
	}
	return ports, nil
}
