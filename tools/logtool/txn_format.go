package logtool

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"zabd/log"
	"zabd/tools/logread"
	"zabd/tools/zkcli"
	"zabd/tree"
)

// TxnJSON is the --json form of one logged txn: one object per line. The
// schema is stable (README, "zabctl log dump --json"): the fields without
// omitempty are in every object; the others appear exactly for the txn
// types that carry them (OpJSON's comments say which).
type TxnJSON struct {
	Zxid    string `json:"zxid"` // "0x100000003"
	Epoch   uint32 `json:"epoch"`
	Counter uint32 `json:"counter"`
	Time    string `json:"time"` // RFC 3339, UTC, milliseconds
	TimeMs  int64  `json:"time_ms"`
	Session string `json:"session"` // "0x..."
	Cxid    int32  `json:"cxid"`
	// RecordBytes is the size of the encoded txn in the log.
	RecordBytes int `json:"record_bytes"`
	// File and Offset say where the record is: a native segment and the
	// frame's offset in it; for pebble and badger the store and -1.
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	OpJSON
	// Ops are a multi's sub-ops, in request order.
	Ops []OpJSON `json:"ops,omitempty"`
	// DecodeError is set (and Type is "?") when the record does not
	// decode as a txn.
	DecodeError string `json:"decode_error,omitempty"`
}

// OpJSON is what a txn or a multi's sub-op carries besides the header.
type OpJSON struct {
	Type string `json:"type"`
	// Path: create, create2, createContainer, createTTL, delete,
	// deleteContainer, setData, reconfig, setACL, check.
	Path *string `json:"path,omitempty"`
	// DataBytes: the create types, setData, reconfig, sessionSecret (the
	// secret itself is never printed).
	DataBytes *int `json:"data_bytes,omitempty"`
	// ACL: the create types and setACL, as "scheme:id:perms".
	ACL []string `json:"acl,omitempty"`
	// Kind, ParentCversion: the create types; TTLMs: createTTL.
	Kind           string `json:"kind,omitempty"`
	TTLMs          *int64 `json:"ttl_ms,omitempty"`
	ParentCversion *int32 `json:"parent_cversion,omitempty"`
	// Version: setData and reconfig (the new version), setACL (the new
	// aversion), check (the checked version + 1).
	Version *int32 `json:"version,omitempty"`
	// TimeoutMs: createSession.
	TimeoutMs *int32 `json:"timeout_ms,omitempty"`
	// ErrorCode: error (a failed request, a failed multi's sub-ops).
	ErrorCode *int32 `json:"error_code,omitempty"`
	// Sequential: a create whose request asked for a sequential name
	// (logged since txn format v2; absent otherwise).
	Sequential bool `json:"sequential,omitempty"`
	// Client: createSession, the client's address (host:port), when the
	// log has it (since txn format v2).
	Client string `json:"client,omitempty"`
	// Ids: auth, every identity the session is authenticated as from
	// then on, as "scheme:id" ("ip:127.0.0.1", "digest:alice:<hash>").
	Ids []string `json:"ids,omitempty"`
	// FailedType: error outside a multi, the type of the request that
	// failed (since txn format v2), with its path in Path, its create
	// mode in CreateMode (creates) and the ACL it asked for (setACL).
	FailedType string `json:"failed_type,omitempty"`
	CreateMode string `json:"create_mode,omitempty"`
}

// FormatZxid writes z as hex and epoch/counter: "0x100000003 1/3".
func FormatZxid(z log.Zxid) string { return fmt.Sprintf("%v %d/%d", z, z.Epoch(), z.Counter()) }

// FormatTime writes ms since the Unix epoch in RFC 3339, UTC, with
// milliseconds.
func FormatTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// FormatSession writes a session id as ZooKeeper does: 0x and hex.
func FormatSession(s int64) string { return "0x" + strconv.FormatUint(uint64(s), 16) }

// txnJSON builds the JSON form of a decoded txn (or of an undecodable
// record when err is set).
func txnJSON(r logread.Record, t tree.Txn, err error) TxnJSON {
	j := TxnJSON{
		Zxid: r.Zxid.String(), Epoch: r.Zxid.Epoch(), Counter: r.Zxid.Counter(),
		RecordBytes: len(r.Data), File: r.File, Offset: r.Offset,
	}
	if err != nil {
		j.Type, j.DecodeError = "?", err.Error()
		return j
	}
	j.Time, j.TimeMs = FormatTime(t.Time), t.Time
	j.Session, j.Cxid = FormatSession(t.Session), t.Cxid
	j.OpJSON = opJSON(&t)
	for i := range t.Txns {
		j.Ops = append(j.Ops, opJSON(&t.Txns[i]))
	}
	return j
}

func opJSON(t *tree.Txn) OpJSON {
	o := OpJSON{Type: t.Type.String()}
	path := func() { p := t.Path; o.Path = &p }
	data := func() { n := len(t.Data); o.DataBytes = &n }
	version := func() { v := t.Version; o.Version = &v }
	switch t.Type {
	case tree.OpCreate, tree.OpCreate2, tree.OpCreateContainer, tree.OpCreateTTL:
		path()
		data()
		o.ACL = formatACL(t.ACL)
		o.Kind = t.Kind.String()
		if t.Kind == tree.KindTTL {
			ttl := t.TTL
			o.TTLMs = &ttl
		}
		pc := t.ParentCversion
		o.ParentCversion = &pc
		o.Sequential = t.Sequential
	case tree.OpDelete, tree.OpDeleteContainer:
		path()
	case tree.OpSetData, tree.OpReconfig:
		path()
		data()
		version()
	case tree.OpSetACL:
		path()
		o.ACL = formatACL(t.ACL)
		version()
	case tree.OpCheck:
		path()
		version()
	case tree.OpCreateSession:
		to := t.Timeout
		o.TimeoutMs = &to
		o.Client = t.Client
	case tree.OpSessionSecret:
		data()
	case tree.OpAuth:
		o.Ids = make([]string, 0, len(t.Ids))
		for _, id := range t.Ids {
			o.Ids = append(o.Ids, id.Scheme+":"+id.ID)
		}
	case tree.OpError:
		c := int32(t.Err)
		o.ErrorCode = &c
		if t.FailedOp != 0 {
			o.FailedType = t.FailedOp.String()
			path()
			if isCreate(t.FailedOp) {
				o.CreateMode = CreateModeName(t.FailedMode)
			}
			if t.ACL != nil {
				o.ACL = formatACL(t.ACL)
			}
		}
	}
	return o
}

func isCreate(op tree.Op) bool {
	switch op {
	case tree.OpCreate, tree.OpCreate2, tree.OpCreateContainer, tree.OpCreateTTL:
		return true
	}
	return false
}

// CreateModeName is ZooKeeper's name of a create mode, lower case, as its
// audit log writes it (znode_type): persistent, persistent_sequential,
// ephemeral, ephemeral_sequential, container, persistent_with_ttl,
// persistent_sequential_with_ttl.
func CreateModeName(m tree.CreateMode) string {
	switch m {
	case tree.ModePersistent:
		return "persistent"
	case tree.ModeEphemeral:
		return "ephemeral"
	case tree.ModePersistentSequential:
		return "persistent_sequential"
	case tree.ModeEphemeralSequential:
		return "ephemeral_sequential"
	case tree.ModeContainer:
		return "container"
	case tree.ModePersistentTTL:
		return "persistent_with_ttl"
	case tree.ModePersistentSeqTTL:
		return "persistent_sequential_with_ttl"
	}
	return fmt.Sprintf("mode(%d)", int32(m))
}

func formatACL(acl []tree.ACL) []string {
	out := make([]string, 0, len(acl))
	for _, a := range acl {
		out = append(out, a.ID.Scheme+":"+a.ID.ID+":"+zkcli.PermString(a.Perms))
	}
	return out
}

// appendText appends the one-line text form of a txn (and, for a multi,
// one indented line per sub-op) to b:
//
//	0x100000003 1/3 2026-11-22T01:40:22.123Z session=0x1000a2b3c0000 cxid=0 create /app data=5B acl=world:anyone:cdrwa kind=persistent pcversion=1 size=48B at=log/log.0000000100000001:1234
func appendText(b []byte, j *TxnJSON) []byte {
	b = fmt.Appendf(b, "%s %d/%d", j.Zxid, j.Epoch, j.Counter)
	if j.DecodeError != "" {
		b = fmt.Appendf(b, " UNDECODABLE (%s) size=%dB", j.DecodeError, j.RecordBytes)
	} else {
		b = fmt.Appendf(b, " %s session=%s cxid=%d", j.Time, j.Session, j.Cxid)
		b = appendOpText(b, &j.OpJSON)
		if len(j.Ops) > 0 {
			b = fmt.Appendf(b, " ops=%d", len(j.Ops))
		}
		b = fmt.Appendf(b, " size=%dB", j.RecordBytes)
	}
	if j.Offset >= 0 {
		b = fmt.Appendf(b, " at=%s:%d", j.File, j.Offset)
	}
	b = append(b, '\n')
	for i := range j.Ops {
		b = fmt.Appendf(b, "    [%d]", i)
		b = appendOpText(b, &j.Ops[i])
		b = append(b, '\n')
	}
	return b
}

func appendOpText(b []byte, o *OpJSON) []byte {
	b = append(b, ' ')
	b = append(b, o.Type...)
	if o.FailedType != "" {
		b = append(b, " of "...)
		b = append(b, o.FailedType...)
	}
	if o.Path != nil {
		b = append(b, ' ')
		b = append(b, *o.Path...)
	}
	if o.DataBytes != nil {
		b = fmt.Appendf(b, " data=%dB", *o.DataBytes)
	}
	if o.Version != nil {
		b = fmt.Appendf(b, " version=%d", *o.Version)
	}
	if o.ACL != nil {
		b = fmt.Appendf(b, " acl=%s", strings.Join(o.ACL, ","))
	}
	if o.Kind != "" {
		b = fmt.Appendf(b, " kind=%s", o.Kind)
	}
	if o.Sequential {
		b = append(b, " sequential"...)
	}
	if o.CreateMode != "" {
		b = fmt.Appendf(b, " mode=%s", o.CreateMode)
	}
	if o.TTLMs != nil {
		b = fmt.Appendf(b, " ttl=%dms", *o.TTLMs)
	}
	if o.ParentCversion != nil {
		b = fmt.Appendf(b, " pcversion=%d", *o.ParentCversion)
	}
	if o.TimeoutMs != nil {
		b = fmt.Appendf(b, " timeout=%dms", *o.TimeoutMs)
	}
	if o.Client != "" {
		b = fmt.Appendf(b, " client=%s", o.Client)
	}
	if o.Ids != nil {
		b = fmt.Appendf(b, " ids=%s", strings.Join(o.Ids, ","))
	}
	if o.ErrorCode != nil {
		b = fmt.Appendf(b, " err=%d(%s)", *o.ErrorCode, strings.TrimPrefix(tree.Code(*o.ErrorCode).Error(), "zk: "))
	}
	return b
}
