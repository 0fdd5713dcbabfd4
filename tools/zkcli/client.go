package zkcli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Options configures a Client. Zero values take zkCli's defaults.
type Options struct {
	// Server is zkCli's connect string: host:port[,host:port...]. A chroot
	// suffix ("/app") is not supported. Default "127.0.0.1:2181".
	Server string
	// SessionTimeout is the session timeout asked of the server. Default
	// 30s, zkCli's.
	SessionTimeout time.Duration
	// ConnectTimeout bounds the wait for the first session. Default
	// SessionTimeout. Dial fails sooner if every server refused the TCP
	// connection in a row.
	ConnectTimeout time.Duration
	// Out and Err receive what zkCli prints on stdout and stderr. Default
	// io.Discard.
	Out, Err io.Writer
	// Location is the zone stat times are printed in (Java prints them in
	// the JVM's default zone). Default time.Local.
	Location *time.Location
	// Auth is added to the session (addauth) as soon as it exists, before
	// any command runs: "scheme:credential" each, e.g. "digest:user:pw".
	Auth []string
}

func (o *Options) fill() {
	if o.Server == "" {
		o.Server = "127.0.0.1:2181"
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 30 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = o.SessionTimeout
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Err == nil {
		o.Err = io.Discard
	}
	if o.Location == nil {
		o.Location = time.Local
	}
}

// Servers splits a connect string into host:port entries.
func Servers(connect string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(connect, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			return nil, fmt.Errorf("zkcli: chroot in connect string %q is not supported", connect)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("zkcli: empty connect string %q", connect)
	}
	return out, nil
}

// Client is one ZooKeeper session driven by zkCli commands: a go-zookeeper
// connection, the tap for the requests go-zookeeper lacks, and a mirror of
// the session's watches (zkCli keeps one, and removewatches consults it).
//
// Concurrency: Exec is called from one goroutine at a time (the shell or a
// one-shot run); go-zookeeper calls handleEvent from its receive goroutine.
// outMu serializes every write to Out and Err; mu guards the fields below
// it.
type Client struct {
	o    Options
	conn *zk.Conn
	tap  *tap
	out  io.Writer // Options.Out behind outMu
	errw io.Writer // Options.Err behind outMu

	outMu sync.Mutex

	mu           sync.Mutex
	showEvents   bool     // print WATCHER:: lines (shell mode)
	printWatches bool     // zkCli's printwatches on|off
	queued       []string // events seen before showEvents was set
	closing      bool     // Close was called: swallow go-zookeeper's Disconnected
	watches      watchRegistry
	hasSession   chan struct{} // closed at the first SyncConnected
	sessionOnce  sync.Once
	dialFailures int
	dialErr      chan error // gets the error once every server refused in a row
	nServers     int
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// Dial connects and waits for the session. Its error is a *Error of
// KindConn (or KindUsage for a malformed connect string).
func Dial(o Options) (*Client, error) {
	o.fill()
	servers, err := Servers(o.Server)
	if err != nil {
		return nil, &Error{Kind: KindUsage, Msg: err.Error(), Err: err}
	}
	c := &Client{
		o:            o,
		tap:          newTap(),
		printWatches: true,
		watches:      newWatchRegistry(),
		hasSession:   make(chan struct{}),
		dialErr:      make(chan error, 1),
		nServers:     len(servers),
	}
	c.out = lockedWriter{&c.outMu, o.Out}
	c.errw = lockedWriter{&c.outMu, o.Err}
	c.tap.onDial = c.noteDial
	conn, _, err := zk.Connect(servers, o.SessionTimeout,
		zk.WithLogger(quietLogger{}), zk.WithLogInfo(false),
		zk.WithEventCallback(c.handleEvent), zk.WithDialer(c.tap.Dial))
	if err != nil {
		return nil, &Error{Kind: KindConn, Code: 0, Msg: fmt.Sprintf("Unable to connect to %s: %v", o.Server, err), Err: err}
	}
	c.conn = conn
	timer := time.NewTimer(o.ConnectTimeout)
	defer timer.Stop()
	select {
	case <-c.hasSession:
		for _, a := range o.Auth {
			scheme, cred, ok := strings.Cut(a, ":")
			if !ok || scheme == "" {
				c.Close()
				return nil, &Error{Kind: KindUsage, Msg: fmt.Sprintf("--auth %q: want scheme:credential, e.g. digest:user:password", a)}
			}
			if err := c.conn.AddAuth(scheme, []byte(cred)); err != nil {
				c.Close()
				return nil, zkErr(err, "")
			}
		}
		return c, nil
	case err = <-c.dialErr:
	case <-timer.C:
		err = fmt.Errorf("no session within %v", o.ConnectTimeout)
	}
	c.Close()
	return nil, &Error{Kind: KindConn, Msg: fmt.Sprintf("Unable to connect to %s: %v", o.Server, err), Err: err}
}

// noteDial counts consecutive refused dials; once every server has
// refused in a row before any session, Dial gives up.
func (c *Client) noteDial(addr string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.dialFailures = 0
		return
	}
	c.dialFailures++
	if c.dialFailures >= c.nServers {
		select {
		case <-c.hasSession:
		default:
			select {
			case c.dialErr <- err:
			default:
			}
		}
	}
}

// Close ends the session. Safe to call more than once.
func (c *Client) Close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	if c.conn != nil {
		c.conn.Close()
	}
}

// Connected reports whether the session is currently established.
func (c *Client) Connected() bool {
	return c.conn != nil && c.conn.State() == zk.StateHasSession
}

// SessionID is the server-assigned session id.
func (c *Client) SessionID() int64 { return c.conn.SessionID() }

// ShowEvents turns on printing of WATCHER:: lines (zkCli's shell does it
// always); events seen so far are printed first, in order.
func (c *Client) ShowEvents() {
	c.mu.Lock()
	c.showEvents = true
	q := c.queued
	c.queued = nil
	pw := c.printWatches
	c.mu.Unlock()
	if pw {
		for _, e := range q {
			c.printEvent(e)
		}
	}
}

func (c *Client) printEvent(text string) {
	// ZooKeeperMain.printMessage prints "\n" + msg with println.
	fmt.Fprintf(c.out, "\nWATCHER::\n\n%s\n", text)
}

// eventText is WatchedEvent.toString() of ZooKeeper 3.8.
func eventText(state, typ, path string) string {
	if path == "" {
		path = "null"
	}
	return fmt.Sprintf("WatchedEvent state:%s type:%s path:%s", state, typ, path)
}

var stateNames = map[zk.State]string{
	zk.StateDisconnected: "Disconnected", zk.State(3): "SyncConnected",
	zk.StateAuthFailed: "AuthFailed", zk.StateConnectedReadOnly: "ConnectedReadOnly",
	zk.StateSaslAuthenticated: "SaslAuthenticated", zk.StateExpired: "Expired",
	zk.State(7): "Closed",
}

var eventNames = map[zk.EventType]string{
	-1: "None", 1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged",
	4: "NodeChildrenChanged", 5: "DataWatchRemoved", 6: "ChildWatchRemoved",
	7: "PersistentWatchRemoved",
}

func stateName(s zk.State) string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("Unknown(%d)", int32(s))
}

func eventName(t zk.EventType) string {
	if n, ok := eventNames[t]; ok {
		return n
	}
	return fmt.Sprintf("Unknown(%d)", int32(t))
}

// handleEvent is go-zookeeper's event callback: session transitions and
// every watch notification, in wire order, on go-zookeeper's receive
// goroutine.
func (c *Client) handleEvent(ev zk.Event) {
	var text string
	switch ev.Type {
	case zk.EventSession:
		switch ev.State {
		case zk.StateHasSession:
			c.sessionOnce.Do(func() { close(c.hasSession) })
			text = eventText("SyncConnected", "None", "")
		case zk.StateDisconnected, zk.StateExpired, zk.StateAuthFailed:
			c.mu.Lock()
			closing := c.closing
			c.mu.Unlock()
			if closing {
				return
			}
			text = eventText(stateName(ev.State), "None", "")
		default:
			return // go-zookeeper's Connecting/Connected: no zkCli event
		}
	case zk.EventNotWatching:
		return // go-zookeeper's own bookkeeping
	default:
		c.mu.Lock()
		c.watches.fire(ev.Type, ev.Path)
		c.mu.Unlock()
		text = eventText(stateName(ev.State), eventName(ev.Type), ev.Path)
	}
	c.emit(text)
}

// emit prints (or queues) one event text.
func (c *Client) emit(text string) {
	c.mu.Lock()
	if !c.showEvents {
		c.queued = append(c.queued, text)
		c.mu.Unlock()
		return
	}
	pw := c.printWatches
	c.mu.Unlock()
	if pw {
		c.printEvent(text)
	}
}

// errNotConnected is Exec's answer when the session is gone (zkCli prints
// "Not connected").
var errNotConnected = errors.New("Not connected")
