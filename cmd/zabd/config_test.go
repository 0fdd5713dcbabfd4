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
	if err := parseZooCfg(strings.NewReader(in), &c, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
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
		if err := parseZooCfg(strings.NewReader(in), &c, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
	c := defaultConfig()
	c.Engine = "rocks"
	if err := c.validate(); err == nil {
		t.Error("unknown engine accepted")
	}
}
