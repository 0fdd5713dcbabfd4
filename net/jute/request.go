package jute

import (
	"fmt"

	"zabd/tree"
)

// Special xids (ClientCnxn). Replies echo the request's xid; these mark
// frames that do not answer a numbered request.
const (
	XidNotification int32 = -1 // server → client watch event
	XidPing         int32 = -2 // ping request and its reply
	XidAuth         int32 = -4 // auth (AuthPacket) request and its reply
	XidSetWatches   int32 = -8 // setWatches/setWatches2 after a reconnect
)

// MaxMultiOps bounds the ops in one multi or multiRead request or reply.
// ZooKeeper has no count limit of its own (only jute.maxbuffer); 65536 is
// above what fits in a default-sized (1 MiB) frame, so only frames enlarged
// past the default can hit it. It caps the memory one request can pin.
const MaxMultiOps = 1 << 16

// RequestHeader starts every client frame after the handshake
// (proto.RequestHeader).
type RequestHeader struct {
	Xid int32
	Op  tree.Op
}

// DecodeRequest decodes one request frame body (without the length prefix):
// the RequestHeader, then the op's request record into the tree.Request
// fields tree/types.go lists for that op. req.Op is h.Op; req.Auth is never
// set (net fills it). Bytes after the record are ignored, as ZooKeeper
// ignores them.
//
// Ops with no request record (ping, closeSession, whoAmI) decode to a
// Request with only Op set. Reconfig's record (joining/leaving/new members,
// config id) is checked but not carried: tree.Request has no fields for it.
// A SASL token (GetSASLRequest) lands in req.Cred.
//
// Whenever the 8-byte header decodes, h is returned even with an error:
// an unknown op yields ErrUnknownOp (ZooKeeper replies Unimplemented and
// closes the session); a body that does not parse yields ErrMalformed
// (ZooKeeper replies MarshallingError to that xid and keeps the connection).
//
// Multi sub-ops are typed as ZooKeeper 3.8's MultiOperationRecord types
// them: a create/create2/createContainer record becomes createTTL if its
// flags are a TTL mode (TTL -1, which tree rejects), createContainer if
// they are the container mode, and create otherwise — NB: create2 inside a
// multi becomes create, so its result carries no stat; a createTTL record
// with non-TTL flags becomes create or createContainer (TTL dropped).
// getData/getChildren inside multiRead never set a watch (ZooKeeper drops
// the flag), so their Watch is false. A multi may hold only
// create*/delete/setData/check, a multiRead only getData/getChildren;
// anything else is ErrMalformed, as in ZooKeeper.
func DecodeRequest(b []byte) (RequestHeader, tree.Request, error) {
	d := Decoder{b: b, rec: "RequestHeader"}
	h := RequestHeader{Xid: d.Int(), Op: tree.Op(d.Int())}
	if d.err != nil {
		return RequestHeader{}, tree.Request{}, d.err
	}
	req := tree.Request{Op: h.Op}
	if !decodeRequestBody(&d, &req) {
		return h, tree.Request{Op: h.Op}, &DecodeError{
			Record: "RequestHeader", What: "type", Offset: 4,
			Detail: fmt.Sprintf("op %d (%v)", int32(h.Op), h.Op), Err: ErrUnknownOp,
		}
	}
	if d.err != nil {
		return h, tree.Request{Op: h.Op}, d.err
	}
	return h, req, nil
}

// decodeRequestBody fills req from the record for req.Op; false means the
// op is not one a client may send.
func decodeRequestBody(d *Decoder, req *tree.Request) bool {
	switch req.Op {
	case tree.OpCreate, tree.OpCreate2, tree.OpCreateContainer:
		d.record("CreateRequest")
		decodeCreate(d, req, false)
	case tree.OpCreateTTL:
		d.record("CreateTTLRequest")
		decodeCreate(d, req, true)
	case tree.OpDelete:
		d.record("DeleteRequest")
		req.Path = d.String()
		req.Version = d.Int()
	case tree.OpDeleteContainer:
		d.record("DeleteContainerRequest") // path as a buffer; same bytes as a ustring
		req.Path = d.String()
	case tree.OpExists, tree.OpGetData, tree.OpGetChildren, tree.OpGetChildren2:
		d.record(pathWatchRecord(req.Op))
		req.Path = d.String()
		req.Watch = d.Bool()
	case tree.OpSetData:
		d.record("SetDataRequest")
		req.Path = d.String()
		req.Data = d.Buffer()
		req.Version = d.Int()
	case tree.OpGetACL, tree.OpSync, tree.OpGetAllChildrenNumber, tree.OpGetEphemerals:
		d.record(pathWatchRecord(req.Op))
		req.Path = d.String()
	case tree.OpSetACL:
		d.record("SetACLRequest")
		req.Path = d.String()
		req.ACL = d.ACLs()
		req.Version = d.Int()
	case tree.OpCheck:
		d.record("CheckVersionRequest")
		req.Path = d.String()
		req.Version = d.Int()
	case tree.OpMulti, tree.OpMultiRead:
		decodeMulti(d, req)
	case tree.OpReconfig:
		d.record("ReconfigRequest")
		_ = d.String() // joiningServers
		_ = d.String() // leavingServers
		_ = d.String() // newMembers
		d.Long()       // curConfigId
	case tree.OpCheckWatches, tree.OpRemoveWatches:
		d.record(pathWatchRecord(req.Op))
		req.Path = d.String()
		req.WatcherType = tree.WatcherType(d.Int())
	case tree.OpAddWatch:
		d.record("AddWatchRequest")
		req.Path = d.String()
		req.WatchMode = tree.WatchMode(d.Int())
	case tree.OpAuth:
		d.record("AuthPacket")
		d.Int() // type: unused by ZooKeeper
		req.Scheme = d.String()
		req.Cred = d.Buffer()
	case tree.OpSASL:
		d.record("GetSASLRequest")
		req.Cred = d.Buffer()
	case tree.OpSetWatches:
		d.record("SetWatches")
		req.RelativeZxid = d.Long()
		req.DataWatches = d.Strings()
		req.ExistWatches = d.Strings()
		req.ChildWatches = d.Strings()
	case tree.OpSetWatches2:
		d.record("SetWatches2")
		req.RelativeZxid = d.Long()
		req.DataWatches = d.Strings()
		req.ExistWatches = d.Strings()
		req.ChildWatches = d.Strings()
		req.PersistentWatches = d.Strings()
		req.PersistentRecursiveWatches = d.Strings()
	case tree.OpPing, tree.OpCloseSession, tree.OpWhoAmI:
		// no record
	default:
		return false
	}
	return true
}

func decodeCreate(d *Decoder, req *tree.Request, ttl bool) {
	req.Path, req.Data = d.StringAndBuffer()
	req.ACL = d.ACLs()
	req.Mode = tree.CreateMode(d.Int())
	if ttl {
		req.TTL = d.Long()
	}
}

func isTTLMode(m tree.CreateMode) bool {
	return m == tree.ModePersistentTTL || m == tree.ModePersistentSeqTTL
}

// multiCreateOp types a create sub-op from its flags (3.8's Op.Create).
func multiCreateOp(m tree.CreateMode) tree.Op {
	switch {
	case isTTLMode(m):
		return tree.OpCreateTTL
	case m == tree.ModeContainer:
		return tree.OpCreateContainer
	}
	return tree.OpCreate
}

func decodeMulti(d *Decoder, req *tree.Request) {
	for {
		d.record("MultiHeader")
		at := d.off
		typ := tree.Op(d.Int())
		done := d.Bool()
		d.Int() // err: -1 in requests, unused
		if d.err != nil || done {
			return
		}
		if len(req.Ops) >= MaxMultiOps {
			d.off = at
			d.fail(ErrTooLarge, "MultiHeader", fmt.Sprintf("more than %d ops", MaxMultiOps))
			return
		}
		sub, ok := decodeMultiOp(d, req.Op, typ)
		if !ok {
			d.off = at
			d.fail(ErrMalformed, "type", fmt.Sprintf("op %d (%v) not allowed in %v", int32(typ), typ, req.Op))
			return
		}
		if d.err != nil {
			return
		}
		req.Ops = append(req.Ops, sub)
	}
}

func decodeMultiOp(d *Decoder, parent, typ tree.Op) (tree.Request, bool) {
	var sub tree.Request
	if parent == tree.OpMulti {
		switch typ {
		case tree.OpCreate, tree.OpCreate2, tree.OpCreateContainer:
			d.record("CreateRequest")
			decodeCreate(d, &sub, false)
			sub.Op = multiCreateOp(sub.Mode)
			if sub.Op == tree.OpCreateTTL {
				sub.TTL = -1 // CreateOptions' default: no TTL given
			}
		case tree.OpCreateTTL:
			d.record("CreateTTLRequest")
			decodeCreate(d, &sub, true)
			sub.Op = multiCreateOp(sub.Mode)
			if sub.Op != tree.OpCreateTTL {
				sub.TTL = 0
			}
		case tree.OpDelete:
			d.record("DeleteRequest")
			sub.Op = typ
			sub.Path = d.String()
			sub.Version = d.Int()
		case tree.OpSetData:
			d.record("SetDataRequest")
			sub.Op = typ
			sub.Path = d.String()
			sub.Data = d.Buffer()
			sub.Version = d.Int()
		case tree.OpCheck:
			d.record("CheckVersionRequest")
			sub.Op = typ
			sub.Path = d.String()
			sub.Version = d.Int()
		default:
			return sub, false
		}
		return sub, true
	}
	switch typ {
	case tree.OpGetData, tree.OpGetChildren:
		d.record(typ.String() + "Request")
		sub.Op = typ
		sub.Path = d.String()
		d.Bool() // watch: ignored by ZooKeeper inside multiRead
	default:
		return sub, false
	}
	return sub, true
}

// AppendRequest appends a request frame body (no length prefix): the
// RequestHeader{h.Xid, h.Op} and the record h.Op calls for, built from req
// (req.Op is not consulted; sub-ops of a multi use their own Op). Ops
// without a record (ping, closeSession, whoAmI) and ops this codec does not
// know are written as the header alone; an unknown sub-op of a multi as its
// MultiHeader alone, which lets tests send what a server must reject. An
// AuthPacket's type is written as 0 and reconfig's record as empty strings
// with config id -1, since tree.Request does not carry them.
func AppendRequest(dst []byte, h RequestHeader, req tree.Request) []byte {
	dst = AppendInt(dst, h.Xid)
	dst = AppendInt(dst, int32(h.Op))
	switch h.Op {
	case tree.OpCreate, tree.OpCreate2, tree.OpCreateContainer:
		dst = appendCreate(dst, req, false)
	case tree.OpCreateTTL:
		dst = appendCreate(dst, req, true)
	case tree.OpDelete, tree.OpCheck:
		dst = AppendString(dst, req.Path)
		dst = AppendInt(dst, req.Version)
	case tree.OpDeleteContainer:
		dst = AppendString(dst, req.Path)
	case tree.OpExists, tree.OpGetData, tree.OpGetChildren, tree.OpGetChildren2:
		dst = AppendString(dst, req.Path)
		dst = AppendBool(dst, req.Watch)
	case tree.OpSetData:
		dst = AppendString(dst, req.Path)
		dst = AppendBuffer(dst, req.Data)
		dst = AppendInt(dst, req.Version)
	case tree.OpGetACL, tree.OpSync, tree.OpGetAllChildrenNumber, tree.OpGetEphemerals:
		dst = AppendString(dst, req.Path)
	case tree.OpSetACL:
		dst = AppendString(dst, req.Path)
		dst = AppendACLs(dst, req.ACL)
		dst = AppendInt(dst, req.Version)
	case tree.OpMulti, tree.OpMultiRead:
		for _, sub := range req.Ops {
			dst = appendMultiHeader(dst, sub.Op, false, -1)
			dst = appendMultiOp(dst, sub)
		}
		dst = appendMultiHeader(dst, -1, true, -1)
	case tree.OpReconfig:
		dst = AppendString(dst, "")
		dst = AppendString(dst, "")
		dst = AppendString(dst, "")
		dst = AppendLong(dst, -1)
	case tree.OpCheckWatches, tree.OpRemoveWatches:
		dst = AppendString(dst, req.Path)
		dst = AppendInt(dst, int32(req.WatcherType))
	case tree.OpAddWatch:
		dst = AppendString(dst, req.Path)
		dst = AppendInt(dst, int32(req.WatchMode))
	case tree.OpAuth:
		dst = AppendInt(dst, 0)
		dst = AppendString(dst, req.Scheme)
		dst = AppendBuffer(dst, req.Cred)
	case tree.OpSASL:
		dst = AppendBuffer(dst, req.Cred)
	case tree.OpSetWatches, tree.OpSetWatches2:
		dst = AppendLong(dst, req.RelativeZxid)
		dst = AppendStrings(dst, req.DataWatches)
		dst = AppendStrings(dst, req.ExistWatches)
		dst = AppendStrings(dst, req.ChildWatches)
		if h.Op == tree.OpSetWatches2 {
			dst = AppendStrings(dst, req.PersistentWatches)
			dst = AppendStrings(dst, req.PersistentRecursiveWatches)
		}
	}
	return dst
}

func appendCreate(dst []byte, req tree.Request, ttl bool) []byte {
	dst = AppendString(dst, req.Path)
	dst = AppendBuffer(dst, req.Data)
	dst = AppendACLs(dst, req.ACL)
	dst = AppendInt(dst, int32(req.Mode))
	if ttl {
		dst = AppendLong(dst, req.TTL)
	}
	return dst
}

func appendMultiHeader(dst []byte, op tree.Op, done bool, err int32) []byte {
	dst = AppendInt(dst, int32(op))
	dst = AppendBool(dst, done)
	return AppendInt(dst, err)
}

// appendMultiOp writes the record of one multi sub-op (MultiOperationRecord).
func appendMultiOp(dst []byte, sub tree.Request) []byte {
	switch sub.Op {
	case tree.OpCreate, tree.OpCreate2, tree.OpCreateContainer:
		return appendCreate(dst, sub, false)
	case tree.OpCreateTTL:
		return appendCreate(dst, sub, true)
	case tree.OpDelete, tree.OpCheck:
		dst = AppendString(dst, sub.Path)
		return AppendInt(dst, sub.Version)
	case tree.OpSetData:
		dst = AppendString(dst, sub.Path)
		dst = AppendBuffer(dst, sub.Data)
		return AppendInt(dst, sub.Version)
	case tree.OpGetData, tree.OpGetChildren:
		dst = AppendString(dst, sub.Path)
		return AppendBool(dst, sub.Watch)
	}
	return dst
}

// pathWatchRecord names the record of a path-and-watch read, as
// ZooKeeper's jute does, without building the name per request.
func pathWatchRecord(op tree.Op) string {
	switch op {
	case tree.OpExists:
		return "ExistsRequest"
	case tree.OpGetData:
		return "GetDataRequest"
	case tree.OpGetChildren:
		return "GetChildrenRequest"
	}
	return "GetChildren2Request"
}
