package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// start serves cmds on a free loopback port with URL /commands.
func start(t *testing.T, serving func() bool, cmds ...Command) *Server {
	t.Helper()
	s, err := Listen(Config{Addr: "127.0.0.1:0", Serving: serving})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(cmds); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// call sends method to path and decodes the JSON answer.
func call(t *testing.T, method, u string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: not JSON: %v\n%s", method, u, err, b)
	}
	return resp.StatusCode, resp.Header, out
}

func TestCommands(t *testing.T) {
	var serving atomic.Bool
	serving.Store(true)
	var posted atomic.Int32
	s := start(t, serving.Load,
		Command{Names: []string{"server_stats", "srvr"}, ServerRequired: true, Run: func(*http.Request) (Fields, error) {
			return Fields{"node_count": 5}, nil
		}},
		Command{Names: []string{"environment", "envi"}, Run: func(*http.Request) (Fields, error) {
			return Fields{"os.name": "linux"}, nil
		}},
		Command{Names: []string{"purge"}, Post: true, Run: func(r *http.Request) (Fields, error) {
			if r.URL.Query().Get("keep") == "1" {
				return nil, &UserError{Msg: "keep at least 3"}
			}
			posted.Add(1)
			return Fields{"keep": 3}, nil
		}},
		Command{Names: []string{"broken"}, Run: func(*http.Request) (Fields, error) {
			return Fields{"partial": true}, errors.New("disk on fire")
		}},
	)
	tests := []struct {
		name, method, path string
		status             int
		want               map[string]any
	}{
		{"primary name", "GET", "/server_stats", 200, map[string]any{"command": "server_stats", "error": nil, "node_count": 5.0}},
		// An alias is answered under the primary name, as ZooKeeper does.
		{"alias", "GET", "/srvr", 200, map[string]any{"command": "server_stats", "error": nil, "node_count": 5.0}},
		{"unknown", "GET", "/nope", 200, map[string]any{"command": "nope", "error": "Unknown command: nope"}},
		{"state change by GET", "GET", "/purge", 405, map[string]any{"command": "purge", "error": "purge changes the server's state: send it as a POST"}},
		{"bad parameter", "POST", "/purge?keep=1", 400, map[string]any{"command": "purge", "error": "keep at least 3"}},
		{"post", "POST", "/purge", 200, map[string]any{"command": "purge", "error": nil, "keep": 3.0}},
		{"error keeps the fields", "GET", "/broken", 200, map[string]any{"command": "broken", "error": "disk on fire", "partial": true}},
		{"method", "DELETE", "/srvr", 405, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, got := call(t, tc.method, s.URL()+tc.path)
			if status != tc.status {
				t.Errorf("status %d, want %d (%v)", status, tc.status, got)
			}
			if tc.want == nil {
				return
			}
			if len(got) != len(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %#v, want %#v (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
	if n := posted.Load(); n != 1 {
		t.Errorf("purge ran %d times, want once (only the POST without a bad parameter)", n)
	}

	// Not serving: commands that need the server say so; others answer.
	serving.Store(false)
	if _, _, got := call(t, "GET", s.URL()+"/srvr"); got["error"] != NotServing || got["node_count"] != nil {
		t.Errorf("srvr while not serving: %v", got)
	}
	if _, _, got := call(t, "GET", s.URL()+"/envi"); got["error"] != nil || got["os.name"] != "linux" {
		t.Errorf("envi while not serving: %v", got)
	}
}

func TestListing(t *testing.T) {
	noop := func(*http.Request) (Fields, error) { return Fields{}, nil }
	s := start(t, nil, Command{Names: []string{"watches", "wchc"}, Run: noop}, Command{Names: []string{"dump"}, Run: noop})
	for _, u := range []string{s.URL(), s.URL() + "/"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := "<a href=\"/commands/dump\">dump</a>\n<br/>\n<a href=\"/commands/watches\">watches</a>\n<br/>\n"
		if string(b) != want {
			t.Errorf("GET %s:\n%q\nwant\n%q", u, b, want)
		}
	}
	// Nothing outside the command URL.
	resp, err := http.Get("http://" + s.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /: %d, want 404", resp.StatusCode)
	}
}

func TestConfigRefused(t *testing.T) {
	if _, err := Listen(Config{Addr: "127.0.0.1:0", URL: "commands"}); err == nil || !strings.Contains(err.Error(), "must start with /") {
		t.Errorf("URL without /: %v", err)
	}
	s, err := Listen(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	noop := func(*http.Request) (Fields, error) { return nil, nil }
	if err := s.Serve([]Command{{Names: []string{"a", "b"}, Run: noop}, {Names: []string{"b"}, Run: noop}}); err == nil {
		t.Errorf("a name registered twice: served")
	}
	// The port is taken: a second server on it is refused at Listen.
	if _, err := Listen(Config{Addr: s.Addr().String()}); err == nil {
		t.Errorf("a second AdminServer on %s: listening", s.Addr())
	}
}

func TestCloseWithoutServe(t *testing.T) {
	s, err := Listen(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().String()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Listen(Config{Addr: addr})
	if err != nil {
		t.Fatalf("the port is still held after Close: %v", err)
	}
	again.Close()
}
