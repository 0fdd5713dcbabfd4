package logtool

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdnet "net"
	"slices"
	"strings"
	"time"

	"zabd/log"
	"zabd/tools/logread"
	"zabd/tools/zkcli"
	"zabd/tree"
)

// Operation names of an audit. The first seven are Apache ZooKeeper's
// (its audit log's operation=); the last three are zabd's, which
// ZooKeeper's audit log has no line for.
const (
	AuditCreate          = "create"
	AuditDelete          = "delete"
	AuditSetData         = "setData"
	AuditSetACL          = "setAcl"
	AuditMulti           = "multiOperation" // a failed multi, as one line
	AuditReconfig        = "reconfig"
	AuditEphemeralDelete = "ephemeralZNodeDeletionOnSessionCloseOrExpire"
	AuditCreateSession   = "createSession"
	AuditCloseSession    = "closeSession"
	AuditAddAuth         = "addAuth"
)

// zookeeperOps are the operations Apache ZooKeeper's audit log has.
var zookeeperOps = map[string]bool{AuditCreate: true, AuditDelete: true, AuditSetData: true, AuditSetACL: true,
	AuditMulti: true, AuditReconfig: true, AuditEphemeralDelete: true}

// AuditEvent is one audited operation: who (session, its client address
// and identities), what (operation, znode), when (the txn's zxid and
// stamp), and whether it succeeded. A successful multi gives one event
// per create, delete and setData in it, a failed one a single
// multiOperation failure, as ZooKeeper's audit log does.
type AuditEvent struct {
	Zxid    log.Zxid
	Time    int64 // ms since the Unix epoch, the leader's clock
	Session int64
	// Client is the session's address (host:port) as its createSession
	// logged it; "" when the log does not say (the session was created
	// before the log's first txn, or by a zabd that did not log it).
	Client string
	// Ids are the identities the session was authenticated as when it
	// did this, ("ip", host) first; nil when the log does not say.
	Ids []tree.Id
	// ByServer: the server did it (a closed or expired session's
	// ephemerals, a container or TTL node reaped), not a client request.
	ByServer  bool
	Operation string
	Znode     string
	ZnodeType string     // create: ZooKeeper's create mode name
	ACL       []tree.ACL // setAcl
	Err       tree.Code  // CodeOK: success
}

// User is ZooKeeper's audit "user": the user names of the session's
// identities joined by commas (an ip identity's name is the address, a
// digest one's the part before the colon), or server for what the server
// did itself; "" when unknown.
func (e *AuditEvent) User(server string) string {
	if e.ByServer {
		return server
	}
	names := make([]string, 0, len(e.Ids))
	for _, id := range e.Ids {
		name := id.ID
		if id.Scheme == tree.SchemeDigest {
			name, _, _ = strings.Cut(id.ID, ":")
		}
		if strings.TrimSpace(name) != "" {
			names = append(names, name)
		}
	}
	return strings.Join(names, ",")
}

// IP is the host part of Client ("" when unknown or server-side).
func (e *AuditEvent) IP() string {
	if e.ByServer || e.Client == "" {
		return ""
	}
	host, _, err := stdnet.SplitHostPort(e.Client)
	if err != nil {
		return e.Client
	}
	return host
}

// Result is "success" or "failure".
func (e *AuditEvent) Result() string {
	if e.Err == tree.CodeOK {
		return "success"
	}
	return "failure"
}

// AuditOptions configure Audit.
type AuditOptions struct {
	// Filter selects the txns whose events are reported; with a
	// PathPrefix, each event's znode must start with it too.
	Filter Filter
}

// AuditResult says what Audit read.
type AuditResult struct {
	logread.Summary
	Events int
	// Unknown counts the sessions seen acting whose createSession the log
	// does not hold (their client address and identities are unknown).
	Unknown int
}

// sessionInfo is what the log says of a session so far.
type sessionInfo struct {
	client     string
	ids        []tree.Id
	known      bool
	ephemerals map[string]bool
}

// Audit reads the whole log of d (the sessions' addresses and identities
// come from their createSession and auth txns, wherever they are) and
// calls fn with each event of the txns o.Filter selects, in zxid order.
// The ephemerals a closing session still owns are known when they were
// created within the log. On damage it has reported every event before
// it; the error says where.
func Audit(d *logread.DataDir, o AuditOptions, fn func(*AuditEvent) error) (AuditResult, error) {
	var res AuditResult
	sessions := map[int64]*sessionInfo{}
	owner := map[string]int64{} // ephemeral path -> session
	unknown := map[int64]bool{}
	f := &o.Filter
	session := func(sid int64) *sessionInfo {
		s := sessions[sid]
		if s == nil {
			s = &sessionInfo{}
			sessions[sid] = s
		}
		return s
	}
	sum, err := d.Records(0, func(r logread.Record) error {
		if f.pastEnd(r.Zxid) {
			return errStop
		}
		t, derr := tree.DecodeTxn(r.Data)
		if derr != nil {
			return fmt.Errorf("%s offset %d: zxid %v does not decode as a txn: %w", r.File, r.Offset, r.Zxid, derr)
		}
		report := f.match(r.Zxid, &t)
		var events []AuditEvent
		s := session(t.Session)
		known := s.known || t.Type == tree.OpCreateSession
		base := AuditEvent{Zxid: r.Zxid, Time: t.Time, Session: t.Session, Client: s.client, Ids: s.ids}
		if t.Session == 0 {
			base.ByServer = true
		}
		add := func(e AuditEvent) { events = append(events, e) }
		one := func(st *tree.Txn) {
			e := base
			e.Znode = st.Path
			switch st.Type {
			case tree.OpCreate, tree.OpCreate2, tree.OpCreateContainer, tree.OpCreateTTL:
				e.Operation, e.ZnodeType = AuditCreate, znodeType(st.Kind, st.Sequential)
				if st.Kind == tree.KindEphemeral {
					s.ephemerals = ensure(s.ephemerals)
					s.ephemerals[st.Path] = true
					owner[st.Path] = t.Session
				}
			case tree.OpDelete, tree.OpDeleteContainer:
				e.Operation = AuditDelete
				if o, ok := owner[st.Path]; ok {
					if so := sessions[o]; so != nil {
						delete(so.ephemerals, st.Path)
					}
					delete(owner, st.Path)
				}
			case tree.OpSetData:
				e.Operation = AuditSetData
			case tree.OpReconfig:
				e.Operation = AuditReconfig
			case tree.OpSetACL:
				e.Operation, e.ACL = AuditSetACL, st.ACL
			default:
				return // check: not audited, as in ZooKeeper
			}
			add(e)
		}
		switch t.Type {
		case tree.OpCreateSession:
			*s = sessionInfo{client: t.Client, known: true}
			if host, _, err := stdnet.SplitHostPort(t.Client); err == nil {
				s.ids = []tree.Id{{Scheme: tree.SchemeIP, ID: host}}
			}
			e := base
			e.Client, e.Ids, e.Operation = s.client, s.ids, AuditCreateSession
			add(e)
		case tree.OpAuth:
			s.ids = t.Ids
			e := base
			e.Ids, e.Operation = t.Ids, AuditAddAuth
			add(e)
		case tree.OpCloseSession:
			paths := make([]string, 0, len(s.ephemerals))
			for p := range s.ephemerals {
				paths = append(paths, p)
				delete(owner, p)
			}
			slices.Sort(paths)
			for _, p := range paths {
				e := base
				e.ByServer, e.Operation, e.Znode = true, AuditEphemeralDelete, p
				add(e)
			}
			e := base
			e.Operation = AuditCloseSession
			add(e)
			delete(sessions, t.Session)
		case tree.OpMulti:
			if t.Txns != nil && slices.ContainsFunc(t.Txns, func(s tree.Txn) bool { return s.Type == tree.OpError }) {
				e := base
				e.Operation, e.Err = AuditMulti, firstError(t.Txns)
				add(e)
				break
			}
			for i := range t.Txns {
				one(&t.Txns[i])
			}
		case tree.OpError:
			e := base
			e.Err, e.Znode, e.ACL = t.Err, t.Path, t.ACL
			switch t.FailedOp {
			case tree.OpCreate, tree.OpCreate2, tree.OpCreateContainer, tree.OpCreateTTL:
				e.Operation, e.ZnodeType = AuditCreate, CreateModeName(t.FailedMode)
			case tree.OpDelete, tree.OpDeleteContainer:
				e.Operation = AuditDelete
			case tree.OpSetData:
				e.Operation = AuditSetData
			case tree.OpSetACL:
				e.Operation = AuditSetACL
			case tree.OpReconfig:
				e.Operation = AuditReconfig
			case tree.OpMulti:
				e.Operation = AuditMulti
			case tree.OpAuth, tree.OpCreateSession, tree.OpCloseSession, tree.OpCheck:
				return nil // nothing an audit reports (ZooKeeper's neither)
			default:
				e.Operation = "" // a failure whose request the log does not name
			}
			add(e)
		case tree.OpSessionSecret:
		default:
			one(&t)
		}
		if !report {
			return nil
		}
		for i := range events {
			e := &events[i]
			if f.PathPrefix != "" && !strings.HasPrefix(e.Znode, f.PathPrefix) {
				continue
			}
			if !known && e.Session != 0 {
				unknown[e.Session] = true
			}
			res.Events++
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
	res.Summary = sum
	res.Unknown = len(unknown)
	if errors.Is(err, errStop) {
		err = nil
	}
	return res, err
}

func ensure(m map[string]bool) map[string]bool {
	if m == nil {
		return map[string]bool{}
	}
	return m
}

func firstError(subs []tree.Txn) tree.Code {
	for _, s := range subs {
		if s.Type == tree.OpError && s.Err != tree.CodeOK && s.Err != tree.CodeRuntimeInconsistency {
			return s.Err
		}
	}
	return tree.CodeRuntimeInconsistency
}

// znodeType is ZooKeeper's create mode name of a created node.
func znodeType(k tree.NodeKind, sequential bool) string {
	switch k {
	case tree.KindEphemeral:
		if sequential {
			return "ephemeral_sequential"
		}
		return "ephemeral"
	case tree.KindContainer:
		return "container"
	case tree.KindTTL:
		if sequential {
			return "persistent_sequential_with_ttl"
		}
		return "persistent_with_ttl"
	}
	if sequential {
		return "persistent_sequential"
	}
	return "persistent"
}

// AuditFormat is how WriteAudit prints events.
type AuditFormat int

const (
	// AuditText: one line per event, every field named.
	AuditText AuditFormat = iota
	// AuditJSON: one AuditJSON object per line.
	AuditJSON
	// AuditZooKeeper: the lines of Apache ZooKeeper's audit log file as
	// its default layout writes them (time, level, logger, then the
	// tab-separated key=value pairs in its order: session, user, ip,
	// operation, znode, znode_type, acl, result), for ZooKeeper's
	// operations only.
	AuditZooKeeper
)

// AuditJSONEvent is the --json form of an event.
type AuditJSONEvent struct {
	Zxid      string   `json:"zxid"`
	Time      string   `json:"time"`
	TimeMs    int64    `json:"time_ms"`
	Session   string   `json:"session"`
	Client    string   `json:"client,omitempty"`
	Ids       []string `json:"ids,omitempty"`
	User      string   `json:"user,omitempty"`
	Operation string   `json:"operation"`
	Znode     string   `json:"znode,omitempty"`
	ZnodeType string   `json:"znode_type,omitempty"`
	ACL       string   `json:"acl,omitempty"`
	Result    string   `json:"result"`
	ErrorCode int32    `json:"error_code,omitempty"`
	ByServer  bool     `json:"by_server,omitempty"`
}

// AuditWriter prints events in one format.
type AuditWriter struct {
	w      *bufio.Writer
	format AuditFormat
	server string
	line   []byte
}

// NewAuditWriter prints to w; server is the user name given to what the
// server did itself (ZooKeeper writes the user it runs as).
func NewAuditWriter(w io.Writer, format AuditFormat, server string) *AuditWriter {
	return &AuditWriter{w: bufio.NewWriterSize(w, 256<<10), format: format, server: server}
}

// Write prints e (nothing, in ZooKeeper's format, for zabd's own
// operations and failures whose request the log does not name).
func (a *AuditWriter) Write(e *AuditEvent) error {
	b := a.line[:0]
	acl := ""
	if e.ACL != nil {
		var sb strings.Builder
		for _, x := range e.ACL {
			// ZooKeeper's ZKUtil.aclToString: no separator between entries.
			sb.WriteString(x.ID.Scheme + ":" + x.ID.ID + ":" + zkcli.PermString(x.Perms))
		}
		acl = sb.String()
	}
	switch a.format {
	case AuditZooKeeper:
		if !zookeeperOps[e.Operation] {
			return nil
		}
		level := "INFO"
		if e.Err != tree.CodeOK {
			level = "ERROR"
		}
		b = time.UnixMilli(e.Time).UTC().AppendFormat(b, "2006-01-02 15:04:05,000")
		b = fmt.Appendf(b, " %s audit.Slf4jAuditLogger: session=%s", level, FormatSession(e.Session))
		kv := func(k, v string) {
			if v != "" {
				b = append(b, '\t')
				b = append(b, k...)
				b = append(b, '=')
				b = append(b, v...)
			}
		}
		kv("user", e.User(a.server))
		kv("ip", e.IP())
		kv("operation", e.Operation)
		kv("znode", e.Znode)
		kv("znode_type", e.ZnodeType)
		kv("acl", acl)
		kv("result", e.Result())
		b = append(b, '\n')
	case AuditJSON:
		j := AuditJSONEvent{Zxid: e.Zxid.String(), Time: FormatTime(e.Time), TimeMs: e.Time, Session: FormatSession(e.Session),
			Client: e.Client, User: e.User(a.server), Operation: e.Operation, Znode: e.Znode, ZnodeType: e.ZnodeType,
			ACL: acl, Result: e.Result(), ErrorCode: int32(e.Err), ByServer: e.ByServer}
		if e.Operation == "" {
			j.Operation = "unknown"
		}
		for _, id := range e.Ids {
			j.Ids = append(j.Ids, id.Scheme+":"+id.ID)
		}
		enc, err := json.Marshal(&j)
		if err != nil {
			return err
		}
		b = append(append(b, enc...), '\n')
	default:
		b = fmt.Appendf(b, "%s %s session=%s", FormatTime(e.Time), FormatZxid(e.Zxid), FormatSession(e.Session))
		switch {
		case e.ByServer:
			b = fmt.Appendf(b, " by=server")
		case e.Client == "" && e.Ids == nil:
			b = append(b, " client=? user=?"...)
		default:
			b = fmt.Appendf(b, " client=%s user=%s", orDash(e.Client), orDash(e.User(a.server)))
		}
		op := e.Operation
		if op == "" {
			op = "failed request (type not in the log)"
		}
		b = append(b, ' ')
		b = append(b, op...)
		if e.Znode != "" {
			b = append(b, ' ')
			b = append(b, e.Znode...)
		}
		if e.ZnodeType != "" {
			b = fmt.Appendf(b, " type=%s", e.ZnodeType)
		}
		if acl != "" {
			b = fmt.Appendf(b, " acl=%s", acl)
		}
		if e.Operation == AuditAddAuth {
			ids := make([]string, 0, len(e.Ids))
			for _, id := range e.Ids {
				ids = append(ids, id.Scheme+":"+id.ID)
			}
			b = fmt.Appendf(b, " ids=%s", strings.Join(ids, ","))
		}
		if e.Err == tree.CodeOK {
			b = append(b, " success"...)
		} else {
			b = fmt.Appendf(b, " failure err=%d(%s)", int32(e.Err), strings.TrimPrefix(e.Err.Error(), "zk: "))
		}
		b = append(b, '\n')
	}
	a.line = b
	_, err := a.w.Write(b)
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Flush writes out what is buffered.
func (a *AuditWriter) Flush() error { return a.w.Flush() }
