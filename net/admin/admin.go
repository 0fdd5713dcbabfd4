// Package admin is the AdminServer: ZooKeeper's HTTP command interface
// (admin.serverAddress, admin.serverPort, admin.commandURL), so that the
// scripts and dashboards that poll Apache ZooKeeper 3.8's
// http://host:8080/commands/<name> work against zabd unchanged.
//
// GET <commandURL> lists the commands by their primary names as links;
// GET <commandURL>/<name> runs the command registered under that name or
// one of its aliases (ZooKeeper's four-letter words among them) and
// answers a JSON object: the command's fields plus "command" (its primary
// name, as ZooKeeper echoes it) and "error" (null, or what went
// wrong). As in ZooKeeper 3.8 an unknown command, and a command that
// needs a serving server when the server is not serving, are answered
// 200 with the error set, so pollers read one shape.
//
// Invariants: the server listens on exactly the address it was given and
// nothing else; a command that changes state (Command.Post) runs only
// for a POST, so a crawler or a browser prefetch following the listing's
// links never triggers one; every response is one complete JSON object.
// The package knows nothing of the server behind the commands: they are
// handed in as functions.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Fields are a command's answer: JSON field names (ZooKeeper's, for its
// commands) to values that encoding/json can write.
type Fields = map[string]any

// Command is one admin command.
type Command struct {
	// Names are the primary name, listed and echoed, then its aliases.
	Names []string
	// ServerRequired: while Config.Serving says no, the command is
	// answered with ZooKeeper's "not currently serving" error instead.
	ServerRequired bool
	// Post: the command changes state and runs only for POST.
	Post bool
	// Run answers the command. r's query holds its parameters.
	Run func(r *http.Request) (Fields, error)
}

// NotServing is the error ZooKeeper's commands answer while the server is
// not serving (Commands.CommandBase).
const NotServing = "This ZooKeeper instance is not currently serving requests"

// Config configures the AdminServer.
type Config struct {
	// Addr is host:port to listen on (admin.serverAddress and
	// admin.serverPort; ZooKeeper's defaults are 0.0.0.0 and 8080).
	Addr string
	// URL is the commands' path (admin.commandURL, default "/commands").
	URL string
	// IdleTimeout closes idle connections (admin.idleTimeout, default
	// 30s as ZooKeeper's).
	IdleTimeout time.Duration
	// Serving reports whether the server serves requests now; nil: always.
	Serving func() bool
	Logger  *slog.Logger
}

// Server is a listening AdminServer.
type Server struct {
	cfg    Config
	ln     net.Listener
	http   *http.Server
	byName map[string]*Command
	cmds   []Command
	served bool
	done   chan struct{}
}

// Listen checks cfg and binds its address; Serve then answers requests.
// Binding first lets the caller fail before it opens anything else, as
// for the client port; until Serve, connections wait in the backlog.
func Listen(cfg Config) (*Server, error) {
	if cfg.URL == "" {
		cfg.URL = "/commands"
	}
	if !strings.HasPrefix(cfg.URL, "/") {
		return nil, fmt.Errorf("admin: commandURL %q must start with /", cfg.URL)
	}
	cfg.URL = strings.TrimSuffix(cfg.URL, "/")
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, byName: map[string]*Command{}, done: make(chan struct{})}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listening on %s: %w", cfg.Addr, err)
	}
	s.ln = ln
	mux := http.NewServeMux()
	mux.HandleFunc(cfg.URL, s.list)
	mux.HandleFunc(cfg.URL+"/", s.command)
	s.http = &http.Server{
		Handler:           mux,
		IdleTimeout:       cfg.IdleTimeout,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL is the base URL of the commands, e.g. http://127.0.0.1:8080/commands.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + s.cfg.URL }

// Serve answers cmds until Close; it returns at once, serving on its own
// goroutine. A command without a name or a Run, or a name given twice, is
// refused and nothing is served.
func (s *Server) Serve(cmds []Command) error {
	for i := range cmds {
		c := &cmds[i]
		if len(c.Names) == 0 || c.Run == nil {
			return fmt.Errorf("admin: command %d has no name or no Run", i)
		}
		for _, n := range c.Names {
			if _, dup := s.byName[n]; dup {
				return fmt.Errorf("admin: command name %q registered twice", n)
			}
			s.byName[n] = c
		}
	}
	s.cmds = cmds
	s.served = true
	go func() {
		defer close(s.done)
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.Error("admin server stopped", "addr", s.ln.Addr().String(), "err", err)
		}
	}()
	return nil
}

// Close stops listening, lets requests in progress finish for up to a
// second and waits for Serve's goroutine.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.http.Close()
	}
	if s.served {
		<-s.done
	} else {
		_ = s.ln.Close()
	}
	return err
}

// list answers the listing: a link per command, by primary name, sorted.
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	var names []string
	for _, c := range s.cmds {
		names = append(names, c.Names[0])
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		u := html.EscapeString(s.cfg.URL + "/" + n)
		fmt.Fprintf(&b, "<a href=\"%s\">%s</a>\n<br/>\n", u, html.EscapeString(n))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

// command runs one command and writes its JSON answer.
func (s *Server) command(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, s.cfg.URL+"/")
	if name == "" {
		s.list(w, r)
		return
	}
	out := Fields{}
	status := http.StatusOK
	c := s.byName[name]
	switch {
	case c == nil:
		out["error"] = "Unknown command: " + name
	case r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != http.MethodHead:
		status = http.StatusMethodNotAllowed
		out["error"] = fmt.Sprintf("%s is not a method for commands (GET, or POST for those that change state)", r.Method)
	case c.Post && r.Method != http.MethodPost:
		status = http.StatusMethodNotAllowed
		w.Header().Set("Allow", http.MethodPost)
		out["error"] = fmt.Sprintf("%s changes the server's state: send it as a POST", c.Names[0])
	case c.ServerRequired && s.cfg.Serving != nil && !s.cfg.Serving():
		out["error"] = NotServing
	default:
		fields, err := c.Run(r)
		for k, v := range fields {
			out[k] = v
		}
		if err != nil {
			out["error"] = err.Error()
			var ue *UserError
			if errors.As(err, &ue) {
				status = http.StatusBadRequest
			}
		}
	}
	out["command"] = name
	if c != nil {
		out["command"] = c.Names[0] // ZooKeeper echoes the primary name for an alias
	}
	if _, ok := out["error"]; !ok {
		out["error"] = nil
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		b, _ = json.Marshal(Fields{"command": name, "error": "encoding the answer: " + err.Error()})
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// UserError is a command's error about its parameters: answered 400.
type UserError struct{ Msg string }

func (e *UserError) Error() string { return e.Msg }
