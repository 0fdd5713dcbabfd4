package bench

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrConfig is matched (errors.Is) by every configuration error Run returns.
var ErrConfig = errors.New("bench: bad config")

// Config says how hard, how long and against what to run one workload.
// The zero value of each field means "use the default" unless noted; the
// defaults are filled in one place, withDefaults.
type Config struct {
	// Servers are host:port of the ensemble's members. Session i connects
	// to Servers[i%len(Servers)] only, so sessions are spread evenly and a
	// figure is not skewed by the client library's random pick.
	Servers []string
	// Sessions is the number of client sessions (default 1). For the
	// ephemeral-churn workload it is the number of concurrent churners; for
	// watch fan-out, the number of watching sessions (one writer session is
	// added).
	Sessions int
	// InFlight is the number of requests each session keeps outstanding
	// (pipelining; default 1).
	InFlight int
	// Duration of the measured phase, after Warmup. When zero and Ops > 0
	// the run is bounded by Ops (and Timeout); when both are zero it
	// defaults to 10s.
	Duration time.Duration
	// Ops bounds the number of measured requests (0: no count bound).
	Ops int64
	// Warmup is run before the measured phase; its requests are executed
	// and counted apart, never in the figures.
	Warmup time.Duration
	// Rate is the total target rate in requests per second over all
	// sessions. Zero means closed loop: each worker sends its next request
	// as soon as the previous one is answered.
	Rate float64
	// ValueBytes is the size of data written by create/set/multi (default
	// 100, the size the README's figures are measured with).
	ValueBytes int
	// KeySpace is the number of znodes that set/get/exists/mixed/multi pick
	// from and that delete consumes (default 1000).
	KeySpace int
	// Seed fixes the operations offered. Zero picks one from the clock;
	// the report always names the seed used.
	Seed int64
	// Root is the parent znode of the per-run directory (default /zabbench).
	Root string
	// Cleanup deletes the run's znodes after the run (not measured;
	// bounded by CleanupTimeout).
	Cleanup bool
	// SessionTimeout asked of the server (default 10s).
	SessionTimeout time.Duration
	// ConnectTimeout bounds establishing each session (default 10s).
	ConnectTimeout time.Duration
	// DrainTimeout is how long requests still outstanding when the load
	// phase ends may take before their sessions are closed (default 10s).
	DrainTimeout time.Duration
	// Timeout is a hard bound on the load phase when only Ops is given
	// (default 5m). With a Duration the load phase is Warmup+Duration.
	Timeout time.Duration
	// CleanupTimeout bounds Cleanup (default 60s).
	CleanupTimeout time.Duration
	// Progress, when set, is called from one goroutine as each phase
	// begins and about every ProgressInterval (default 500ms) of the load
	// with live figures, and once at the end with the report's (see
	// Progress).
	Progress         func(Progress)
	ProgressInterval time.Duration
	// ServerCPU, when set, returns each server process's CPU time so far
	// (a Started target's CPU); Run samples it when the measured phase
	// begins and when its last request has finished, and reports each
	// process's CPU per measured success (Report.ServerCPU).
	ServerCPU func() ([]ProcCPU, error)
	// Client is the connection code the load runs on: ClientLean (the
	// default) or ClientGoZK. Workloads the lean client cannot drive
	// (churn, watch, lock) run on go-zookeeper either way.
	Client string
	// Clock is the time source (default the real clock). Tests use a fake.
	Clock Clock
}

// withDefaults returns cfg with every unset field filled in.
func (cfg Config) withDefaults() Config {
	if cfg.Sessions == 0 {
		cfg.Sessions = 1
	}
	if cfg.InFlight == 0 {
		cfg.InFlight = 1
	}
	if cfg.Duration == 0 && cfg.Ops == 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.ValueBytes == 0 {
		cfg.ValueBytes = 100
	}
	if cfg.KeySpace == 0 {
		cfg.KeySpace = 1000
	}
	if cfg.Root == "" {
		cfg.Root = "/zabbench"
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = 10 * time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Minute
	}
	if cfg.CleanupTimeout == 0 {
		cfg.CleanupTimeout = 60 * time.Second
	}
	if cfg.ProgressInterval == 0 {
		cfg.ProgressInterval = 500 * time.Millisecond
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Client == "" {
		cfg.Client = ClientLean
	}
	return cfg
}

// validate reports the first thing wrong with a defaulted config.
func (cfg Config) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, a...))
	}
	switch {
	case len(cfg.Servers) == 0:
		return bad("no servers")
	case cfg.Sessions < 0 || cfg.Sessions > 100000:
		return bad("sessions %d out of [1, 100000]", cfg.Sessions)
	case cfg.InFlight < 0 || cfg.InFlight > 10000:
		return bad("in-flight %d out of [1, 10000]", cfg.InFlight)
	case cfg.Duration < 0 || cfg.Warmup < 0 || cfg.Ops < 0:
		return bad("negative duration, warm-up or op count")
	case cfg.Client != ClientLean && cfg.Client != ClientGoZK:
		return bad("client %q is neither %s nor %s", cfg.Client, ClientLean, ClientGoZK)
	case cfg.Rate < 0:
		return bad("negative rate %g", cfg.Rate)
	case cfg.ValueBytes < 0 || cfg.ValueBytes > 1<<20:
		return bad("value size %d out of [0, 1MiB]", cfg.ValueBytes)
	case cfg.KeySpace < 0:
		return bad("negative key space %d", cfg.KeySpace)
	case !strings.HasPrefix(cfg.Root, "/") || strings.HasSuffix(cfg.Root, "/"):
		return bad("root %q must start and not end with /", cfg.Root)
	}
	for _, s := range cfg.Servers {
		if !strings.Contains(s, ":") {
			return bad("server %q is not host:port", s)
		}
	}
	return nil
}

// Mode names the pacing: "closed" or "open".
func (cfg Config) Mode() string {
	if cfg.Rate > 0 {
		return "open"
	}
	return "closed"
}
