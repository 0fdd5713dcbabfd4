package logtool

import (
	"strconv"
	"strings"
	"time"

	"zabd/tools/logread"
	"zabd/tree"
)

// textWriter formats txns as appendText does, straight from the decoded
// txn with strconv and a time stamp cache (no TxnJSON, no fmt, no
// allocation per txn): dump's text is most of its time.
type textWriter struct {
	sec    int64  // the second cached in prefix, -1 none
	prefix []byte // "2006-01-02T15:04:05" of sec
}

func newTextWriter() *textWriter { return &textWriter{sec: -1} }

func appendHex(b []byte, v uint64) []byte {
	return strconv.AppendUint(append(b, '0', 'x'), v, 16)
}

// appendTime appends FormatTime(ms).
func (w *textWriter) appendTime(b []byte, ms int64) []byte {
	sec, frac := ms/1000, ms%1000
	if frac < 0 {
		sec, frac = sec-1, frac+1000
	}
	if sec != w.sec {
		w.sec = sec
		w.prefix = time.Unix(sec, 0).UTC().AppendFormat(w.prefix[:0], "2006-01-02T15:04:05")
	}
	b = append(b, w.prefix...)
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10), 'Z')
}

// appendTxn appends the text of one decoded txn (and its sub-ops).
func (w *textWriter) appendTxn(b []byte, r *logread.Record, t *tree.Txn) []byte {
	z := r.Zxid
	b = appendHex(b, uint64(z))
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(z.Epoch()), 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, uint64(z.Counter()), 10)
	b = append(b, ' ')
	b = w.appendTime(b, t.Time)
	b = append(b, " session="...)
	b = appendHex(b, uint64(t.Session))
	b = append(b, " cxid="...)
	b = strconv.AppendInt(b, int64(t.Cxid), 10)
	b = appendOpTxn(b, t)
	if len(t.Txns) > 0 {
		b = append(b, " ops="...)
		b = strconv.AppendInt(b, int64(len(t.Txns)), 10)
	}
	b = append(b, " size="...)
	b = strconv.AppendInt(b, int64(len(r.Data)), 10)
	b = append(b, 'B')
	if r.Offset >= 0 {
		b = append(b, " at="...)
		b = append(b, r.File...)
		b = append(b, ':')
		b = strconv.AppendInt(b, r.Offset, 10)
	}
	b = append(b, '\n')
	for i := range t.Txns {
		b = append(b, "    ["...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ']')
		b = appendOpTxn(b, &t.Txns[i])
		b = append(b, '\n')
	}
	return b
}

// appendOpTxn appends what appendOpText does for opJSON(t), in the same
// order: type, failed type, path, data, version, acl, kind, sequential,
// mode, ttl, pcversion, timeout, client, ids, err.
func appendOpTxn(b []byte, t *tree.Txn) []byte {
	b = append(b, ' ')
	b = append(b, t.Type.String()...)
	var path, data, version, acl, create, failed bool
	switch t.Type {
	case tree.OpCreate, tree.OpCreate2, tree.OpCreateContainer, tree.OpCreateTTL:
		path, data, acl, create = true, true, true, true
	case tree.OpDelete, tree.OpDeleteContainer:
		path = true
	case tree.OpSetData, tree.OpReconfig:
		path, data, version = true, true, true
	case tree.OpSetACL:
		path, acl, version = true, true, true
	case tree.OpCheck:
		path, version = true, true
	case tree.OpSessionSecret:
		data = true
	case tree.OpError:
		if t.FailedOp != 0 {
			failed, path = true, true
			acl = t.ACL != nil
			b = append(b, " of "...)
			b = append(b, t.FailedOp.String()...)
		}
	}
	if path {
		b = append(b, ' ')
		b = append(b, t.Path...)
	}
	if data {
		b = append(b, " data="...)
		b = strconv.AppendInt(b, int64(len(t.Data)), 10)
		b = append(b, 'B')
	}
	if version {
		b = append(b, " version="...)
		b = strconv.AppendInt(b, int64(t.Version), 10)
	}
	if acl {
		b = append(b, " acl="...)
		for i, a := range t.ACL {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, a.ID.Scheme...)
			b = append(b, ':')
			b = append(b, a.ID.ID...)
			b = append(b, ':')
			b = appendPerms(b, a.Perms)
		}
	}
	if create {
		b = append(b, " kind="...)
		b = append(b, t.Kind.String()...)
		if t.Sequential {
			b = append(b, " sequential"...)
		}
	}
	if failed && isCreate(t.FailedOp) {
		b = append(b, " mode="...)
		b = append(b, CreateModeName(t.FailedMode)...)
	}
	if create {
		if t.Kind == tree.KindTTL {
			b = append(b, " ttl="...)
			b = strconv.AppendInt(b, t.TTL, 10)
			b = append(b, "ms"...)
		}
		b = append(b, " pcversion="...)
		b = strconv.AppendInt(b, int64(t.ParentCversion), 10)
	}
	switch t.Type {
	case tree.OpCreateSession:
		b = append(b, " timeout="...)
		b = strconv.AppendInt(b, int64(t.Timeout), 10)
		b = append(b, "ms"...)
		if t.Client != "" {
			b = append(b, " client="...)
			b = append(b, t.Client...)
		}
	case tree.OpAuth:
		b = append(b, " ids="...)
		for i, id := range t.Ids {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, id.Scheme...)
			b = append(b, ':')
			b = append(b, id.ID...)
		}
	case tree.OpError:
		b = append(b, " err="...)
		b = strconv.AppendInt(b, int64(t.Err), 10)
		b = append(b, '(')
		b = append(b, strings.TrimPrefix(t.Err.Error(), "zk: ")...)
		b = append(b, ')')
	}
	return b
}

// appendPerms appends ZooKeeper's letters of perms (zkcli.PermString).
func appendPerms(b []byte, perms int32) []byte {
	for _, p := range [...]struct {
		bit int32
		c   byte
	}{{tree.PermCreate, 'c'}, {tree.PermDelete, 'd'}, {tree.PermRead, 'r'}, {tree.PermWrite, 'w'}, {tree.PermAdmin, 'a'}} {
		if perms&p.bit != 0 {
			b = append(b, p.c)
		}
	}
	return b
}
