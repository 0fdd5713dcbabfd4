package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	stdnet "net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"zabd/engine"
	"zabd/net"
	"zabd/net/metrics"
	"zabd/net/secure"
	"zabd/snapshot"
	"zabd/zab"
)

// Config is a server's configuration: zoo.cfg's keys, as Apache
// ZooKeeper 3.8 reads them, then flags on top. validate settles it: after
// it, Quorum says whether this server is a member of an ensemble.
type Config struct {
	ClientAddr             string // clientPortAddress:clientPort
	DataDir                string
	DataLogDir             string
	Engine                 string
	TickTime               time.Duration
	MinSessionTimeout      time.Duration
	MaxSessionTimeout      time.Duration
	MaxClientCnxns         int
	FourLetterWords        []string
	MaxBuffer              int
	SuperDigest            string
	ExtendedTypesEnabled   bool
	ContainerCheckInterval time.Duration
	// SnapCount is snapCount: txns between snapshots (randomized per
	// server between SnapCount/2 and SnapCount).
	SnapCount int
	// SnapSharePercent is snapSharePercent (zabd's): the most of the wall
	// time background snapshots taken one after another may fill
	// (zab.SnapshotterConfig.Share); 100 is snapCount alone, as ZooKeeper.
	SnapSharePercent int
	// SnapshotCodec is snapshotCodec (zabd's): how snapshots are stored,
	// s2 (default), zstd or none. Snapshots of every codec are read
	// whatever it says.
	SnapshotCodec snapshot.Codec
	// SnapRetainCount and PurgeInterval are autopurge.snapRetainCount
	// (at least 3) and autopurge.purgeInterval (zoo.cfg in hours; 0 turns
	// purging of snapshots and log off, as ZooKeeper).
	SnapRetainCount int
	PurgeInterval   time.Duration
	// LogSegmentBytes is the native log's segment size, each segment
	// preallocated whole (0: the log's default, 64 MiB): zoo.cfg
	// preAllocSize, in KiB as ZooKeeper reads it. Tests set it small to see
	// segments purged.
	LogSegmentBytes int64
	// Repair (--repair, not a zoo.cfg key): cut a corrupt native log at
	// the first bad record, moving the rest aside, before opening it.
	Repair bool
	// Servers are zoo.cfg's server.N lines, sorted by id.
	Servers []QuorumServer
	// StandaloneEnabled is standaloneEnabled (default true): one
	// participant alone runs standalone; false runs it as a quorum of one.
	StandaloneEnabled bool
	// InitLimit and SyncLimit are initLimit and syncLimit, in ticks: how
	// long a follower may take to connect to and sync with the leader, and
	// how far it may fall behind. 0: not set, which an ensemble refuses,
	// as ZooKeeper does (its sample zoo.cfg has 10 and 5).
	InitLimit, SyncLimit int
	// PeerType is peerType: "participant", "observer", or "" when zoo.cfg
	// does not say (then this server's server.N line decides).
	PeerType string
	// ReadOnlyModeEnabled is readonlymode.enabled: a member that has
	// looked for a leader for max(2 s, tickTime) serves read-only clients
	// from the state it has (readOnlyMode).
	ReadOnlyModeEnabled bool
	// Quorum is this server's place in an ensemble, set by validate from
	// the server.N lines, <DataDir>/myid and the keys above; nil when it
	// runs standalone.
	Quorum *QuorumConfig
	// GlobalOutstandingLimit is globalOutstandingLimit: writes in flight
	// across all connections (default 1000, as ZooKeeper);
	// GlobalOutstandingBytes and ConnOutstandingBytes (zabd's keys
	// globalOutstandingBytes and connectionOutstandingBytes) bound their
	// request bytes server-wide and per connection. 0: net's defaults.
	GlobalOutstandingLimit int
	GlobalOutstandingBytes int64
	ConnOutstandingBytes   int64
	// Raw holds every key as read, for the conf four-letter word.
	Raw [][2]string
	// Admin is the AdminServer (admin.* keys, or --admin-addr).
	Admin AdminConfig
	// Metrics is the Prometheus endpoint (metricsProvider.* keys, or
	// --metrics-addr).
	Metrics MetricsConfig
	// TLS is the secure client port's configuration (secureClientPort,
	// ssl.*, client.portUnification, the x509 provider).
	TLS TLSConfig
	// SASL is SASL authentication (the SASL provider, the JAAS file,
	// super users, enforcement).
	SASL SASLConfig
	// metrics, set at start when the endpoint is on, observes what the
	// server does (requests, commits, snapshots, expiries).
	metrics *metrics.Metrics
	// saslUsers, set at start from the JAAS file, are the SASL users.
	saslUsers *net.SASLConfig

	// cfgName is the zoo.cfg read ("" when none), and cfgLines the line
	// each key was last set on ("server.<id>" for server lines), for
	// messages about what validate finds wrong.
	cfgName  string
	cfgLines map[string]int
	// cfgText is the zoo.cfg as read, for initial_configuration.
	cfgText string
	// cfgClientAddr is the client address clientPort and
	// clientPortAddress gave ("" when neither), to tell it from a flag's.
	cfgClientAddr string
}

// AdminConfig is the AdminServer's part of zoo.cfg.
type AdminConfig struct {
	// Enabled is admin.enableServer. ZooKeeper's default is true; zabd's
	// is false (README, deliberate differences): an HTTP port whose
	// commands include purging is opened only when asked for.
	Enabled bool
	// Address and Port are admin.serverAddress (default 0.0.0.0, as
	// ZooKeeper) and admin.serverPort (default 8080).
	Address string
	Port    string
	// URL is admin.commandURL (default /commands); IdleTimeout
	// admin.idleTimeout (ms in zoo.cfg, default 30 s).
	URL         string
	IdleTimeout time.Duration
}

// TLSConfig is TLS for clients, as ZooKeeper 3.8's keys say it.
type TLSConfig struct {
	// SecureClientAddr is secureClientPortAddress:secureClientPort, ""
	// when no secure port is configured.
	SecureClientAddr string
	// Unified is client.portUnification: clientPort takes TLS and plain
	// text.
	Unified bool
	// Quorum is sslQuorum and the ssl.quorum.* keys: TLS between members.
	Quorum QuorumTLS
	// X509 is authProvider.N=...X509AuthenticationProvider: a verified
	// client certificate's subject becomes the connection's x509 id.
	X509 bool
	// Store is the ssl.* keys.
	Store secure.Config
}

// QuorumTLS is TLS on the quorum and election ports (sslQuorum=true),
// every member presenting a certificate its peers' trust stores verify.
type QuorumTLS struct {
	Enabled bool
	Store   secure.Config
	// NoHostCheck is ssl.quorum.hostnameVerification=false: a member's
	// certificate chain is verified but not its name.
	NoHostCheck bool
}

// sslStoreKey sets what an ssl.* or ssl.quorum.* key (with or without
// ZooKeeper's "zookeeper." prefix) says of the client ports' or the
// members' stores, protocols and suites; false for any other key.
func sslStoreKey(c *Config, key, v string) bool {
	key = strings.TrimPrefix(key, "zookeeper.")
	var st *secure.Config
	if rest, ok := strings.CutPrefix(key, "ssl.quorum."); ok {
		st, key = &c.TLS.Quorum.Store, rest
	} else if rest, ok := strings.CutPrefix(key, "ssl."); ok {
		st, key = &c.TLS.Store, rest
	} else {
		return false
	}
	switch key {
	case "keyStore.location":
		st.KeyStore = v
	case "keyStore.password":
		st.KeyStorePassword = v
	case "keyStore.type":
		st.KeyStoreType = v
	case "trustStore.location":
		st.TrustStore = v
	case "trustStore.password":
		st.TrustStorePassword = v
	case "trustStore.type":
		st.TrustStoreType = v
	case "clientAuth":
		st.ClientAuth = v
	case "protocol":
		st.Protocol = v
	case "enabledProtocols":
		st.EnabledProtocols = strings.Split(v, ",")
	case "ciphersuites":
		st.CipherSuites = strings.Split(v, ",")
	default:
		return false
	}
	return true
}

// On reports whether any port serves TLS.
func (t TLSConfig) On() bool { return t.SecureClientAddr != "" || t.Unified }

// SASLConfig is SASL as ZooKeeper's keys and JVM properties say it.
type SASLConfig struct {
	// Provider: authProvider.N=...SASLAuthenticationProvider (sasl ACLs).
	Provider bool
	// JAASFile is java.security.auth.login.config (--jaas-config, or
	// -Djava.security.auth.login.config in SERVER_JVMFLAGS or JVMFLAGS,
	// as ZooKeeper's start scripts pass it); Section its section
	// (zookeeper.sasl.serverconfig, default Server).
	JAASFile, Section string
	// SuperUsers are zookeeper.superUser and zookeeper.superUser.N.
	SuperUsers []string
	// Require is sessionRequireClientSASLAuth, or enforce.auth.enabled
	// with sasl among enforce.auth.schemes.
	Require bool
	// enforce, schemes: enforce.auth.enabled and enforce.auth.schemes as
	// read, combined by validate.
	enforce bool
	schemes []string
}

// check combines enforce.auth.* and refuses what ZooKeeper refuses to
// start with: an enforced scheme without its provider.
func (s *SASLConfig) check() error {
	if s.enforce {
		for _, sc := range s.schemes {
			switch strings.TrimSpace(sc) {
			case "sasl":
				s.Require = true
			case "":
			default:
				return fmt.Errorf("enforce.auth.schemes: zabd enforces sasl only, not %q", sc)
			}
		}
	}
	if s.Require && !s.Provider {
		return fmt.Errorf("SASL authentication is required (sessionRequireClientSASLAuth or enforce.auth.enabled) but no SASL provider is registered: add authProvider.1=%s", SASLProviderClass)
	}
	if s.Require && s.JAASFile == "" {
		return errors.New("SASL authentication is required but no JAAS file names the users: give zabd --jaas-config FILE (ZooKeeper's -Djava.security.auth.login.config)")
	}
	return nil
}

// SASLProviderClass is ZooKeeper's SASL authentication provider.
const SASLProviderClass = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"

// X509ProviderClass is ZooKeeper's x509 authentication provider.
const X509ProviderClass = "org.apache.zookeeper.server.auth.X509AuthenticationProvider"

// MetricsConfig is the metricsProvider.* part of zoo.cfg, as Apache
// ZooKeeper 3.8's PrometheusMetricsProvider reads it.
type MetricsConfig struct {
	// Enabled: metricsProvider.className names the Prometheus provider.
	Enabled bool
	// Host and Port are metricsProvider.httpHost (default 0.0.0.0) and
	// metricsProvider.httpPort (default 7000).
	Host, Port string
	// Runtime is metricsProvider.exportJvmInfo (default true): zabd
	// exports the Go runtime's and the process's metrics instead.
	Runtime bool
}

// Addr is the endpoint's host:port.
func (m MetricsConfig) Addr() string { return stdnet.JoinHostPort(m.Host, m.Port) }

// Addr is the AdminServer's host:port.
func (a AdminConfig) Addr() string { return stdnet.JoinHostPort(a.Address, a.Port) }

// knownKeys are zoo.cfg keys zabd reads or deliberately accepts (ZooKeeper
// keys that do not apply to a standalone zabd yet are accepted silently so
// an existing zoo.cfg works); anything else is warned about.
var knownKeys = map[string]bool{
	"clientPort": true, "clientPortAddress": true, "dataDir": true, "dataLogDir": true,
	"tickTime": true, "minSessionTimeout": true, "maxSessionTimeout": true,
	"maxClientCnxns": true, "4lw.commands.whitelist": true, "jute.maxbuffer": true,
	"engine": true, "extendedTypesEnabled": true, "zookeeper.extendedTypesEnabled": true,
	"DigestAuthenticationProvider.superDigest":           true,
	"zookeeper.DigestAuthenticationProvider.superDigest": true,
	"znode.container.checkIntervalMs":                    true,
	"snapCount":                                          true,
	"snapSharePercent":                                   true,
	"snapshotCodec":                                      true,
	"autopurge.snapRetainCount":                          true,
	"autopurge.purgeInterval":                            true,
	// accepted, used by later issues (replication, snapshots, retention)
	"preAllocSize": true, "forceSync": true,
	"reconfigEnabled": true, "leaderServes": true, "syncEnabled": true,
	// the Prometheus provider's worker pool: zabd observes inline
	"metricsProvider.numWorkerThreads": true, "metricsProvider.maxQueueSize": true, "metricsProvider.workerShutdownTimeoutMs": true,
}

func defaultConfig() Config {
	return Config{
		ClientAddr:             ":2181", // all interfaces, as ZooKeeper
		DataDir:                "./data",
		Engine:                 "native",
		TickTime:               2 * time.Second,
		MaxClientCnxns:         60,
		MaxBuffer:              0xfffff,
		ContainerCheckInterval: time.Minute,
		SnapCount:              100000,
		SnapSharePercent:       zab.DefaultSnapshotShare,
		SnapshotCodec:          snapshot.CodecS2,
		SnapRetainCount:        3,
		StandaloneEnabled:      true,
		Admin:                  AdminConfig{Address: "0.0.0.0", Port: "8080", URL: "/commands", IdleTimeout: 30 * time.Second},
		Metrics:                MetricsConfig{Host: "0.0.0.0", Port: "7000", Runtime: true},
	}
}

// parseZooCfg reads a zoo.cfg (Java properties: key=value, # and !
// comments) named name (for messages) into c. Relative dataDir paths are
// relative to the working directory, as ZooKeeper's.
func parseZooCfg(r io.Reader, name string, c *Config, logger *slog.Logger) error {
	port, addr := "", ""
	securePort, secureAddr := "", ""
	c.cfgName = name
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' || s[0] == '!' {
			continue
		}
		// Java properties: the key ends at the first '=', ':' or blank.
		i := strings.IndexAny(s, "=: \t")
		if i < 0 {
			i = len(s)
		}
		k, v := s[:i], strings.TrimLeft(s[min(i, len(s)):], " \t")
		if v != "" && (v[0] == '=' || v[0] == ':') {
			v = strings.TrimSpace(v[1:])
		}
		c.Raw = append(c.Raw, [2]string{k, v})
		if c.cfgLines == nil {
			c.cfgLines = map[string]int{}
		}
		if !strings.HasPrefix(k, "server.") { // those under serverKey(id)
			c.cfgLines[k] = line
		}
		var err error
		switch k {
		case "clientPort":
			port = v
		case "clientPortAddress":
			addr = v
		case "secureClientPort":
			if !validPortOrZero(v) {
				err = errors.New("not a port number (0-65535)")
			}
			securePort = v
		case "secureClientPortAddress":
			secureAddr = v
		case "superUser", "zookeeper.superUser":
			c.SASL.SuperUsers = append(c.SASL.SuperUsers, v)
		case "sasl.serverconfig", "zookeeper.sasl.serverconfig":
			c.SASL.Section = v
		case "sessionRequireClientSASLAuth", "zookeeper.sessionRequireClientSASLAuth":
			var on bool
			if on, err = boolean(v); on {
				c.SASL.Require = true
			}
		case "enforce.auth.enabled", "zookeeper.enforce.auth.enabled":
			c.SASL.enforce, err = boolean(v)
		case "enforce.auth.schemes", "zookeeper.enforce.auth.schemes":
			c.SASL.schemes = strings.Split(v, ",")
		case "client.secure":
			// a client-side key; harmless in a server's zoo.cfg
		case "client.portUnification":
			c.TLS.Unified, err = boolean(v)
		case "serverCnxnFactory":
			// ZooKeeper needs its Netty factory for TLS; zabd has one.
		case "sslQuorum", "zookeeper.sslQuorum":
			c.TLS.Quorum.Enabled, err = boolean(v)
		case "ssl.quorum.hostnameVerification", "zookeeper.ssl.quorum.hostnameVerification":
			var on bool
			on, err = boolean(v)
			c.TLS.Quorum.NoHostCheck = !on
		case "ssl.authProvider", "zookeeper.ssl.authProvider":
			if v != "x509" {
				err = errors.New("zabd's TLS authentication provider is x509 only")
			}
		case "dataDir":
			c.DataDir = v
		case "dataLogDir":
			c.DataLogDir = v
		case "engine":
			c.Engine = v
		case "tickTime":
			c.TickTime, err = millis(v)
		case "minSessionTimeout":
			c.MinSessionTimeout, err = millis(v)
		case "maxSessionTimeout":
			c.MaxSessionTimeout, err = millis(v)
		case "maxClientCnxns":
			c.MaxClientCnxns, err = wholeNumber(v)
		case "4lw.commands.whitelist":
			c.FourLetterWords = splitList(v)
		case "jute.maxbuffer":
			c.MaxBuffer, err = parseIntAnyBase(v)
		case "extendedTypesEnabled", "zookeeper.extendedTypesEnabled":
			c.ExtendedTypesEnabled, err = boolean(v)
		case "DigestAuthenticationProvider.superDigest", "zookeeper.DigestAuthenticationProvider.superDigest":
			c.SuperDigest = v
		case "znode.container.checkIntervalMs":
			c.ContainerCheckInterval, err = millis(v)
		case "metricsProvider.className":
			switch v {
			case metrics.ProviderClass:
				c.Metrics.Enabled = true
			case "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider", "org.apache.zookeeper.metrics.impl.NullMetricsProvider":
				c.Metrics.Enabled = false // ZooKeeper's own without an endpoint
			default:
				err = fmt.Errorf("zabd serves metrics only as %s (Prometheus); remove the line or name that class", metrics.ProviderClass)
			}
		case "metricsProvider.httpHost":
			c.Metrics.Host = v
		case "metricsProvider.httpPort":
			if !validPortOrZero(v) {
				err = errors.New("not a port number (0-65535)")
			}
			c.Metrics.Port = v
		case "metricsProvider.exportJvmInfo":
			c.Metrics.Runtime = strings.EqualFold(v, "true") // as ZooKeeper's Boolean.parseBoolean
		case "admin.enableServer":
			c.Admin.Enabled, err = boolean(v)
		case "admin.serverAddress":
			c.Admin.Address = v
		case "admin.serverPort":
			if !validPortOrZero(v) {
				err = errors.New("not a port number (0-65535)")
			}
			c.Admin.Port = v
		case "admin.commandURL":
			if !strings.HasPrefix(v, "/") {
				err = errors.New("must start with /")
			}
			c.Admin.URL = v
		case "admin.idleTimeout":
			c.Admin.IdleTimeout, err = millis(v)
		case "snapCount":
			c.SnapCount, err = wholeNumber(v)
		case "snapSharePercent":
			c.SnapSharePercent, err = wholeNumber(v)
		case "snapshotCodec":
			c.SnapshotCodec, err = snapshot.ParseCodec(v)
		case "autopurge.snapRetainCount":
			c.SnapRetainCount, err = wholeNumber(v)
			if err == nil && c.SnapRetainCount < 3 {
				logger.Warn("zoo.cfg: autopurge.snapRetainCount below the minimum, using 3", "line", line, "value", v)
				c.SnapRetainCount = 3
			}
		case "preAllocSize", "zookeeper.preAllocSize":
			// KiB, as ZooKeeper's; zabd preallocates whole segments, so
			// it is the native log's segment size. Non-positive: default.
			var kib int
			if kib, err = wholeNumber(v); err == nil && kib > 0 {
				c.LogSegmentBytes = int64(kib) << 10
			}
		case "globalOutstandingLimit", "zookeeper.globalOutstandingLimit":
			c.GlobalOutstandingLimit, err = positiveInt(v)
		case "globalOutstandingBytes":
			var n int
			n, err = positiveInt(v)
			c.GlobalOutstandingBytes = int64(n)
		case "connectionOutstandingBytes":
			var n int
			n, err = positiveInt(v)
			c.ConnOutstandingBytes = int64(n)
		case "standaloneEnabled":
			c.StandaloneEnabled, err = boolean(v)
		case "initLimit":
			c.InitLimit, err = wholeNumber(v)
		case "syncLimit":
			c.SyncLimit, err = wholeNumber(v)
		case "peerType":
			switch strings.ToLower(v) { // as ZooKeeper, any case
			case "participant", "observer":
				c.PeerType = strings.ToLower(v)
			default:
				err = errors.New("neither participant nor observer")
			}
		case "electionAlg":
			// ZooKeeper 3.6 removed algorithms 0-2; 3 (fast leader
			// election) is the only one it and zabd run.
			var alg int
			if alg, err = wholeNumber(v); err == nil && alg != 3 {
				err = fmt.Errorf("only electionAlg=3 (fast leader election) is supported, as in ZooKeeper 3.8; remove the line or set it to 3")
			}
		case "readonlymode.enabled", "zookeeper.readonlymode.enabled":
			c.ReadOnlyModeEnabled, err = boolean(v)
		case "dynamicConfigFile":
			err = fmt.Errorf("a dynamic configuration file is not supported (zabd has no dynamic reconfiguration); list the ensemble's server.N lines in zoo.cfg")
		case "autopurge.purgeInterval":
			var hours int
			hours, err = wholeNumber(v)
			c.PurgeInterval = time.Duration(max(hours, 0)) * time.Hour
		default:
			if sslStoreKey(c, k, v) {
				break
			}
			if strings.HasPrefix(k, "authProvider.") && v == X509ProviderClass {
				c.TLS.X509 = true
				break
			}
			if strings.HasPrefix(k, "authProvider.") && v == SASLProviderClass {
				c.SASL.Provider = true
				break
			}
			if strings.HasPrefix(k, "superUser.") || strings.HasPrefix(k, "zookeeper.superUser.") {
				c.SASL.SuperUsers = append(c.SASL.SuperUsers, v)
				break
			}
			if strings.HasPrefix(k, "server.") {
				var qs QuorumServer
				if qs, err = parseServerLine(k, v); err == nil {
					if prev, dup := c.cfgLines[serverKey(qs.ID)]; dup {
						err = fmt.Errorf("server.%d is listed twice (first on line %d)", qs.ID, prev)
						break
					}
					c.Servers = append(c.Servers, qs)
					c.cfgLines[serverKey(qs.ID)] = line
				}
				break
			}
			if !knownKeys[k] && notImplemented(k, v) == "" && !strings.HasPrefix(k, "group.") && !strings.HasPrefix(k, "weight.") {
				logger.Warn("config: unknown key ignored", "file", name, "line", line, "key", k)
			}
		}
		if err != nil {
			return fmt.Errorf("%s line %d: %s=%q: %w", name, line, k, v, err)
		}
		if why := notImplemented(k, v); why != "" {
			logger.Warn("config: key not implemented by zabd yet, ignored", "file", name, "line", line, "key", k, "value", v, "effect", why)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	sort.Slice(c.Servers, func(i, j int) bool { return c.Servers[i].ID < c.Servers[j].ID })
	warnEnsembleShape(c.Servers, c.StandaloneEnabled, name, logger)
	if port != "" || addr != "" {
		h, p, _ := stdnet.SplitHostPort(c.ClientAddr)
		if port != "" {
			if !validPortOrZero(port) {
				return fmt.Errorf("%s: clientPort=%q is not a port number (0-65535)", name, port)
			}
			p = port
		}
		if addr != "" {
			h = addr
		}
		c.ClientAddr = stdnet.JoinHostPort(h, p)
		c.cfgClientAddr = c.ClientAddr
	}
	if securePort != "" {
		// ZooKeeper's secure port listens where clientPortAddress says
		// unless secureClientPortAddress says otherwise.
		h := secureAddr
		if h == "" {
			h = addr
		}
		c.TLS.SecureClientAddr = stdnet.JoinHostPort(h, securePort)
	}
	return nil
}

func loadZooCfg(path string, c *Config, logger *slog.Logger) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("opening config: %w", err)
	}
	c.cfgText = string(text)
	return parseZooCfg(bytes.NewReader(text), path, c, logger)
}

// notImplemented says what a key zabd recognises but does not implement
// yet would have done, "" for every other key.
func notImplemented(k, v string) string {
	switch {
	case k == "portUnification" || k == "zookeeper.portUnification":
		return "the quorum and election ports are TLS or plain text, not both (sslQuorum says which)"
	case strings.HasPrefix(k, "authProvider.") && v != X509ProviderClass && v != SASLProviderClass:
		return "an authentication provider zabd does not have: digest, ip, x509 and sasl (DIGEST-MD5) are"
	case k == "forceSync" && strings.EqualFold(v, "no"):
		return "zabd always syncs before it acknowledges a write"
	case k == "reconfigEnabled" && strings.EqualFold(v, "true"):
		return "reconfig is answered ReconfigDisabled"
	}
	return ""
}

func validPortOrZero(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}

func (c *Config) validate() error {
	if err := c.SASL.check(); err != nil {
		return err
	}
	if c.TickTime <= 0 {
		return fmt.Errorf("tickTime must be positive, got %v", c.TickTime)
	}
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = 2 * c.TickTime
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = 20 * c.TickTime
	}
	if c.MinSessionTimeout > c.MaxSessionTimeout {
		return fmt.Errorf("minSessionTimeout %v is above maxSessionTimeout %v", c.MinSessionTimeout, c.MaxSessionTimeout)
	}
	if c.MaxBuffer <= 0 {
		return fmt.Errorf("jute.maxbuffer must be positive, got %d", c.MaxBuffer)
	}
	if _, p, err := stdnet.SplitHostPort(c.ClientAddr); err != nil {
		return fmt.Errorf("client address %q: %w", c.ClientAddr, err)
	} else if !validPortOrZero(p) {
		return fmt.Errorf("client address %q: port %q is not in 0-65535", c.ClientAddr, p)
	}
	for _, w := range c.FourLetterWords {
		if w != "*" && !slices.Contains(net.FourLetterWords, w) && !slices.Contains(net.ZooKeeperOnlyFourLetterWords, w) {
			return fmt.Errorf("4lw.commands.whitelist: %q is not a four-letter word (zabd answers %s, or * for all)", w, strings.Join(net.FourLetterWords, ", "))
		}
	}
	if c.DataDir == "" {
		return fmt.Errorf("dataDir is required")
	}
	if c.DataLogDir == "" {
		c.DataLogDir = c.DataDir
	}
	if !slices.Contains(engine.Kinds(), c.Engine) {
		return fmt.Errorf("engine %q is not available (this build has: %s)", c.Engine, strings.Join(engine.Kinds(), ", "))
	}
	if c.SnapCount < 2 {
		return fmt.Errorf("snapCount must be at least 2, got %d", c.SnapCount)
	}
	if c.SnapSharePercent < 1 || c.SnapSharePercent > 100 {
		return fmt.Errorf("snapSharePercent must be in [1, 100], got %d", c.SnapSharePercent)
	}
	if c.SnapRetainCount < 3 {
		return fmt.Errorf("autopurge.snapRetainCount must be at least 3, got %d", c.SnapRetainCount)
	}
	if c.PurgeInterval < 0 {
		return fmt.Errorf("autopurge.purgeInterval must not be negative, got %v", c.PurgeInterval)
	}
	if c.FourLetterWords == nil {
		c.FourLetterWords = []string{"ruok", "srvr", "stat", "mntr", "isro"}
	}
	// Last: the ensemble (myid is read from the final dataDir, and the
	// client address may come from this server's server.N line).
	q, err := c.quorumConfig()
	if err != nil {
		return err
	}
	c.Quorum = q
	return nil
}

// logAttrs is the effective configuration as slog key/value pairs, for the
// start-up line (limits left at 0 take net's defaults, shown as such).
func (c *Config) logAttrs() []any {
	orDefault := func(v, def int64) int64 {
		if v <= 0 {
			return def
		}
		return v
	}
	var quorum []any
	if q := c.Quorum; q != nil {
		ids := make([]string, len(q.Servers))
		for i, s := range q.Servers {
			ids[i] = strconv.FormatUint(s.ID, 10)
			if s.Observer {
				ids[i] += "(observer)"
			}
		}
		quorum = []any{"my_id", q.MyID, "role", q.role(), "servers", strings.Join(ids, ","), "init_limit", q.InitLimit, "sync_limit", q.SyncLimit}
	}
	return append(quorum,
		"client_addr", c.ClientAddr, "data_dir", c.DataDir, "data_log_dir", c.DataLogDir, "engine", c.Engine,
		"tick_time", c.TickTime, "session_timeout_min", c.MinSessionTimeout, "session_timeout_max", c.MaxSessionTimeout,
		"4lw_whitelist", strings.Join(c.FourLetterWords, ","), "snap_count", c.SnapCount,
		"snap_share_percent", c.SnapSharePercent, "snapshot_codec", c.SnapshotCodec.String(),
		"autopurge_snap_retain_count", c.SnapRetainCount, "autopurge_interval", c.PurgeInterval,
		"max_client_cnxns", c.MaxClientCnxns, "jute_maxbuffer", c.MaxBuffer,
		"global_outstanding_limit", orDefault(int64(c.GlobalOutstandingLimit), net.DefaultGlobalOutstandingLimit),
		"global_outstanding_bytes", orDefault(c.GlobalOutstandingBytes, net.DefaultGlobalOutstandingBytes),
		"connection_outstanding_bytes", orDefault(c.ConnOutstandingBytes, net.DefaultMaxConnOutstandingBytes),
		"container_check_interval", c.ContainerCheckInterval, "extended_types", c.ExtendedTypesEnabled,
	)
}

// confDump is what the conf four-letter word prints: the effective
// settings, sorted by key.
func (c *Config) confDump() [][2]string {
	h, p, _ := stdnet.SplitHostPort(c.ClientAddr)
	abs := func(d string) string {
		if a, err := filepath.Abs(d); err == nil {
			return a
		}
		return d
	}
	out := [][2]string{
		{"clientPort", p}, {"clientPortAddress", h},
		{"dataDir", abs(c.DataDir)}, {"dataLogDir", abs(c.DataLogDir)},
		{"engine", c.Engine},
		{"tickTime", fmt.Sprint(c.TickTime.Milliseconds())},
		{"maxClientCnxns", fmt.Sprint(c.MaxClientCnxns)},
		{"minSessionTimeout", fmt.Sprint(c.MinSessionTimeout.Milliseconds())},
		{"maxSessionTimeout", fmt.Sprint(c.MaxSessionTimeout.Milliseconds())},
	}
	if q := c.Quorum; q == nil {
		out = append(out, [2]string{"serverId", "0"})
	} else { // as ZooKeeper's QuorumPeer adds them
		self := q.Self().Addrs[0]
		peerType := "0" // LearnerType's ordinal: PARTICIPANT
		if q.Observer {
			peerType = "1"
		}
		out = append(out, [][2]string{
			{"serverId", strconv.FormatUint(q.MyID, 10)},
			{"initLimit", fmt.Sprint(q.InitLimit)}, {"syncLimit", fmt.Sprint(q.SyncLimit)}, {"electionAlg", "3"},
			{"electionPort", fmt.Sprint(self.ElectionPort)}, {"quorumPort", fmt.Sprint(self.QuorumPort)}, {"peerType", peerType},
		}...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func millis(v string) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errors.New("not a whole number of milliseconds")
	}
	return time.Duration(n) * time.Millisecond, nil
}

// positiveInt parses a whole number above zero.
func positiveInt(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errors.New("not a whole number")
	}
	if n <= 0 {
		return 0, errors.New("must be above zero")
	}
	return n, nil
}

func parseIntAnyBase(v string) (int, error) {
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil {
		return 0, errors.New("not a whole number (decimal, or hex with 0x)")
	}
	return int(n), nil
}

// wholeNumber parses a whole number for messages that say so.
func wholeNumber(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errors.New("not a whole number")
	}
	return n, nil
}

// boolean parses true/false as Java's Boolean.parseBoolean would accept
// them, refusing anything else rather than reading it as false.
func boolean(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errors.New("neither true nor false")
}

func splitList(v string) []string {
	var out []string
	for _, w := range strings.Split(v, ",") {
		if w = strings.TrimSpace(w); w != "" {
			out = append(out, w)
		}
	}
	return out
}
