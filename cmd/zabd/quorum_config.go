package main

import (
	"fmt"
	stdnet "net"
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

// checkStandalone refuses a configuration that describes an ensemble: more
// than one voting member, or any observer. Each member would otherwise
// run as an independent standalone server and acknowledge writes the
// others never see (split brain). One participant alone runs standalone,
// as ZooKeeper runs it when standaloneEnabled is true.
func checkStandalone(servers []QuorumServer) error {
	var voters, observers []string
	for _, s := range servers {
		name := "server." + strconv.FormatUint(s.ID, 10)
		if s.Observer {
			observers = append(observers, name)
		} else {
			voters = append(voters, name)
		}
	}
	if len(voters) <= 1 && len(observers) == 0 {
		return nil
	}
	listed := strings.Join(append(voters, observers...), ", ")
	return fmt.Errorf("zoo.cfg describes an ensemble (%d voting, %d observing: %s), but quorum mode (ZAB replication) "+
		"is not implemented in this zabd yet; run as standalone servers, its members would each acknowledge writes "+
		"the others never see, so zabd refuses to start. Remove the server.N lines to run one standalone server",
		len(voters), len(observers), listed)
}
