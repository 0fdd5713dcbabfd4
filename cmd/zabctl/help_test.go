package main

import (
	"io"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// Every command of the bench, log, snapshot and data groups says in its
// --help how it is used and gives at least one example.
func TestEveryToolCommandHasAnExample(t *testing.T) {
	app := newApp(strings.NewReader(""), io.Discard, io.Discard)
	var visit func(prefix string, cmds []*cli.Command)
	visit = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			name := strings.TrimSpace(prefix + " " + c.Name)
			if len(c.Subcommands) > 0 {
				visit(name, c.Subcommands)
				continue
			}
			if !strings.HasPrefix(name, "bench") && !strings.HasPrefix(name, "log") &&
				!strings.HasPrefix(name, "snapshot") && !strings.HasPrefix(name, "data") && name != "admin" {
				continue
			}
			usage, examples, _ := strings.Cut(c.UsageText, "\n")
			if !strings.HasPrefix(usage, "zabctl "+name) || !strings.Contains(examples, "zabctl "+name) {
				t.Errorf("zabctl %s --help: usage %q and no example of it (%q)", name, usage, examples)
			}
		}
	}
	visit("", app.Commands)
}
