package jute

import (
	"encoding/binary"

	"zabd/tree"
)

// The Append functions write jute primitives in BinaryOutputArchive's
// encoding and return the extended slice, in the style of strconv.Append*.
// They never fail.

// AppendInt appends a jute int (4 bytes, big-endian).
func AppendInt(dst []byte, v int32) []byte { return binary.BigEndian.AppendUint32(dst, uint32(v)) }

// AppendLong appends a jute long (8 bytes, big-endian).
func AppendLong(dst []byte, v int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) }

// AppendBool appends a jute boolean (one byte, 1 or 0).
func AppendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// AppendBuffer appends a jute buffer; nil is written as null (length -1),
// a non-nil empty slice as length 0.
func AppendBuffer(dst []byte, b []byte) []byte {
	if b == nil {
		return AppendInt(dst, -1)
	}
	dst = AppendInt(dst, int32(len(b)))
	return append(dst, b...)
}

// AppendString appends a jute ustring (never null: "" is length 0).
func AppendString(dst []byte, s string) []byte {
	dst = AppendInt(dst, int32(len(s)))
	return append(dst, s...)
}

// AppendStrings appends a vector<ustring>; nil is written as null (-1).
func AppendStrings(dst []byte, ss []string) []byte {
	if ss == nil {
		return AppendInt(dst, -1)
	}
	dst = AppendInt(dst, int32(len(ss)))
	for _, s := range ss {
		dst = AppendString(dst, s)
	}
	return dst
}

// appendStringsNonNull writes nil as an empty vector: for response fields
// ZooKeeper always fills (children, ephemerals), where a Java client would
// trip over null.
func appendStringsNonNull(dst []byte, ss []string) []byte {
	if ss == nil {
		return AppendInt(dst, 0)
	}
	return AppendStrings(dst, ss)
}

// AppendACLs appends a vector<data.ACL>; nil is written as null (-1).
func AppendACLs(dst []byte, acls []tree.ACL) []byte {
	if acls == nil {
		return AppendInt(dst, -1)
	}
	dst = AppendInt(dst, int32(len(acls)))
	for _, a := range acls {
		dst = AppendInt(dst, a.Perms)
		dst = AppendString(dst, a.ID.Scheme)
		dst = AppendString(dst, a.ID.ID)
	}
	return dst
}

// AppendStat appends a data.Stat (68 bytes).
func AppendStat(dst []byte, s tree.Stat) []byte {
	dst = AppendLong(dst, s.Czxid)
	dst = AppendLong(dst, s.Mzxid)
	dst = AppendLong(dst, s.Ctime)
	dst = AppendLong(dst, s.Mtime)
	dst = AppendInt(dst, s.Version)
	dst = AppendInt(dst, s.Cversion)
	dst = AppendInt(dst, s.Aversion)
	dst = AppendLong(dst, s.EphemeralOwner)
	dst = AppendInt(dst, s.DataLength)
	dst = AppendInt(dst, s.NumChildren)
	return AppendLong(dst, s.Pzxid)
}

// appendStatPtr writes a zero Stat for nil (ZooKeeper never sends a null
// stat where a record holds one).
func appendStatPtr(dst []byte, s *tree.Stat) []byte {
	if s == nil {
		return AppendStat(dst, tree.Stat{})
	}
	return AppendStat(dst, *s)
}
