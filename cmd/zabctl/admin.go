package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// adminPostCommands change the server's state: zabctl sends them as POST,
// as the AdminServer requires.
var adminPostCommands = map[string]bool{"take_snapshot": true, "purge": true}

func adminCommand() *cli.Command {
	return &cli.Command{
		Name:  "admin",
		Usage: "run an AdminServer command (HTTP, Apache ZooKeeper's and zabd's) and print its JSON answer",
		UsageText: "zabctl admin [--admin host:port] [--url /commands] [COMMAND [key=value ...]]\n" +
			"   zabctl admin                                  # the commands the server offers\n" +
			"   zabctl admin --admin 127.0.0.1:8080 monitor   # mntr as JSON\n" +
			"   zabctl admin take_snapshot                    # zabd: a snapshot now (POST)\n" +
			"   zabctl admin purge keep=5                     # zabd: keep the newest 5 snapshots and the log they need (POST)",
		Description: "Talks to the server's AdminServer (zoo.cfg admin.enableServer=true, admin.serverAddress, admin.serverPort,\n" +
			"admin.commandURL; or zabd --admin-addr), not to its client port. Exit status 0 when the answer's \"error\" is\n" +
			"null, 1 when the server answered with an error, 3 when it could not be reached.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "admin", Value: "127.0.0.1:8080", Usage: "the AdminServer's host:port"},
			&cli.StringFlag{Name: "url", Value: "/commands", Usage: "admin.commandURL"},
			&cli.DurationFlag{Name: "timeout", Value: 2 * time.Minute, Usage: "how long to wait for the answer (a snapshot of a large tree takes a while)"},
			&cli.BoolFlag{Name: "post", Usage: "send the command as a POST (automatic for take_snapshot and purge)"},
		},
		Action: adminAction,
	}
}

// adminLink matches one command of the AdminServer's listing.
var adminLink = regexp.MustCompile(`<a href="[^"]*">([^<]+)</a>`)

func adminAction(c *cli.Context) error {
	base := "http://" + c.String("admin") + "/" + strings.Trim(c.String("url"), "/")
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	if c.NArg() == 0 {
		body, _, err := adminRequest(ctx, http.MethodGet, base, nil)
		if err != nil {
			return err
		}
		for _, m := range adminLink.FindAllStringSubmatch(string(body), -1) {
			fmt.Fprintln(c.App.Writer, m[1])
		}
		return nil
	}
	name := c.Args().First()
	q := url.Values{}
	for _, kv := range c.Args().Tail() {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return cli.Exit(fmt.Sprintf("admin: parameter %q: want key=value", kv), exitUsage)
		}
		q.Add(k, v)
	}
	u := base + "/" + url.PathEscape(name)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	method := http.MethodGet
	if c.Bool("post") || adminPostCommands[name] {
		method = http.MethodPost
	}
	body, _, err := adminRequest(ctx, method, u, nil)
	if err != nil {
		return err
	}
	var answer map[string]any
	if err := json.Unmarshal(body, &answer); err != nil {
		return cli.Exit(fmt.Sprintf("admin: %s answered something that is not a JSON object: %v\n%s", u, err, body), exitZK)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, body, "", "  "); err != nil {
		out.Reset()
		out.Write(body)
	}
	fmt.Fprintln(c.App.Writer, strings.TrimSpace(out.String()))
	if e, ok := answer["error"]; ok && e != nil {
		return cli.Exit("", exitZK)
	}
	return nil
}

// adminRequest sends one request and returns the body (whatever the
// status: the AdminServer answers errors as JSON too).
func adminRequest(ctx context.Context, method, u string, body io.Reader) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, 0, cli.Exit(fmt.Sprintf("admin: %v", err), exitUsage)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, cli.Exit(fmt.Sprintf("admin: %s %s: %v (is the AdminServer on? zoo.cfg admin.enableServer=true)", method, u, err), exitConnect)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, resp.StatusCode, cli.Exit(fmt.Sprintf("admin: reading the answer of %s: %v", u, err), exitConnect)
	}
	return b, resp.StatusCode, nil
}
