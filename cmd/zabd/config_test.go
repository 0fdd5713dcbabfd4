package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseZooCfg(t *testing.T) {
	in := `# a comment
tickTime=1000
dataDir=/var/lib/zk
clientPort=2999
clientPortAddress=127.0.0.2
maxClientCnxns=5
4lw.commands.whitelist=ruok, stat ,mntr
jute.maxbuffer=0x100000
server.1=127.0.0.1:2888:3888
someUnknownKey=1
extendedTypesEnabled=true
`
	c := defaultConfig()
	if err := parseZooCfg(strings.NewReader(in), "zoo.cfg", &c, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	got := []any{c.TickTime, c.DataDir, c.DataLogDir, c.ClientAddr, c.MaxClientCnxns, c.FourLetterWords,
		c.MaxBuffer, c.MinSessionTimeout, c.MaxSessionTimeout, c.ExtendedTypesEnabled}
	want := []any{time.Second, "/var/lib/zk", "/var/lib/zk", "127.0.0.2:2999", 5, []string{"ruok", "stat", "mntr"},
		0x100000, 2 * time.Second, 20 * time.Second, true}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("config (-want +got):\n%s", d)
	}
}

func TestParseZooCfgErrors(t *testing.T) {
	for _, in := range []string{"tickTime=abc", "jute.maxbuffer=big", "maxClientCnxns=x"} {
		c := defaultConfig()
		if err := parseZooCfg(strings.NewReader(in), "zoo.cfg", &c, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
	c := defaultConfig()
	c.Engine = "rocks"
	if err := c.validate(); err == nil {
		t.Error("unknown engine accepted")
	}
}

func TestParseServerLine(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		want       QuorumServer
	}{
		{"server.1", "127.0.0.1:2888:3888", QuorumServer{ID: 1, Addrs: []QuorumAddr{{"127.0.0.1", 2888, 3888}}}},
		{"server.2", "zk2:2888:3888:participant;2181", QuorumServer{ID: 2, Addrs: []QuorumAddr{{"zk2", 2888, 3888}}, ClientAddr: "0.0.0.0:2181"}},
		{"server.3", "zk3:2888:3888:observer;127.0.0.1:2183", QuorumServer{ID: 3, Addrs: []QuorumAddr{{"zk3", 2888, 3888}}, Observer: true, ClientAddr: "127.0.0.1:2183"}},
		{"server.4", "[::1]:2888:3888", QuorumServer{ID: 4, Addrs: []QuorumAddr{{"::1", 2888, 3888}}}},
		{"server.5", "a:1:2|b:3:4", QuorumServer{ID: 5, Addrs: []QuorumAddr{{"a", 1, 2}, {"b", 3, 4}}}},
	} {
		got, err := parseServerLine(tc.key, tc.value)
		if err != nil {
			t.Errorf("%s=%s: %v", tc.key, tc.value, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s=%s (-want +got):\n%s", tc.key, tc.value, d)
		}
	}
	for _, bad := range [][2]string{
		{"server.x", "a:1:2"}, {"server.1", "a"}, {"server.1", "a:1"}, {"server.1", "a:1:2:leader"},
		{"server.1", "a:0:2"}, {"server.1", "a:1:99999"}, {"server.1", "[::1:1:2"}, {"server.1", ":1:2"},
		{"server.1", "a:1:2;nope"}, {"server.1", "a:1:2|b:3:4:observer"}, {"server.1", "a:1:2:3:4"},
	} {
		if got, err := parseServerLine(bad[0], bad[1]); err == nil {
			t.Errorf("%s=%s: got %+v, want an error", bad[0], bad[1], got)
		}
	}
}

func TestOutstandingLimits(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := defaultConfig()
	in := "globalOutstandingLimit=500\nglobalOutstandingBytes=1048576\nconnectionOutstandingBytes=65536\n"
	if err := parseZooCfg(strings.NewReader(in), "zoo.cfg", &c, quiet); err != nil {
		t.Fatal(err)
	}
	if c.GlobalOutstandingLimit != 500 || c.GlobalOutstandingBytes != 1<<20 || c.ConnOutstandingBytes != 64<<10 {
		t.Fatalf("got %d, %d, %d", c.GlobalOutstandingLimit, c.GlobalOutstandingBytes, c.ConnOutstandingBytes)
	}
	for _, bad := range []string{"globalOutstandingLimit=0", "globalOutstandingBytes=-1", "connectionOutstandingBytes=lots"} {
		c := defaultConfig()
		if err := parseZooCfg(strings.NewReader(bad), "zoo.cfg", &c, quiet); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Values are checked before anything is opened, and errors name the file
// and say what is wrong in words.
func TestConfigErrorsNameTheFile(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct{ in, want string }{
		{"tickTime=abc\n", "/etc/zk/zoo.cfg line 1: tickTime=\"abc\": not a whole number of milliseconds"},
		{"\nmaxClientCnxns=many\n", "/etc/zk/zoo.cfg line 2: maxClientCnxns=\"many\": not a whole number"},
		{"clientPort=99999\n", "/etc/zk/zoo.cfg: clientPort=\"99999\" is not a port number"},
		{"extendedTypesEnabled=yes\n", "neither true nor false"},
		{"admin.serverPort=99999\n", "/etc/zk/zoo.cfg line 1: admin.serverPort=\"99999\": not a port number (0-65535)"},
		{"admin.commandURL=commands\n", "admin.commandURL=\"commands\": must start with /"},
		{"admin.enableServer=sure\n", "neither true nor false"},
		{"admin.idleTimeout=1m\n", "not a whole number of milliseconds"},
		{"metricsProvider.className=com.example.Statsd\n", "zabd serves metrics only as org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"},
		{"metricsProvider.httpPort=http\n", "metricsProvider.httpPort=\"http\": not a port number"},
	} {
		c := defaultConfig()
		err := parseZooCfg(strings.NewReader(tc.in), "/etc/zk/zoo.cfg", &c, quiet)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want it to say %q", tc.in, err, tc.want)
		}
	}
	c := defaultConfig()
	c.FourLetterWords = []string{"ruok", "mntrr"}
	if err := c.validate(); err == nil || !strings.Contains(err.Error(), `"mntrr" is not a four-letter word`) {
		t.Errorf("a misspelt four-letter word: %v", err)
	}
	c = defaultConfig()
	c.FourLetterWords = []string{"srvr", "dump", "*"} // ZooKeeper's own words are accepted
	if err := c.validate(); err != nil {
		t.Errorf("ZooKeeper's words: %v", err)
	}
	c = defaultConfig()
	c.ClientAddr = "127.0.0.1:70000"
	if err := c.validate(); err == nil {
		t.Error("port 70000 accepted")
	}
}

// Keys zabd recognises but does not implement get one warning each saying
// what is missing; none is mistaken for an unknown key.
func TestNotImplementedKeysWarnOnce(t *testing.T) {
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	in := "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\nsecureClientPort=2182\nssl.keyStore.location=/k\n" +
		"admin.enableServer=true\nforceSync=no\nadmin.serverPort=9090\nmetricsProvider.httpPort=7001\nmetricsProvider.exportJvmInfo=false\nmetricsProvider.numWorkerThreads=4\n"
	c := defaultConfig()
	if err := parseZooCfg(strings.NewReader(in), "zoo.cfg", &c, logger); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if n := strings.Count(out, "not implemented"); n != 1 { // forceSync=no; TLS, the AdminServer and metrics are
		t.Errorf("%d not-implemented warnings, want 1:\n%s", n, out)
	}
	if strings.Contains(out, "admin.") || strings.Contains(out, "metricsProvider.") {
		t.Errorf("the AdminServer's and the metrics' keys are implemented, yet warned about:\n%s", out)
	}
	if !c.Admin.Enabled || c.Admin.Addr() != "0.0.0.0:9090" || c.Admin.URL != "/commands" {
		t.Errorf("admin config %+v", c.Admin)
	}
	if !c.Metrics.Enabled || c.Metrics.Addr() != "0.0.0.0:7001" || c.Metrics.Runtime {
		t.Errorf("metrics config %+v", c.Metrics)
	}
	d := defaultConfig()
	if d.Metrics.Enabled || d.Metrics.Addr() != "0.0.0.0:7000" || !d.Metrics.Runtime {
		t.Errorf("default metrics config %+v, want off, 0.0.0.0:7000, runtime on (ZooKeeper's defaults)", d.Metrics)
	}
	if strings.Contains(out, "unknown key") {
		t.Errorf("a recognised key was called unknown:\n%s", out)
	}
}

// ZooKeeper's TLS keys as a zoo.cfg writes them: the secure port on
// clientPortAddress unless secureClientPortAddress says otherwise, the
// ssl.* keys (with or without zookeeper.), port unification, the x509
// provider.
func TestTLSKeys(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	in := "clientPort=2181\nclientPortAddress=10.0.0.1\nsecureClientPort=2281\n" +
		"serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n" +
		"ssl.keyStore.location=/k.p12\nzookeeper.ssl.keyStore.password=kp\nssl.keyStore.type=PKCS12\n" +
		"ssl.trustStore.location=/t.jks\nssl.trustStore.password=tp\nssl.clientAuth=want\n" +
		"ssl.enabledProtocols=TLSv1.2,TLSv1.3\nssl.ciphersuites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n" +
		"client.portUnification=true\nauthProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider\n"
	c := defaultConfig()
	if err := parseZooCfg(strings.NewReader(in), "zoo.cfg", &c, quiet); err != nil {
		t.Fatal(err)
	}
	st := c.TLS.Store
	if c.TLS.SecureClientAddr != "10.0.0.1:2281" || !c.TLS.Unified || !c.TLS.X509 || st.KeyStore != "/k.p12" ||
		st.KeyStorePassword != "kp" || st.KeyStoreType != "PKCS12" || st.TrustStore != "/t.jks" || st.TrustStorePassword != "tp" ||
		st.ClientAuth != "want" || len(st.EnabledProtocols) != 2 || len(st.CipherSuites) != 1 {
		t.Errorf("TLS config %+v", c.TLS)
	}
	c = defaultConfig()
	if err := parseZooCfg(strings.NewReader("secureClientPort=2281\nsecureClientPortAddress=127.0.0.1\n"), "zoo.cfg", &c, quiet); err != nil ||
		c.TLS.SecureClientAddr != "127.0.0.1:2281" {
		t.Errorf("secureClientPortAddress: %q, %v", c.TLS.SecureClientAddr, err)
	}
	for _, bad := range []string{"secureClientPort=x\n", "ssl.authProvider=sasl\n", "client.portUnification=maybe\n"} {
		c := defaultConfig()
		if err := parseZooCfg(strings.NewReader(bad), "zoo.cfg", &c, quiet); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	c = defaultConfig()
	if err := parseZooCfg(strings.NewReader("sslQuorum=true\nssl.quorum.keyStore.location=/q.p12\nssl.quorum.trustStore.location=/t.pem\nssl.quorum.hostnameVerification=false\n"), "zoo.cfg", &c, quiet); err != nil {
		t.Fatal(err)
	}
	if q := c.TLS.Quorum; !q.Enabled || q.Store.KeyStore != "/q.p12" || q.Store.TrustStore != "/t.pem" || !q.NoHostCheck || c.TLS.On() {
		t.Errorf("quorum TLS %+v (client TLS on: %v)", q, c.TLS.On())
	}
}

// SASL as ZooKeeper's keys and start scripts say it; ZooKeeper's refusals
// to start with enforcement and no provider.
func TestSASLKeys(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	parse := func(in string) (Config, error) {
		c := defaultConfig()
		if err := parseZooCfg(strings.NewReader(in), "zoo.cfg", &c, quiet); err != nil {
			return c, err
		}
		jvmSASL(&c.SASL, `-Xmx1g -Djava.security.auth.login.config=/etc/zk/jaas.conf "-Dzookeeper.superUser=admin"`)
		return c, c.validate()
	}
	c, err := parse("authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\nenforce.auth.enabled=true\nenforce.auth.schemes=sasl\nsuperUser=root\n")
	if err != nil {
		t.Fatal(err)
	}
	if !c.SASL.Provider || !c.SASL.Require || c.SASL.JAASFile != "/etc/zk/jaas.conf" || len(c.SASL.SuperUsers) != 2 {
		t.Errorf("SASL config %+v", c.SASL)
	}
	for in, want := range map[string]string{
		"sessionRequireClientSASLAuth=true\n": "no SASL provider is registered",
		"authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\nenforce.auth.enabled=true\nenforce.auth.schemes=digest\n": "sasl only",
	} {
		if _, err := parse(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
	c = defaultConfig()
	c.SASL = SASLConfig{Provider: true, Require: true}
	if err := c.validate(); err == nil || !strings.Contains(err.Error(), "--jaas-config") {
		t.Errorf("required without a JAAS file: %v", err)
	}
}
