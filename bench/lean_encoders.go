package bench

import (
	"strconv"
	"sync"

	"zabd/net/jute"
	"zabd/tree"
)

// The request records the lean client sends, built from pre-encoded parts
// so a request is a few copies: every key's path record is encoded once per
// run (env.keyRecords), the value and ACL once (env.templates).

// templates are the run's constant record parts.
type templates struct {
	value    []byte // the value as a jute buffer
	worldACL []byte // [world:anyone, all] as a jute vector
}

// leanParts holds what the encoders share; built on first use.
type leanParts struct {
	once sync.Once
	t    templates
	keys [][]byte // keyRecords[i]: key i's path as a jute string
}

func (e *env) templates() templates {
	e.parts.once.Do(func() {
		e.parts.t.value = jute.AppendBuffer(nil, e.value)
		e.parts.t.worldACL = jute.AppendACLs(nil, []tree.ACL{{Perms: tree.PermAll, ID: tree.AnyoneID}})
		e.parts.keys = make([][]byte, e.cfg.KeySpace)
		for i := range e.parts.keys {
			e.parts.keys[i] = jute.AppendString(nil, e.key(int64(i)))
		}
	})
	return e.parts.t
}

// keyRecord is key i's path as a jute string.
func (e *env) keyRecord(i int64) []byte {
	e.templates()
	return e.parts.keys[i]
}

// appendSetData appends a SetDataRequest of key i with the run's value and
// version -1.
func appendSetData(dst []byte, e *env, t templates, i int64) []byte {
	dst = append(dst, e.keyRecord(i)...)
	dst = append(dst, t.value...)
	return jute.AppendInt(dst, -1)
}

// appendRead appends a GetDataRequest/ExistsRequest of key i, no watch.
func appendRead(dst []byte, e *env, i int64) []byte {
	dst = append(dst, e.keyRecord(i)...)
	return jute.AppendBool(dst, false)
}

func (c Create) encoder(e *env, _ int) requestEncoder {
	t := e.templates()
	if c.Keyed {
		prefix := e.dir + "/c"
		return func(dst []byte, slot int64) ([]byte, tree.Op) {
			var digits [20]byte
			num := strconv.AppendInt(digits[:0], slot, 10)
			dst = jute.AppendInt(dst, int32(len(prefix)+len(num)))
			dst = append(dst, prefix...)
			dst = append(dst, num...)
			dst = append(dst, t.value...)
			dst = append(dst, t.worldACL...)
			return jute.AppendInt(dst, int32(tree.ModePersistent)), tree.OpCreate
		}
	}
	// Sequential: every request is the same record.
	rec := jute.AppendString(nil, e.dir+"/seq-")
	rec = append(rec, t.value...)
	rec = append(rec, t.worldACL...)
	rec = jute.AppendInt(rec, int32(tree.ModePersistentSequential))
	return func(dst []byte, _ int64) ([]byte, tree.Op) {
		return append(dst, rec...), tree.OpCreate
	}
}

func (Set) encoder(e *env, _ int) requestEncoder {
	t := e.templates()
	return func(dst []byte, slot int64) ([]byte, tree.Op) {
		return appendSetData(dst, e, t, e.pick(slot, 0)), tree.OpSetData
	}
}

func (Get) encoder(e *env, _ int) requestEncoder {
	e.templates()
	return func(dst []byte, slot int64) ([]byte, tree.Op) {
		return appendRead(dst, e, e.pick(slot, 0)), tree.OpGetData
	}
}

func (Exists) encoder(e *env, _ int) requestEncoder {
	e.templates()
	return func(dst []byte, slot int64) ([]byte, tree.Op) {
		return appendRead(dst, e, e.pick(slot, 0)), tree.OpExists
	}
}

func (Delete) encoder(e *env, _ int) requestEncoder {
	e.templates()
	return func(dst []byte, slot int64) ([]byte, tree.Op) {
		dst = append(dst, e.keyRecord(slot)...)
		return jute.AppendInt(dst, -1), tree.OpDelete
	}
}

func (m Mixed) encoder(e *env, _ int) requestEncoder {
	t := e.templates()
	return func(dst []byte, slot int64) ([]byte, tree.Op) {
		key := e.pick(slot, 0)
		if e.unit(slot, 1) < m.ReadRatio {
			return appendRead(dst, e, key), tree.OpGetData
		}
		return appendSetData(dst, e, t, key), tree.OpSetData
	}
}

func (m Multi) encoder(e *env, _ int) requestEncoder {
	t := e.templates()
	k := max(m.OpsPerTxn, 1)
	return func(dst []byte, slot int64) ([]byte, tree.Op) {
		for j := range k {
			dst = appendMultiHeader(dst, tree.OpSetData, false)
			dst = appendSetData(dst, e, t, e.pick(slot, uint64(j)))
		}
		return appendMultiHeader(dst, -1, true), tree.OpMulti
	}
}

// appendMultiHeader appends a MultiHeader (type, done, err -1).
func appendMultiHeader(dst []byte, op tree.Op, done bool) []byte {
	dst = jute.AppendInt(dst, int32(op))
	dst = jute.AppendBool(dst, done)
	return jute.AppendInt(dst, -1)
}
