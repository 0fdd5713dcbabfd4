package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	stdnet "net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// QuorumServer is one server.N line of zoo.cfg, as Apache ZooKeeper 3.8
// reads it:
//
//	server.N=host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]
//
// host may be an IPv6 address in brackets; several addresses of one server
// are separated by '|' (ZooKeeper's multi-address form), and each must
// name the same role.
type QuorumServer struct {
	ID    uint64
	Addrs []QuorumAddr // at least one
	// Observer: the line ends in ":observer" (it never votes).
	Observer bool
	// ClientAddr is the client address the line gives after ';' ("" when
	// it gives none); a bare port means all interfaces, as in ZooKeeper.
	ClientAddr string
	// ClientAddrFromStatic: this server's ClientAddr came from clientPort, not the line
	// (ZooKeeper then leaves it out of the config text).
	ClientAddrFromStatic bool
}

// QuorumAddr is one address of a server: the port followers talk to the
// leader on, and the port leader election uses.
type QuorumAddr struct {
	Host                     string
	QuorumPort, ElectionPort int
}

// parseServerLine parses the key "server.N" and its value.
func parseServerLine(key, value string) (QuorumServer, error) {
	var s QuorumServer
	id, err := strconv.ParseUint(strings.TrimPrefix(key, "server."), 10, 64)
	if err != nil {
		return s, fmt.Errorf("%s: the server id after \"server.\" must be a number", key)
	}
	s.ID = id
	addrs, client, hasClient := strings.Cut(value, ";")
	if hasClient {
		client = strings.TrimSpace(client)
		if _, err := strconv.ParseUint(client, 10, 16); err == nil {
			s.ClientAddr = stdnet.JoinHostPort("0.0.0.0", client)
		} else if h, p, err := stdnet.SplitHostPort(client); err == nil && validPort(p) {
			s.ClientAddr = stdnet.JoinHostPort(h, p)
		} else {
			return s, fmt.Errorf("%s: client address %q is neither a port nor host:port", key, client)
		}
	}
	for i, a := range strings.Split(addrs, "|") {
		qa, observer, err := parseQuorumAddr(strings.TrimSpace(a))
		if err != nil {
			return s, fmt.Errorf("%s=%s: %w (want host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort])", key, value, err)
		}
		if i == 0 {
			s.Observer = observer
		} else if observer != s.Observer {
			return s, fmt.Errorf("%s: its addresses disagree on the role (participant or observer)", key)
		}
		s.Addrs = append(s.Addrs, qa)
	}
	return s, nil
}

// parseQuorumAddr parses host:quorumPort:electionPort[:role].
func parseQuorumAddr(a string) (QuorumAddr, bool, error) {
	var qa QuorumAddr
	var rest string
	if strings.HasPrefix(a, "[") { // [v6]:port:port
		end := strings.Index(a, "]")
		if end < 0 {
			return qa, false, fmt.Errorf("unclosed '[' in %q", a)
		}
		qa.Host, rest = a[1:end], strings.TrimPrefix(a[end+1:], ":")
	} else {
		host, r, ok := strings.Cut(a, ":")
		if !ok {
			return qa, false, fmt.Errorf("%q has no ports", a)
		}
		qa.Host, rest = host, r
	}
	if qa.Host == "" {
		return qa, false, fmt.Errorf("%q has no host", a)
	}
	parts := strings.Split(rest, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return qa, false, fmt.Errorf("%q: want a quorum port, an election port and an optional role", a)
	}
	for i, p := range parts[:2] {
		if !validPort(p) {
			return qa, false, fmt.Errorf("%q: port %q is not in 1-65535", a, p)
		}
		n, _ := strconv.Atoi(p)
		if i == 0 {
			qa.QuorumPort = n
		} else {
			qa.ElectionPort = n
		}
	}
	observer := false
	if len(parts) == 3 {
		switch strings.ToLower(parts[2]) {
		case "participant":
		case "observer":
			observer = true
		default:
			return qa, false, fmt.Errorf("%q: role %q is neither participant nor observer", a, parts[2])
		}
	}
	return qa, observer, nil
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// QuorumConfig is this server's place in an ensemble: what a member needs
// beyond a standalone server's configuration.
type QuorumConfig struct {
	// MyID is this server's id, read from <dataDir>/myid.
	MyID uint64
	// Servers are every server.N line, sorted by id, this one included.
	// This server's ClientAddr is the address it serves clients on (from
	// its line, or else from clientPort, as ZooKeeper fills it in); the
	// others' are what their lines give ("" for none).
	Servers []QuorumServer
	// InitLimit and SyncLimit are initLimit and syncLimit, in ticks of
	// tickTime; both above zero.
	InitLimit, SyncLimit int
	// Observer is this member's role: an observer follows the leader
	// but never votes.
	Observer bool
}

// Self is this server's own server.N line.
func (q *QuorumConfig) Self() QuorumServer {
	for _, s := range q.Servers {
		if s.ID == q.MyID {
			return s
		}
	}
	panic(fmt.Sprintf("zabd: myid %d is not among the %d servers", q.MyID, len(q.Servers)))
}

func (q *QuorumConfig) role() string {
	if q.Observer {
		return "observer"
	}
	return "participant"
}

// myidFile is the file in dataDir holding this server's id, as ZooKeeper's.
const myidFile = "myid"

// serverKey is the key Config.cfgLines holds server.N's line under (the
// written key may carry leading zeros).
func serverKey(id uint64) string { return "server." + strconv.FormatUint(id, 10) }

// cfgAt names where key was set: "zoo.cfg line 7", or the file alone.
func (c *Config) cfgAt(key string) string {
	name := c.cfgName
	if name == "" {
		name = "zoo.cfg"
	}
	if line, ok := c.cfgLines[key]; ok {
		return fmt.Sprintf("%s line %d", name, line)
	}
	return name
}

// serverNames lists servers as "server.1 (line 5), server.2 (line 6)".
func (c *Config) serverNames(servers []QuorumServer) string {
	names := make([]string, len(servers))
	for i, s := range servers {
		names[i] = serverKey(s.ID)
		if line, ok := c.cfgLines[serverKey(s.ID)]; ok {
			names[i] += fmt.Sprintf(" (line %d)", line)
		}
	}
	return strings.Join(names, ", ")
}

// quorumConfig reads this server's place in the ensemble the server.N
// lines describe, as ZooKeeper 3.8's QuorumPeerConfig does, and settles
// c.ClientAddr from this server's line. It returns nil when they describe
// no ensemble: no lines, or one participant with standaloneEnabled=true
// (which runs standalone). Errors name zoo.cfg and the line, or the myid
// file.
func (c *Config) quorumConfig() (*QuorumConfig, error) {
	var voters, observers []QuorumServer
	for _, s := range c.Servers {
		if s.Observer {
			observers = append(observers, s)
		} else {
			voters = append(voters, s)
		}
	}
	switch {
	case len(c.Servers) == 0:
		return nil, nil
	case len(voters) == 0:
		return nil, fmt.Errorf("%s: every server.N line is an observer: %s; an ensemble needs participants, which vote, and observers only follow them "+
			"(ZooKeeper refuses this too)", c.cfgAt(""), c.serverNames(observers))
	case len(voters) == 1 && c.StandaloneEnabled && len(observers) > 0:
		return nil, fmt.Errorf("%s: one participant, %s, and observers, %s, with standaloneEnabled=true: the participant would run standalone, "+
			"which observers cannot follow (ZooKeeper refuses this too); set standaloneEnabled=false to run a quorum of one with observers",
			c.cfgAt(""), c.serverNames(voters), c.serverNames(observers))
	case len(voters) == 1 && c.StandaloneEnabled:
		return nil, nil
	}
	for _, l := range []struct {
		key, what string
		v, sample int
	}{
		{"initLimit", "the ticks a follower has to connect to the leader and sync with it", c.InitLimit, 10},
		{"syncLimit", "the ticks a follower may fall behind the leader before it is dropped", c.SyncLimit, 5},
	} {
		if l.v > 0 {
			continue
		}
		if _, set := c.cfgLines[l.key]; set {
			return nil, fmt.Errorf("%s: %s=%d: an ensemble needs it above zero (%s; ZooKeeper's sample zoo.cfg has %s=%d)",
				c.cfgAt(l.key), l.key, l.v, l.what, l.key, l.sample)
		}
		return nil, fmt.Errorf("%s: %s is not set, and an ensemble needs it, as in ZooKeeper (%s; its sample zoo.cfg has %s=%d)",
			c.cfgAt(""), l.key, l.what, l.key, l.sample)
	}

	path := filepath.Join(c.DataDir, myidFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s describes an ensemble (%s), but %s is missing: it holds this server's id, the N of its server.N line "+
			"(write it, e.g. echo %d > %s)", c.cfgAt(""), c.serverNames(c.Servers), path, c.Servers[0].ID, path)
	} else if err != nil {
		return nil, fmt.Errorf("reading this server's id for the ensemble %s describes: %w", c.cfgAt(""), err)
	}
	text := strings.TrimSpace(string(b))
	id, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		if len(text) > 40 {
			text = text[:40] + "..."
		}
		return nil, fmt.Errorf("%s: %q is not a server id: it must hold one decimal number, the N of this server's server.N line in %s",
			path, text, c.cfgAt(""))
	}
	q := &QuorumConfig{MyID: id, Servers: slices.Clone(c.Servers), InitLimit: c.InitLimit, SyncLimit: c.SyncLimit}
	self := slices.IndexFunc(q.Servers, func(s QuorumServer) bool { return s.ID == id })
	if self < 0 {
		return nil, fmt.Errorf("%s says this is server %d, but %s has no server.%d line (it lists %s)",
			path, id, c.cfgAt(""), id, c.serverNames(c.Servers))
	}
	me := &q.Servers[self]
	q.Observer = me.Observer
	if c.PeerType != "" && (c.PeerType == "observer") != me.Observer {
		// ZooKeeper warns and follows the server line; a contradiction
		// about whether this server votes is refused here instead.
		return nil, fmt.Errorf("%s: peerType=%s, but this server's own line, %s, makes it %s: make them agree, or remove peerType",
			c.cfgAt("peerType"), c.PeerType, c.serverNames([]QuorumServer{*me}), q.role())
	}
	if err := c.checkQuorumAddrs(q.Servers); err != nil {
		return nil, err
	}

	// The client address, as ZooKeeper's setupClientPort: this server's
	// line gives it, or clientPort does; when both do they must agree.
	if me.ClientAddr == "" {
		me.ClientAddr = c.ClientAddr
		me.ClientAddrFromStatic = true
		return q, nil
	}
	from := ""
	switch {
	case c.cfgClientAddr != "" && c.ClientAddr == c.cfgClientAddr:
		keys := []string{}
		for _, k := range []string{"clientPort", "clientPortAddress"} {
			if _, ok := c.cfgLines[k]; ok {
				keys = append(keys, fmt.Sprintf("%s (line %d)", k, c.cfgLines[k]))
			}
		}
		from = strings.Join(keys, " and ")
	case c.ClientAddr != defaultConfig().ClientAddr:
		from = "--client-addr"
	}
	if from != "" && !clientAddrsAgree(c.ClientAddr, me.ClientAddr) {
		return nil, fmt.Errorf("%s: this server's line, %s, gives the client address %s, but %s gives %s: make them agree, or give it in one place "+
			"(ZooKeeper refuses this too; with a wildcard clientPortAddress only the ports must agree)",
			c.cfgAt(""), c.serverNames([]QuorumServer{*me}), me.ClientAddr, from, c.ClientAddr)
	}
	c.ClientAddr = me.ClientAddr
	return q, nil
}

// clientAddrsAgree tells whether clientPortAddress:clientPort (static)
// agrees with a server line's client address, as ZooKeeper's
// setupClientPort: the ports when static's host is a wildcard, else both.
func clientAddrsAgree(static, line string) bool {
	sh, sp, err1 := stdnet.SplitHostPort(static)
	lh, lp, err2 := stdnet.SplitHostPort(line)
	if err1 != nil || err2 != nil {
		return static == line
	}
	if sn, ln := atoiOr(sp, -1), atoiOr(lp, -2); sn != ln {
		return false
	}
	sip := stdnet.ParseIP(sh)
	if sh == "" || (sip != nil && sip.IsUnspecified()) {
		return true
	}
	if lip := stdnet.ParseIP(lh); sip != nil && lip != nil {
		return sip.Equal(lip)
	}
	return strings.EqualFold(sh, lh)
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// checkQuorumAddrs refuses two servers (or one server's two ports) on one
// host:port: one of them could not bind it. ZooKeeper would find out at
// bind time.
func (c *Config) checkQuorumAddrs(servers []QuorumServer) error {
	type use struct {
		s    QuorumServer
		what string
	}
	seen := map[string]use{}
	for _, s := range servers {
		for _, a := range s.Addrs {
			for _, p := range []struct {
				what string
				port int
			}{{"quorum port", a.QuorumPort}, {"election port", a.ElectionPort}} {
				hp := stdnet.JoinHostPort(strings.ToLower(a.Host), strconv.Itoa(p.port))
				if prev, ok := seen[hp]; ok {
					return fmt.Errorf("%s: %s's %s is %s, which %s also uses as its %s: each server needs its own quorum and election ports",
						c.cfgAt(serverKey(s.ID)), serverKey(s.ID), p.what, hp, serverKey(prev.s.ID), prev.what)
				}
				seen[hp] = use{s, p.what}
			}
		}
	}
	return nil
}

// warnEnsembleShape logs what ZooKeeper warns about in the server.N lines
// and how a single participant will run.
func warnEnsembleShape(servers []QuorumServer, standaloneEnabled bool, name string, logger *slog.Logger) {
	voters, observers := 0, 0
	for _, s := range servers {
		if s.Observer {
			observers++
		} else {
			voters++
		}
	}
	switch {
	case voters == 1 && observers == 0 && standaloneEnabled:
		logger.Warn("config: one server.N line: running standalone, as ZooKeeper does with standaloneEnabled=true", "file", name, "server", servers[0].ID)
	case voters == 2:
		logger.Warn("config: two participants: a quorum needs both, so no failure is tolerated; at least 3 are needed to tolerate one", "file", name)
	case voters > 2 && voters%2 == 0:
		logger.Warn("config: an even number of participants tolerates no more failures than one fewer; consider an odd number", "file", name, "participants", voters)
	}
}

// ConfigText is the ensemble's configuration as Apache ZooKeeper 3.8's
// members show it in /zookeeper/config (QuorumMaj's text form): a line
// server.N=host:quorumPort:electionPort[|...]:participant|observer
// [;clientHost:clientPort] per server in id order, addresses ordered by
// host, the client address only where the server's line gave it, then
// version=0 (a static configuration's version, in hex).
func (q *QuorumConfig) ConfigText() string {
	var b strings.Builder
	for _, s := range q.Servers {
		addrs := slices.Clone(s.Addrs)
		slices.SortStableFunc(addrs, func(a, b QuorumAddr) int { return strings.Compare(a.Host, b.Host) })
		fmt.Fprintf(&b, "server.%d=", s.ID)
		for i, a := range addrs {
			if i > 0 {
				b.WriteByte('|')
			}
			host := a.Host
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
			fmt.Fprintf(&b, "%s:%d:%d", host, a.QuorumPort, a.ElectionPort)
		}
		if s.Observer {
			b.WriteString(":observer")
		} else {
			b.WriteString(":participant")
		}
		if s.ClientAddr != "" && !s.ClientAddrFromStatic {
			b.WriteString(";" + s.ClientAddr)
		}
		b.WriteByte('\n')
	}
	b.WriteString("version=0")
	return b.String()
}
