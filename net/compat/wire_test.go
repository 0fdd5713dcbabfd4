package compat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	stdnet "net"
	"sync"
	"time"
)

// This file is a deliberately small, independent ZooKeeper wire client: jute
// encoding by hand, one request in flight per session, every notification
// recorded in arrival order relative to replies. It sends whatever bytes a
// test asks for (bad paths, unknown op codes, oversized frames) where a real
// client library would refuse. It does not use net/jute, so the suite checks
// that package instead of trusting it.

// Op codes (ZooDefs.OpCode).
const (
	opNotification         int32 = 0
	opCreate               int32 = 1
	opDelete               int32 = 2
	opExists               int32 = 3
	opGetData              int32 = 4
	opSetData              int32 = 5
	opGetACL               int32 = 6
	opSetACL               int32 = 7
	opGetChildren          int32 = 8
	opSync                 int32 = 9
	opPing                 int32 = 11
	opGetChildren2         int32 = 12
	opCheck                int32 = 13
	opMulti                int32 = 14
	opCreate2              int32 = 15
	opCheckWatches         int32 = 17
	opRemoveWatches        int32 = 18
	opCreateContainer      int32 = 19
	opCreateTTL            int32 = 21
	opMultiRead            int32 = 22
	opAuth                 int32 = 100
	opGetEphemerals        int32 = 103
	opGetAllChildrenNumber int32 = 104
	opAddWatch             int32 = 106
	opCloseSession         int32 = -11
	opError                int32 = -1
)

// Special xids.
const (
	xidNotification int32 = -1
	xidPing         int32 = -2
	xidAuth         int32 = -4
)

// codeNames names ZooKeeper's error codes (KeeperException.Code) so
// transcripts read as names; unknown codes print as numbers.
var codeNames = map[int32]string{
	0: "OK", -1: "SystemError", -2: "RuntimeInconsistency", -3: "DataInconsistency",
	-4: "ConnectionLoss", -5: "MarshallingError", -6: "Unimplemented", -7: "OperationTimeout",
	-8: "BadArguments", -13: "NewConfigNoQuorum", -14: "ReconfigInProgress", -15: "UnknownSession",
	-100: "APIError", -101: "NoNode", -102: "NoAuth", -103: "BadVersion",
	-108: "NoChildrenForEphemerals", -110: "NodeExists", -111: "NotEmpty", -112: "SessionExpired",
	-113: "InvalidCallback", -114: "InvalidACL", -115: "AuthFailed", -118: "SessionMoved",
	-119: "NotReadOnly", -120: "EphemeralOnLocalSession", -121: "NoWatcher", -122: "RequestTimeout",
	-123: "ReconfigDisabled", -124: "SessionClosedRequireSaslAuth", -125: "QuotaExceeded",
	-127: "Throttled",
}

func codeName(c int32) string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("code(%d)", c)
}

var eventNames = map[int32]string{
	-1: "None", 1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged", 4: "NodeChildrenChanged",
	5: "DataWatchRemoved", 6: "ChildWatchRemoved", 7: "PersistentWatchRemoved",
}

var stateNames = map[int32]string{
	-112: "Expired", 0: "Disconnected", 3: "SyncConnected", 4: "AuthFailed", 5: "ConnectedReadOnly",
	6: "SaslAuthenticated", 7: "Closed",
}

// ---- jute encoding ----

type enc struct{ b []byte }

func (e *enc) i32(v int32) { e.b = binary.BigEndian.AppendUint32(e.b, uint32(v)) }
func (e *enc) i64(v int64) { e.b = binary.BigEndian.AppendUint64(e.b, uint64(v)) }
func (e *enc) boolean(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

// buf writes a jute buffer; nil is written as length -1 (null).
func (e *enc) buf(v []byte) {
	if v == nil {
		e.i32(-1)
		return
	}
	e.i32(int32(len(v)))
	e.b = append(e.b, v...)
}
func (e *enc) str(s string) { e.i32(int32(len(s))); e.b = append(e.b, s...) }
func (e *enc) acls(a []acl) {
	e.i32(int32(len(a)))
	for _, x := range a {
		e.i32(x.Perms)
		e.str(x.Scheme)
		e.str(x.ID)
	}
}

// dec reads jute; the first error sticks and later reads return zeros.
type dec struct {
	b   []byte
	err error
}

var errShort = errors.New("compat: short record")

func (d *dec) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = fmt.Errorf("%w: want %d bytes, have %d", errShort, n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
func (d *dec) i32() int32 {
	v := d.take(4)
	if v == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(v))
}
func (d *dec) i64() int64 {
	v := d.take(8)
	if v == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}
func (d *dec) boolean() bool {
	v := d.take(1)
	return v != nil && v[0] != 0
}
func (d *dec) buf() []byte {
	n := d.i32()
	if n == -1 {
		return nil
	}
	v := d.take(int(n))
	return append([]byte{}, v...)
}
func (d *dec) str() string { return string(d.buf()) }
func (d *dec) strs() []string {
	n := d.i32()
	if n < 0 {
		return nil // null vector, distinct from an empty one
	}
	out := []string{}
	for i := int32(0); i < n && d.err == nil; i++ {
		out = append(out, d.str())
	}
	return out
}
func (d *dec) acls() []acl {
	n := d.i32()
	if n < 0 {
		return nil // null vector, distinct from an empty one
	}
	out := []acl{}
	for i := int32(0); i < n && d.err == nil; i++ {
		out = append(out, acl{Perms: d.i32(), Scheme: d.str(), ID: d.str()})
	}
	return out
}
func (d *dec) stat() stat {
	return stat{
		Czxid: d.i64(), Mzxid: d.i64(), Ctime: d.i64(), Mtime: d.i64(),
		Version: d.i32(), Cversion: d.i32(), Aversion: d.i32(),
		EphemeralOwner: d.i64(), DataLength: d.i32(), NumChildren: d.i32(), Pzxid: d.i64(),
	}
}

type acl struct {
	Perms      int32
	Scheme, ID string
}

type stat struct {
	Czxid, Mzxid, Ctime, Mtime  int64
	Version, Cversion, Aversion int32
	EphemeralOwner              int64
	DataLength, NumChildren     int32
	Pzxid                       int64
}

// ---- the session ----

// event is one watch notification.
type event struct {
	Type, State int32
	Path        string
}

func (e event) String() string {
	t, ok := eventNames[e.Type]
	if !ok {
		t = fmt.Sprintf("type(%d)", e.Type)
	}
	s, ok := stateNames[e.State]
	if !ok {
		s = fmt.Sprintf("state(%d)", e.State)
	}
	if s == "SyncConnected" {
		return t + " " + e.Path
	}
	return t + " " + e.Path + " state=" + s
}

// reply is one answer, with the notifications that arrived before it.
type reply struct {
	Xid    int32
	Zxid   int64
	Err    int32
	Body   []byte
	Events []event
}

// errClosed: the server closed the connection (or it failed).
var errClosed = errors.New("compat: connection closed")

// rawSession is one TCP connection with one ZooKeeper session.
// Concurrency: call is used by one goroutine at a time (the test); wmu
// serialises writes between call and the pinger; mu guards the fields
// below it, which the reader goroutine fills.
type rawSession struct {
	conn      stdnet.Conn
	SessionID int64
	Timeout   int32 // negotiated, ms
	Passwd    []byte
	wmu       sync.Mutex
	xid       int32

	mu       sync.Mutex
	events   []event    // notifications not yet handed out
	replies  chan reply // replies in arrival order
	readErr  error
	closed   chan struct{} // closed when the reader stops
	stopPing chan struct{}
	evNotify chan struct{} // gets a token when a notification arrives
}

const callTimeout = 15 * time.Second

// dialSession opens a connection and a new session asking for timeoutMs.
func dialSession(addr string, timeoutMs int32) (*rawSession, error) {
	return resumeSession(addr, timeoutMs, 0, make([]byte, 16))
}

// errRefused: the server answered the ConnectRequest with timeout 0 or
// session 0, i.e. the session is expired or the password wrong.
var errRefused = errors.New("compat: session refused")

// resumeSession opens a connection asking for session sid (0: a new one)
// with its password.
func resumeSession(addr string, timeoutMs int32, sid int64, passwd []byte) (*rawSession, error) {
	c, err := stdnet.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	var e enc
	e.i32(0)         // protocolVersion
	e.i64(0)         // lastZxidSeen
	e.i32(timeoutMs) // timeOut
	e.i64(sid)       // sessionId
	e.buf(passwd)
	e.boolean(false) // readOnly
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := writeFrame(c, e.b); err != nil {
		c.Close()
		return nil, fmt.Errorf("compat: connect request: %w", err)
	}
	body, err := readFrame(c, 1<<20)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("compat: connect response: %w", err)
	}
	c.SetDeadline(time.Time{})
	d := dec{b: body}
	_ = d.i32() // protocolVersion
	s := &rawSession{conn: c, Timeout: d.i32(), SessionID: d.i64(), Passwd: d.buf()}
	if d.err != nil {
		c.Close()
		return nil, fmt.Errorf("compat: connect response %x: %w", body, d.err)
	}
	if s.SessionID == 0 || s.Timeout <= 0 {
		c.Close()
		return nil, fmt.Errorf("%w (session %#x timeout %d)", errRefused, s.SessionID, s.Timeout)
	}
	s.replies = make(chan reply, 16)
	s.closed = make(chan struct{})
	s.stopPing = make(chan struct{})
	s.evNotify = make(chan struct{}, 1)
	go s.readLoop()
	go s.pingLoop(time.Duration(s.Timeout) * time.Millisecond / 3)
	return s, nil
}

func writeFrame(w io.Writer, b []byte) error {
	f := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(b)), uint32(len(b)))
	_, err := w.Write(append(f, b...))
	return err
}

func readFrame(r io.Reader, max int) ([]byte, error) {
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(l[:])))
	if n < 0 || n > max {
		return nil, fmt.Errorf("compat: frame length %d out of range", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

func (s *rawSession) readLoop() {
	defer close(s.closed)
	for {
		b, err := readFrame(s.conn, 64<<20)
		if err != nil {
			s.mu.Lock()
			s.readErr = err
			s.mu.Unlock()
			return
		}
		d := dec{b: b}
		r := reply{Xid: d.i32(), Zxid: d.i64(), Err: d.i32()}
		if d.err != nil {
			s.mu.Lock()
			s.readErr = fmt.Errorf("reply header %x: %w", b, d.err)
			s.mu.Unlock()
			s.conn.Close()
			return
		}
		r.Body = d.b
		switch r.Xid {
		case xidNotification:
			ev := event{Type: d.i32(), State: d.i32(), Path: d.str()}
			s.mu.Lock()
			s.events = append(s.events, ev)
			s.mu.Unlock()
			select {
			case s.evNotify <- struct{}{}:
			default:
			}
		case xidPing:
		default:
			s.mu.Lock()
			r.Events = s.events
			s.events = nil
			s.mu.Unlock()
			s.replies <- r
		}
	}
}

func (s *rawSession) pingLoop(every time.Duration) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stopPing:
			return
		case <-s.closed:
			return
		case <-t.C:
			var e enc
			e.i32(xidPing)
			e.i32(opPing)
			s.wmu.Lock()
			s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_ = writeFrame(s.conn, e.b)
			s.wmu.Unlock()
		}
	}
}

// sendRaw writes bytes as they are, for framing tests.
func (s *rawSession) sendRaw(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := s.conn.Write(b)
	return err
}

// call sends one request and waits for its reply. xid 0 picks the next one.
func (s *rawSession) call(op int32, body []byte) (reply, error) {
	s.wmu.Lock()
	s.xid++
	xid := s.xid
	if op == opAuth {
		xid = xidAuth
	}
	var e enc
	e.i32(xid)
	e.i32(op)
	e.b = append(e.b, body...)
	s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	err := writeFrame(s.conn, e.b)
	s.wmu.Unlock()
	if err != nil {
		return reply{}, fmt.Errorf("%w: write: %v", errClosed, err)
	}
	t := time.NewTimer(callTimeout)
	defer t.Stop()
	select {
	case r := <-s.replies:
		if r.Xid != xid {
			return r, fmt.Errorf("compat: reply xid %d for request xid %d", r.Xid, xid)
		}
		return r, nil
	case <-s.closed:
		// A reply may have been queued just before the close.
		select {
		case r := <-s.replies:
			return r, nil
		default:
		}
		s.mu.Lock()
		err := s.readErr
		s.mu.Unlock()
		return reply{}, fmt.Errorf("%w: %v", errClosed, err)
	case <-t.C:
		return reply{}, fmt.Errorf("compat: no reply to op %d xid %d within %v", op, xid, callTimeout)
	}
}

// pendingEvents hands out notifications that arrived since the last reply.
func (s *rawSession) pendingEvents() []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := s.events
	s.events = nil
	return ev
}

// waitEvent waits up to d for a notification matching want and returns
// every notification received up to and including it.
func (s *rawSession) waitEvent(want event, d time.Duration) ([]event, bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	var seen []event
	for {
		seen = append(seen, s.pendingEvents()...)
		for _, e := range seen {
			if e == want {
				return seen, true
			}
		}
		select {
		case <-s.evNotify:
		case <-t.C:
			return seen, false
		}
	}
}

// waitClosed reports whether the server closes the connection within d.
func (s *rawSession) waitClosed(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.closed:
		return true
	case <-t.C:
		return false
	}
}

// close drops the TCP connection without closing the session.
func (s *rawSession) close() {
	select {
	case <-s.stopPing:
	default:
		close(s.stopPing)
	}
	s.conn.Close()
	<-s.closed
}
