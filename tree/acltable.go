package tree

import (
	"encoding/binary"
	"strings"
)

// aclRef names one list in a Tree's aclTable.
type aclRef uint32

// The lists every tree has, never counted or freed.
const (
	aclNil  aclRef = iota // a nil list
	aclOpen               // OpenACLUnsafe
	aclRead               // ReadACLUnsafe
	aclFirstCounted
)

// aclTable holds each distinct ACL list the tree's znodes use once, as
// ZooKeeper's ReferenceCountedACLCache does: a znode stores a 4-byte
// aclRef, and a million znodes with the same ACL share one list.
//
// Invariants: byKey maps the key of every counted list in use to its ref;
// refs counts the znodes (live, or removed and not yet reaped) holding
// it; a slot whose count falls to 0 is emptied and reused. A list is never
// mutated once in the table.
type aclTable struct {
	entries []aclEntry
	byKey   map[string]aclRef
	free    []aclRef
	scratch []byte // key of the list being looked up
}

type aclEntry struct {
	list []ACL
	key  string
	refs int64
}

func newACLTable() aclTable {
	return aclTable{
		entries: []aclEntry{aclNil: {}, aclOpen: {list: OpenACLUnsafe}, aclRead: {list: ReadACLUnsafe}},
		byKey:   make(map[string]aclRef),
	}
}

// list is the list r names.
func (a *aclTable) list(r aclRef) []ACL { return a.entries[r].list }

// acquire returns the ref of a list equal to acl (nil and empty kept
// apart), adding a copy of acl to the table if it has none, and counts
// one more holder. The copy does not pin the buffer acl was decoded from.
func (a *aclTable) acquire(acl []ACL) aclRef {
	if acl == nil {
		return aclNil
	}
	if len(acl) == 1 && acl[0].ID == AnyoneID {
		switch acl[0].Perms {
		case PermAll:
			return aclOpen
		case PermRead:
			return aclRead
		}
	}
	a.scratch = appendACLKey(a.scratch[:0], acl)
	if r, ok := a.byKey[string(a.scratch)]; ok {
		a.entries[r].refs++
		return r
	}
	e := aclEntry{list: make([]ACL, len(acl)), key: string(a.scratch), refs: 1}
	for i, x := range acl {
		e.list[i] = ACL{Perms: x.Perms, ID: Id{Scheme: strings.Clone(x.ID.Scheme), ID: strings.Clone(x.ID.ID)}}
	}
	var r aclRef
	if n := len(a.free); n > 0 {
		r, a.free = a.free[n-1], a.free[:n-1]
		a.entries[r] = e
	} else {
		r = aclRef(len(a.entries))
		a.entries = append(a.entries, e)
	}
	a.byKey[e.key] = r
	return r
}

// release counts one holder of r fewer, freeing its slot at zero.
func (a *aclTable) release(r aclRef) {
	if r < aclFirstCounted {
		return
	}
	e := &a.entries[r]
	if e.refs--; e.refs > 0 {
		return
	}
	delete(a.byKey, e.key)
	*e = aclEntry{}
	a.free = append(a.free, r)
}

// distinct is the number of counted lists in use.
func (a *aclTable) distinct() int { return len(a.byKey) }

// appendACLKey appends an encoding of acl that two lists share exactly
// when they are equal.
func appendACLKey(b []byte, acl []ACL) []byte {
	for _, x := range acl {
		b = binary.LittleEndian.AppendUint32(b, uint32(x.Perms))
		b = binary.AppendUvarint(b, uint64(len(x.ID.Scheme)))
		b = append(b, x.ID.Scheme...)
		b = binary.AppendUvarint(b, uint64(len(x.ID.ID)))
		b = append(b, x.ID.ID...)
	}
	return b
}
