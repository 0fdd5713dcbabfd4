package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const threeServers = "initLimit=10\nsyncLimit=5\n" +
	"server.1=127.0.0.1:2888:3888;2181\n" +
	"server.2=127.0.0.1:2889:3889;127.0.0.1:2182\n" +
	"server.3=127.0.0.1:2890:3890;2183\n"

// parseQuorum parses cfg as zoo.cfg and reads the quorum configuration
// from it as validate does.
func parseQuorum(t *testing.T, myid, cfg string) (*Config, *QuorumConfig, error) {
	t.Helper()
	c, err := parseWithMyID(t, myid, cfg)
	if err != nil {
		return c, nil, err
	}
	q, err := c.quorumConfig()
	return c, q, err
}

// parseWithMyID parses cfg as /etc/zk/zoo.cfg after a dataDir line naming
// a new directory, which holds myid unless it is "-".
func parseWithMyID(t *testing.T, myid, cfg string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	if myid != "-" {
		if err := os.WriteFile(filepath.Join(dir, "myid"), []byte(myid), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := defaultConfig()
	err := parseZooCfg(strings.NewReader("dataDir="+dir+"\n"+cfg), "/etc/zk/zoo.cfg", &c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &c, err
}

func TestQuorumConfig(t *testing.T) {
	addr := func(host string, q, e int) []QuorumAddr { return []QuorumAddr{{host, q, e}} }
	three := []QuorumServer{
		{ID: 1, Addrs: addr("127.0.0.1", 2888, 3888), ClientAddr: "0.0.0.0:2181"},
		{ID: 2, Addrs: addr("127.0.0.1", 2889, 3889), ClientAddr: "127.0.0.1:2182"},
		{ID: 3, Addrs: addr("127.0.0.1", 2890, 3890), ClientAddr: "0.0.0.0:2183"},
	}
	for _, tc := range []struct {
		name, myid, cfg string
		want            *QuorumConfig // nil: standalone
		wantClient      string
	}{
		{name: "three participants", myid: "2", cfg: threeServers,
			want: &QuorumConfig{MyID: 2, Servers: three, InitLimit: 10, SyncLimit: 5}, wantClient: "127.0.0.1:2182"},
		{name: "myid as ZooKeeper writes it, with blanks around", myid: " 3\n\n", cfg: threeServers,
			want: &QuorumConfig{MyID: 3, Servers: three, InitLimit: 10, SyncLimit: 5}, wantClient: "0.0.0.0:2183"},
		{name: "peerType agreeing, participant", myid: "1", cfg: "peerType=participant\n" + threeServers,
			want: &QuorumConfig{MyID: 1, Servers: three, InitLimit: 10, SyncLimit: 5}, wantClient: "0.0.0.0:2181"},
		{name: "electionAlg=3", myid: "1", cfg: "electionAlg=3\n" + threeServers,
			want: &QuorumConfig{MyID: 1, Servers: three, InitLimit: 10, SyncLimit: 5}, wantClient: "0.0.0.0:2181"},
		{name: "an observer, peerType agreeing", myid: "4",
			cfg: "peerType=OBSERVER\n" + threeServers + "server.4=127.0.0.1:2891:3891:observer;2184\n",
			want: &QuorumConfig{MyID: 4, InitLimit: 10, SyncLimit: 5, Observer: true, Servers: append(three[:3:3],
				QuorumServer{ID: 4, Addrs: addr("127.0.0.1", 2891, 3891), Observer: true, ClientAddr: "0.0.0.0:2184"})},
			wantClient: "0.0.0.0:2184"},
		{name: "no server lines: standalone", myid: "-", cfg: "tickTime=2000\n", wantClient: ":2181"},
		{name: "one participant: standalone, no myid needed", myid: "-", cfg: "server.1=127.0.0.1:2888:3888;2181\n", wantClient: ":2181"},
		{name: "one participant, standaloneEnabled=false: a quorum of one", myid: "1",
			cfg:        "standaloneEnabled=false\ninitLimit=10\nsyncLimit=5\nserver.1=127.0.0.1:2888:3888;127.0.0.1:2181\n",
			want:       &QuorumConfig{MyID: 1, InitLimit: 10, SyncLimit: 5, Servers: []QuorumServer{{ID: 1, Addrs: addr("127.0.0.1", 2888, 3888), ClientAddr: "127.0.0.1:2181"}}},
			wantClient: "127.0.0.1:2181"},
		{name: "one participant and an observer, standaloneEnabled=false", myid: "9",
			cfg: "standaloneEnabled=false\ninitLimit=10\nsyncLimit=5\nserver.1=a:1:2\nserver.9=b:1:2:observer\n",
			want: &QuorumConfig{MyID: 9, InitLimit: 10, SyncLimit: 5, Observer: true, Servers: []QuorumServer{
				{ID: 1, Addrs: addr("a", 1, 2)}, {ID: 9, Addrs: addr("b", 1, 2), Observer: true, ClientAddr: ":2181", ClientAddrFromStatic: true}}},
			wantClient: ":2181"},
		// The client address: the server line's, clientPort's, or both agreeing.
		{name: "clientPort agreeing with the line's port (wildcard clientPortAddress)", myid: "2", cfg: "clientPort=2182\n" + threeServers,
			want: &QuorumConfig{MyID: 2, Servers: three, InitLimit: 10, SyncLimit: 5}, wantClient: "127.0.0.1:2182"},
		{name: "clientPortAddress:clientPort equal to the line's", myid: "2", cfg: "clientPortAddress=127.0.0.1\nclientPort=2182\n" + threeServers,
			want: &QuorumConfig{MyID: 2, Servers: three, InitLimit: 10, SyncLimit: 5}, wantClient: "127.0.0.1:2182"},
		{name: "clientPort only: this server's line gets it", myid: "2",
			cfg: "clientPort=2999\ninitLimit=10\nsyncLimit=5\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890\n",
			want: &QuorumConfig{MyID: 2, InitLimit: 10, SyncLimit: 5, Servers: []QuorumServer{
				{ID: 1, Addrs: addr("127.0.0.1", 2888, 3888)},
				{ID: 2, Addrs: addr("127.0.0.1", 2889, 3889), ClientAddr: ":2999", ClientAddrFromStatic: true},
				{ID: 3, Addrs: addr("127.0.0.1", 2890, 3890)}}},
			wantClient: ":2999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, got, err := parseQuorum(t, tc.myid, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("quorum config (-want +got):\n%s", d)
			}
			if c.ClientAddr != tc.wantClient {
				t.Errorf("client address %q, want %q", c.ClientAddr, tc.wantClient)
			}
			if got != nil && got.Self().ClientAddr != c.ClientAddr {
				t.Errorf("Self().ClientAddr %q, want the client address %q", got.Self().ClientAddr, c.ClientAddr)
			}
		})
	}
}

// Every rule refuses with a message naming the file and line (or the myid
// file) and what to do.
func TestQuorumConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		name, myid, cfg string
		want            []string // each in the error
	}{
		{"myid missing", "-", threeServers,
			[]string{"/etc/zk/zoo.cfg describes an ensemble (server.1 (line 4), server.2 (line 5), server.3 (line 6))", "myid is missing", "echo 1 > "}},
		{"myid not a number", "two\n", threeServers, []string{`myid: "two" is not a server id`, "one decimal number", "/etc/zk/zoo.cfg"}},
		{"myid negative", "-1", threeServers, []string{`myid: "-1" is not a server id`}},
		{"myid empty", "", threeServers, []string{`myid: "" is not a server id`}},
		{"myid two numbers", "1 2", threeServers, []string{`myid: "1 2" is not a server id`}},
		{"myid names no server line", "7", threeServers,
			[]string{"myid says this is server 7, but /etc/zk/zoo.cfg has no server.7 line (it lists server.1 (line 4), server.2 (line 5), server.3 (line 6))"}},
		{"peerType observer, line participant", "1", "peerType=observer\n" + threeServers,
			[]string{"/etc/zk/zoo.cfg line 2: peerType=observer, but this server's own line, server.1 (line 5), makes it participant"}},
		{"peerType participant, line observer", "4", threeServers + "peerType=participant\nserver.4=h:1:2:observer\n",
			[]string{"/etc/zk/zoo.cfg line 7: peerType=participant", "server.4 (line 8), makes it observer"}},
		{"initLimit=0", "1", "initLimit=0\n" + threeServers + "initLimit=0\n",
			[]string{"/etc/zk/zoo.cfg line 8: initLimit=0: an ensemble needs it above zero", "initLimit=10"}},
		{"initLimit not set", "1", strings.Replace(threeServers, "initLimit=10\n", "", 1),
			[]string{"/etc/zk/zoo.cfg: initLimit is not set, and an ensemble needs it"}},
		{"syncLimit negative", "1", threeServers + "syncLimit=-1\n", []string{"/etc/zk/zoo.cfg line 7: syncLimit=-1: an ensemble needs it above zero"}},
		{"syncLimit not set", "1", strings.Replace(threeServers, "syncLimit=5\n", "", 1), []string{"syncLimit is not set", "syncLimit=5"}},
		{"observers only", "1", "initLimit=10\nsyncLimit=5\nserver.1=a:1:2:observer\nserver.2=b:1:2:observer\n",
			[]string{"/etc/zk/zoo.cfg: every server.N line is an observer: server.1 (line 4), server.2 (line 5)"}},
		{"observers only, standaloneEnabled=false", "1", "standaloneEnabled=false\nserver.1=a:1:2:observer\n",
			[]string{"every server.N line is an observer"}},
		{"one participant and an observer, standaloneEnabled=true", "1", "server.1=a:1:2\nserver.9=b:1:2:observer\n",
			[]string{"one participant, server.1 (line 2), and observers, server.9 (line 3), with standaloneEnabled=true", "set standaloneEnabled=false"}},
		{"one participant, standaloneEnabled=false, no myid", "-", "standaloneEnabled=false\ninitLimit=10\nsyncLimit=5\nserver.1=a:1:2\n",
			[]string{"myid is missing"}},
		{"clientPort disagrees with the line's port", "1", "clientPort=2182\n" + threeServers,
			[]string{"/etc/zk/zoo.cfg: this server's line, server.1 (line 5), gives the client address 0.0.0.0:2181, but clientPort (line 2) gives :2182"}},
		{"clientPortAddress disagrees with the line's host", "2", "clientPortAddress=127.0.0.2\nclientPort=2182\n" + threeServers,
			[]string{"gives the client address 127.0.0.1:2182, but clientPort (line 3) and clientPortAddress (line 2) gives 127.0.0.2:2182"}},
		{"clientPortAddress specific, the line's a wildcard", "1", "clientPortAddress=127.0.0.1\nclientPort=2181\n" + threeServers,
			[]string{"gives the client address 0.0.0.0:2181, but clientPort (line 3) and clientPortAddress (line 2) gives 127.0.0.1:2181"}},
		{"two servers on one quorum port", "1", "initLimit=10\nsyncLimit=5\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2888:3889\n",
			[]string{"/etc/zk/zoo.cfg line 5: server.2's quorum port is 127.0.0.1:2888, which server.1 also uses as its quorum port"}},
		{"an election port on another's quorum port", "1", "initLimit=10\nsyncLimit=5\nserver.1=h:2888:3888\nserver.2=H:3888:3889\n",
			[]string{"server.2's quorum port is h:3888, which server.1 also uses as its election port"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, q, err := parseQuorum(t, tc.myid, tc.cfg)
			if err == nil {
				t.Fatalf("accepted: %+v", q)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q\nwant it to say %q", err, w)
				}
			}
		})
	}
}

// Keys refused as zoo.cfg is read, naming the file and line.
func TestQuorumKeysRefused(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct{ in, want string }{
		{"electionAlg=1\n", `/etc/zk/zoo.cfg line 1: electionAlg="1": only electionAlg=3 (fast leader election) is supported`},
		{"\nelectionAlg=0\n", `/etc/zk/zoo.cfg line 2: electionAlg="0": only electionAlg=3`},
		{"electionAlg=fast\n", `electionAlg="fast": not a whole number`},
		{"peerType=leader\n", `/etc/zk/zoo.cfg line 1: peerType="leader": neither participant nor observer`},
		{"initLimit=ten\n", `initLimit="ten": not a whole number`},
		{"syncLimit=\n", `syncLimit="": not a whole number`},
		{"standaloneEnabled=maybe\n", `standaloneEnabled="maybe": neither true nor false`},
		{"readonlymode.enabled=yes\n", `readonlymode.enabled="yes": neither true nor false`},
		{"server.1=a:1:2\nserver.01=b:1:2\n", `/etc/zk/zoo.cfg line 2: server.01="b:1:2": server.1 is listed twice (first on line 1)`},
		{"dynamicConfigFile=/etc/zk/zoo.cfg.dynamic\n", "dynamic configuration file is not supported"},
	} {
		c := defaultConfig()
		err := parseZooCfg(strings.NewReader(tc.in), "/etc/zk/zoo.cfg", &c, quiet)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want it to say %q", tc.in, err, tc.want)
		}
	}
}

// A --client-addr (set on Config after zoo.cfg) that disagrees with this
// server's line is refused naming the flag.
func TestQuorumClientAddrFlag(t *testing.T) {
	for _, tc := range []struct{ flag, want string }{
		{":2183", ""}, {"0.0.0.0:2183", ""},
		{"0.0.0.0:2184", "gives the client address 0.0.0.0:2183, but --client-addr gives 0.0.0.0:2184"},
		{"127.0.0.1:2183", "but --client-addr gives 127.0.0.1:2183"}, // the line's is a wildcard
	} {
		c, err := parseWithMyID(t, "3\n", threeServers)
		if err != nil {
			t.Fatal(err)
		}
		c.ClientAddr = tc.flag
		_, err = c.quorumConfig()
		if tc.want == "" && err != nil {
			t.Errorf("--client-addr %s: %v", tc.flag, err)
		} else if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("--client-addr %s: got %v, want it to say %q", tc.flag, err, tc.want)
		}
	}
}

// validate fills Config.Quorum for an ensemble (and for one participant
// with standaloneEnabled=false), once its quorum configuration has been
// read and found sound; one participant alone runs standalone.
func TestValidateQuorum(t *testing.T) {
	for _, tc := range []struct {
		name, myid, cfg string
		unsound         string // the quorum configuration's own refusal
		quorum          bool   // Config.Quorum is set
	}{
		{name: "three participants", myid: "1", cfg: threeServers, quorum: true},
		{name: "two participants", myid: "2", cfg: "initLimit=10\nsyncLimit=5\nserver.1=a:1:2\nserver.2=b:1:2\n", quorum: true},
		{name: "one participant and an observer, standaloneEnabled=false", myid: "1",
			cfg: "standaloneEnabled=false\ninitLimit=10\nsyncLimit=5\nserver.1=a:1:2\nserver.9=b:1:2:observer\n", quorum: true},
		{name: "one participant, standaloneEnabled=false", myid: "1",
			cfg: "standaloneEnabled=false\ninitLimit=10\nsyncLimit=5\nserver.1=a:1:2\n", quorum: true},
		{name: "an unsound ensemble is refused for what is wrong", myid: "-", cfg: threeServers, unsound: "myid is missing"},
		{name: "one participant", myid: "-", cfg: "server.1=127.0.0.1:2888:3888;2181\n"},
		{name: "none", myid: "-", cfg: "tickTime=2000\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseWithMyID(t, tc.myid, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = c.validate()
			switch {
			case tc.unsound == "" && err != nil:
				t.Fatal(err)
			case tc.unsound != "" && (err == nil || !strings.Contains(err.Error(), tc.unsound)):
				t.Fatalf("got %v, want it to say %q", err, tc.unsound)
			case tc.unsound == "" && (c.Quorum != nil) != tc.quorum:
				t.Fatalf("Config.Quorum %+v", c.Quorum)
			}
		})
	}
}

// What ZooKeeper warns about in the server lines is warned about once
// each; readonlymode.enabled is taken without a word.
func TestQuorumWarnings(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{"server.1=a:1:2\n", "one server.N line: running standalone"},
		{"server.1=a:1:2\nserver.2=b:1:2\n", "two participants: a quorum needs both"},
		{"server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\nserver.4=d:1:2\n", "an even number of participants"},
	} {
		var logs strings.Builder
		c := defaultConfig()
		if err := parseZooCfg(strings.NewReader(tc.cfg), "zoo.cfg", &c, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
			t.Fatalf("%q: %v", tc.cfg, err)
		}
		if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), tc.want) {
			t.Errorf("%q: %d warnings, want one saying %q:\n%s", tc.cfg, n, tc.want, logs.String())
		}
	}
	for _, v := range []bool{false, true} {
		var logs strings.Builder
		c := defaultConfig()
		if err := parseZooCfg(strings.NewReader(fmt.Sprintf("readonlymode.enabled=%t\n", v)+threeServers), "zoo.cfg", &c, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
			t.Fatal(err)
		}
		if logs.Len() != 0 {
			t.Errorf("a sound ensemble with readonlymode.enabled=%t: %s", v, logs.String())
		}
		if c.ReadOnlyModeEnabled != v {
			t.Errorf("readonlymode.enabled=%t read as %t", v, c.ReadOnlyModeEnabled)
		}
	}
}

// conf and the start-up line show a member's place, as ZooKeeper's conf
// does (peerType as its LearnerType ordinal).
func TestQuorumConfDump(t *testing.T) {
	c, err := parseWithMyID(t, "2", threeServers)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range c.confDump() {
		got[kv[0]] = kv[1]
	}
	for k, v := range map[string]string{"serverId": "2", "initLimit": "10", "syncLimit": "5", "electionAlg": "3",
		"quorumPort": "2889", "electionPort": "3889", "peerType": "0", "clientPort": "2182", "clientPortAddress": "127.0.0.1"} {
		if got[k] != v {
			t.Errorf("conf %s=%q, want %q", k, got[k], v)
		}
	}
	attrs := fmt.Sprint(c.logAttrs())
	if !strings.Contains(attrs, "my_id 2 role participant servers 1,2,3 init_limit 10 sync_limit 5") {
		t.Errorf("start-up line: %s", attrs)
	}
}

// ConfigText is what Apache ZooKeeper 3.8's members put in
// /zookeeper/config: the client address only where a server's line gives
// it (not this server's clientPort), roles spelled out, several addresses
// ordered by host, IPv6 hosts bracketed, version=0.
func TestConfigText(t *testing.T) {
	for _, tc := range []struct{ name, myid, cfg, want string }{
		{"client addresses from the lines", "1", threeServers,
			"server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n" +
				"server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182\n" +
				"server.3=127.0.0.1:2890:3890:participant;0.0.0.0:2183\nversion=0"},
		{"own client address from clientPort", "1", "initLimit=10\nsyncLimit=5\nclientPort=2181\n" +
			"server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890:observer;2183\n",
			"server.1=127.0.0.1:2888:3888:participant\n" +
				"server.2=127.0.0.1:2889:3889:participant\n" +
				"server.3=127.0.0.1:2890:3890:observer;0.0.0.0:2183\nversion=0"},
		{"several addresses, IPv6", "1", "initLimit=10\nsyncLimit=5\nclientPort=2181\n" +
			"server.1=zz:2888:3888|[::1]:2888:3888|aa:2888:3888\nserver.2=b:2889:3889\nserver.3=c:2890:3890\n",
			"server.1=[::1]:2888:3888|aa:2888:3888|zz:2888:3888:participant\n" +
				"server.2=b:2889:3889:participant\nserver.3=c:2890:3890:participant\nversion=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, q, err := parseQuorum(t, tc.myid, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := q.ConfigText(); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// A member keeps one fdatasync in flight, a standalone server the native
// engine's default (two), and both preallocate their segments.
func TestNativeOptionsByMode(t *testing.T) {
	standalone := Config{LogSegmentBytes: 1 << 20}
	if o := standalone.nativeOptions(); o.SyncsInFlight != 0 || !o.Log.Preallocate || o.Log.SegmentBytes != 1<<20 {
		t.Errorf("standalone: %+v, want the engine's default syncs in flight, preallocated 1 MiB segments", o)
	}
	member := Config{LogSegmentBytes: 1 << 20, Quorum: &QuorumConfig{MyID: 1}}
	if o := member.nativeOptions(); o.SyncsInFlight != 1 || !o.Log.Preallocate {
		t.Errorf("member: %+v, want one sync in flight, preallocated segments", o)
	}
}
