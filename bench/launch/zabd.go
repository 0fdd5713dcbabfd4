package launch

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"
)

// ZabdOptions configures a zabd child. Zero values take the defaults named
// on each field.
type ZabdOptions struct {
	Dir       string            // required: holds zoo.cfg and zabd.log
	DataDir   string            // default Dir/data
	Port      int               // default: a free port
	Engine    string            // --engine; default "native"
	ForceSync bool              // forceSync in zoo.cfg
	ExtraCfg  map[string]string // laid over BaseZooCfg; "" removes a key
	// PortKeys are zoo.cfg keys that name a port of their own
	// (secureClientPort, admin.serverPort, metricsProvider.httpPort):
	// each gets a free port, picked afresh on every try as the client
	// port is, so a port taken between the pick and zabd's bind (zabd
	// exits then) is replaced rather than failing the start. They are
	// laid over ExtraCfg; Process.Ports says what each got.
	PortKeys  []string
	ExtraArgs []string // appended to the command line
	Env       []string // appended to the environment
	CPUs      string   // run under taskset -c CPUs (e.g. "0"); empty: anywhere

	StartTimeout time.Duration // default DefaultStartTimeout
	StopTimeout  time.Duration // default DefaultStopTimeout
}

// StartZabd writes zoo.cfg into o.Dir and starts
//
//	bin --config Dir/zoo.cfg --client-addr 127.0.0.1:PORT --data-dir DATADIR --engine ENGINE [ExtraArgs]
//
// then waits until it answers ruok. The flags repeat what zoo.cfg says, so
// zabd gets the same answer whichever it reads. ctx bounds the start only.
// A missing bin is an error matching ErrNotInstalled.
func StartZabd(ctx context.Context, bin string, o ZabdOptions) (*Process, error) {
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return nil, fmt.Errorf("launch: zabd binary %q: %w", bin, ErrNotInstalled)
	}
	return onFreePort(ctx, o.Port != 0, func() (*Process, error) {
		p, err := prepare("zabd", o.Dir, o.DataDir, o.Port, o.StartTimeout, o.StopTimeout)
		if err != nil {
			return nil, err
		}
		cfg := MergeCfg(BaseZooCfg(p.Port, p.DataDir, o.ForceSync), o.ExtraCfg)
		if len(o.PortKeys) > 0 {
			ports, err := pickPorts(len(o.PortKeys) + 1) // held together, so none is the client port
			if err != nil {
				return nil, err
			}
			ports = slices.DeleteFunc(ports, func(port int) bool { return port == p.Port })
			p.Ports = map[string]int{}
			for i, key := range o.PortKeys {
				p.Ports[key] = ports[i]
				cfg[key] = strconv.Itoa(ports[i])
			}
		}
		if err := writeCfg(p, cfg); err != nil {
			return nil, err
		}
		if p.argv, err = zabdArgv(bin, p, o); err != nil {
			return nil, err
		}
		p.env = append(os.Environ(), o.Env...)
		if err := p.start(ctx); err != nil {
			return nil, err
		}
		return p, nil
	})
}

// zabdArgv is the command line of zabd server p: the flags repeat what its
// zoo.cfg says, so zabd gets the same answer whichever it reads.
func zabdArgv(bin string, p *Process, o ZabdOptions) ([]string, error) {
	engine := o.Engine
	if engine == "" {
		engine = "native"
	}
	argv := append([]string{bin,
		"--config", p.ConfigPath,
		"--client-addr", p.Addr,
		"--data-dir", p.DataDir,
		"--engine", engine,
	}, o.ExtraArgs...)
	return pinArgv(argv, o.CPUs)
}
