package jute

import (
	"fmt"

	"zabd/tree"
)

// ReplyHeader starts every server frame after the handshake
// (proto.ReplyHeader).
type ReplyHeader struct {
	Xid  int32
	Zxid int64
	Err  tree.Code
}

// AppendReplyHeader appends a ReplyHeader (16 bytes).
func AppendReplyHeader(dst []byte, h ReplyHeader) []byte {
	dst = AppendInt(dst, h.Xid)
	dst = AppendLong(dst, h.Zxid)
	return AppendInt(dst, int32(h.Err))
}

// DecodeReplyHeader decodes the ReplyHeader at the start of a reply frame
// body; a client reads it first to tell notifications (XidNotification)
// and pings (XidPing) from replies, then calls DecodeReply or
// DecodeNotification on the whole frame.
func DecodeReplyHeader(b []byte) (ReplyHeader, error) {
	d := Decoder{b: b, rec: "ReplyHeader"}
	h := decodeReplyHeader(&d)
	return h, d.err
}

func decodeReplyHeader(d *Decoder) ReplyHeader {
	var h ReplyHeader
	h.Xid = d.Int()
	h.Zxid = d.Long()
	h.Err = tree.Code(d.Int())
	if d.err != nil {
		return ReplyHeader{}
	}
	return h
}

// AppendReply appends a reply frame body (no length prefix) for a request
// of type op, as ZooKeeper's FinalRequestProcessor builds it: a ReplyHeader
// {xid, zxid, res.Err} and, only when res.Err is CodeOK, the op's response
// record:
//
//	create                                   CreateResponse{path}
//	create2, createTTL, createContainer      Create2Response{path, stat}
//	setData, setACL, exists, check           {stat}
//	getData, reconfig                        GetDataResponse{data, stat}
//	getACL                                   GetACLResponse{acl, stat}
//	getChildren / getChildren2               {children} / {children, stat}
//	sync                                     SyncResponse{path}
//	getAllChildrenNumber                     {int Number}
//	getEphemerals                            {vector Paths}
//	whoAmI                                   {vector ClientInfo{scheme, id}} from Identity
//	addWatch                                 ErrorResponse{0}
//	delete*, ping, closeSession, setWatches*,
//	checkWatches, removeWatches, unknown ops  nothing
//
// Exceptions, as ZooKeeper:
//   - auth: the header's zxid is always 0; no body.
//   - sasl: zxid 0 and a SetSASLResponse{token = res.Data} even on error.
//   - multi/multiRead: see appendMultiReply; the header's err is 0 and the
//     MultiResponse body is present even when an op failed.
//
// Nil stats are written as zero stats; nil children, ACL, paths and
// identity lists as empty vectors (never null); nil Data as a null buffer,
// which is what ZooKeeper sends for a znode created with null data. The
// caller chooses zxid (ZooKeeper sends its last processed zxid, and for a
// ping reply xid XidPing).
func AppendReply(dst []byte, xid int32, zxid int64, op tree.Op, res tree.Result) []byte {
	switch op {
	case tree.OpAuth:
		return AppendReplyHeader(dst, ReplyHeader{Xid: xid, Zxid: 0, Err: res.Err})
	case tree.OpSASL:
		dst = AppendReplyHeader(dst, ReplyHeader{Xid: xid, Zxid: 0, Err: res.Err})
		return AppendBuffer(dst, res.Data)
	case tree.OpMulti, tree.OpMultiRead:
		return appendMultiReply(dst, xid, zxid, op, res)
	}
	dst = AppendReplyHeader(dst, ReplyHeader{Xid: xid, Zxid: zxid, Err: res.Err})
	if res.Err != tree.CodeOK {
		return dst
	}
	switch op {
	case tree.OpCreate:
		dst = AppendString(dst, res.Path)
	case tree.OpCreate2, tree.OpCreateTTL, tree.OpCreateContainer:
		dst = AppendString(dst, res.Path)
		dst = appendStatPtr(dst, res.Stat)
	case tree.OpSetData, tree.OpSetACL, tree.OpExists, tree.OpCheck:
		dst = appendStatPtr(dst, res.Stat)
	case tree.OpGetData, tree.OpReconfig:
		dst = AppendBuffer(dst, res.Data)
		dst = appendStatPtr(dst, res.Stat)
	case tree.OpGetACL:
		acl := res.ACL
		if acl == nil {
			acl = []tree.ACL{}
		}
		dst = AppendACLs(dst, acl)
		dst = appendStatPtr(dst, res.Stat)
	case tree.OpGetChildren:
		dst = appendStringsNonNull(dst, res.Children)
	case tree.OpGetChildren2:
		dst = appendStringsNonNull(dst, res.Children)
		dst = appendStatPtr(dst, res.Stat)
	case tree.OpSync:
		dst = AppendString(dst, res.Path)
	case tree.OpGetAllChildrenNumber:
		dst = AppendInt(dst, res.Number)
	case tree.OpGetEphemerals:
		dst = appendStringsNonNull(dst, res.Paths)
	case tree.OpWhoAmI:
		dst = AppendInt(dst, int32(len(res.Identity)))
		for _, id := range res.Identity {
			dst = AppendString(dst, id.Scheme)
			dst = AppendString(dst, id.ID)
		}
	case tree.OpAddWatch:
		dst = AppendInt(dst, 0)
	}
	return dst
}

// appendMultiReply writes a multi or multiRead reply.
//
// The ReplyHeader's err is 0 whenever the MultiResponse is sent, even if an
// op failed: ZooKeeper reports per-op failures only inside the body. The
// body is, per op, MultiHeader{type, done=false, err} and the op's result
// record, then MultiHeader{-1, true, -1}:
//
//	create                               type 1,  CreateResponse{path}
//	create2, createTTL, createContainer  type 15, Create2Response{path, stat}
//	delete, deleteContainer              type 2,  nothing
//	setData                              type 5,  SetDataResponse{stat}
//	check                                type 13, nothing
//	getData                              type 4,  GetDataResponse{data, stat}
//	getChildren                          type 8,  GetChildrenResponse{children}
//	error (Err != 0 or Op == OpError)    type -1, err = code, ErrorResponse{code}
//
// For multi (a transaction) a failure is all-or-nothing, and ZooKeeper
// reports every op as an error result: ops before the first failing one
// with code 0, the failing one with its code, the ones after with
// RuntimeInconsistency. appendMultiReply enforces that shape from the first
// res.Results entry with Err != 0, whatever the later entries hold. For
// multiRead each op stands alone.
//
// Without per-op results to report (res.Results holds no failing entry for
// a failed multi, or is empty for a failed multiRead) the reply is the
// header alone with res.Err, as ZooKeeper sends for whole-request failures
// (marshalling error, throttling). A result whose Op has no multi encoding
// makes the whole reply a header-only CodeMarshallingError, as ZooKeeper
// does when it cannot serialize a result.
func appendMultiReply(dst []byte, xid int32, zxid int64, op tree.Op, res tree.Result) []byte {
	start := len(dst)
	failed := -1
	if op == tree.OpMulti {
		for i := range res.Results {
			if res.Results[i].Err != tree.CodeOK {
				failed = i
				break
			}
		}
	}
	if res.Err != tree.CodeOK && (op == tree.OpMulti && failed < 0 || op == tree.OpMultiRead && len(res.Results) == 0) {
		return AppendReplyHeader(dst, ReplyHeader{Xid: xid, Zxid: zxid, Err: res.Err})
	}
	dst = AppendReplyHeader(dst, ReplyHeader{Xid: xid, Zxid: zxid, Err: tree.CodeOK})
	for i := range res.Results {
		r := &res.Results[i]
		if failed >= 0 {
			code := tree.CodeOK
			switch {
			case i == failed:
				code = r.Err
			case i > failed:
				code = tree.CodeRuntimeInconsistency
			}
			dst = appendMultiHeader(dst, tree.OpError, false, int32(code))
			dst = AppendInt(dst, int32(code))
			continue
		}
		var ok bool
		if dst, ok = appendMultiResult(dst, r); !ok {
			return AppendReplyHeader(dst[:start], ReplyHeader{Xid: xid, Zxid: zxid, Err: tree.CodeMarshallingError})
		}
	}
	return appendMultiHeader(dst, -1, true, -1)
}

func appendMultiResult(dst []byte, r *tree.Result) ([]byte, bool) {
	if r.Err != tree.CodeOK || r.Op == tree.OpError {
		dst = appendMultiHeader(dst, tree.OpError, false, int32(r.Err))
		return AppendInt(dst, int32(r.Err)), true
	}
	switch r.Op {
	case tree.OpCreate:
		dst = appendMultiHeader(dst, tree.OpCreate, false, 0)
		dst = AppendString(dst, r.Path)
	case tree.OpCreate2, tree.OpCreateTTL, tree.OpCreateContainer:
		dst = appendMultiHeader(dst, tree.OpCreate2, false, 0)
		dst = AppendString(dst, r.Path)
		dst = appendStatPtr(dst, r.Stat)
	case tree.OpDelete, tree.OpDeleteContainer:
		dst = appendMultiHeader(dst, tree.OpDelete, false, 0)
	case tree.OpSetData:
		dst = appendMultiHeader(dst, tree.OpSetData, false, 0)
		dst = appendStatPtr(dst, r.Stat)
	case tree.OpCheck:
		dst = appendMultiHeader(dst, tree.OpCheck, false, 0)
	case tree.OpGetData:
		dst = appendMultiHeader(dst, tree.OpGetData, false, 0)
		dst = AppendBuffer(dst, r.Data)
		dst = appendStatPtr(dst, r.Stat)
	case tree.OpGetChildren:
		dst = appendMultiHeader(dst, tree.OpGetChildren, false, 0)
		dst = appendStringsNonNull(dst, r.Children)
	default:
		return dst, false
	}
	return dst, true
}

// DecodeReply decodes a reply frame body (no length prefix) to a request
// of type op, the inverse of AppendReply. When the header's err is not OK
// the body is not read (as ClientCnxn does) and the Result holds only Err.
// A multi's Results carry the wire type of each op in Op (create, create2,
// delete, setData, check, getData, getChildren, or error); for multi the
// top-level Err is the first failing op's code, for multiRead it stays OK.
// Result.Zxid is not set: the zxid is in the ReplyHeader. Trailing bytes
// are ignored. An op DecodeRequest does not know yields ErrUnknownOp.
func DecodeReply(b []byte, op tree.Op) (ReplyHeader, tree.Result, error) {
	d := Decoder{b: b, rec: "ReplyHeader"}
	h := decodeReplyHeader(&d)
	if d.err != nil {
		return ReplyHeader{}, tree.Result{}, d.err
	}
	res := tree.Result{Err: h.Err}
	if h.Err != tree.CodeOK {
		return h, res, nil
	}
	d.record(op.String() + "Response")
	switch op {
	case tree.OpCreate, tree.OpSync:
		res.Path = d.String()
	case tree.OpCreate2, tree.OpCreateTTL, tree.OpCreateContainer:
		res.Path = d.String()
		res.Stat = decodeStatPtr(&d)
	case tree.OpSetData, tree.OpSetACL, tree.OpExists, tree.OpCheck:
		res.Stat = decodeStatPtr(&d)
	case tree.OpGetData, tree.OpReconfig:
		res.Data = d.Buffer()
		res.Stat = decodeStatPtr(&d)
	case tree.OpGetACL:
		res.ACL = d.ACLs()
		res.Stat = decodeStatPtr(&d)
	case tree.OpGetChildren:
		res.Children = d.Strings()
	case tree.OpGetChildren2:
		res.Children = d.Strings()
		res.Stat = decodeStatPtr(&d)
	case tree.OpGetAllChildrenNumber:
		res.Number = d.Int()
	case tree.OpGetEphemerals:
		res.Paths = d.Strings()
	case tree.OpWhoAmI:
		res.Identity = decodeClientInfos(&d)
	case tree.OpAddWatch:
		d.Int() // ErrorResponse{0}
	case tree.OpSASL:
		res.Data = d.Buffer()
	case tree.OpMulti, tree.OpMultiRead:
		decodeMultiResponse(&d, op, &res)
	case tree.OpDelete, tree.OpDeleteContainer, tree.OpPing, tree.OpCloseSession,
		tree.OpSetWatches, tree.OpSetWatches2, tree.OpCheckWatches, tree.OpRemoveWatches, tree.OpAuth:
		// no body
	default:
		return h, res, &DecodeError{Record: "ReplyHeader", What: "op", Offset: 0,
			Detail: fmt.Sprintf("no reply record for op %d (%v)", int32(op), op), Err: ErrUnknownOp}
	}
	if d.err != nil {
		return h, tree.Result{Err: h.Err}, d.err
	}
	return h, res, nil
}

func decodeStatPtr(d *Decoder) *tree.Stat {
	s := d.Stat()
	return &s
}

func decodeClientInfos(d *Decoder) []tree.Id {
	n := d.count("vector<ClientInfo>", 2*minStringBytes)
	if n < 0 {
		return nil
	}
	out := make([]tree.Id, n)
	for i := range out {
		out[i].Scheme = d.String()
		out[i].ID = d.String()
		if d.err != nil {
			return nil
		}
	}
	return out
}

func decodeMultiResponse(d *Decoder, op tree.Op, res *tree.Result) {
	for {
		d.record("MultiHeader")
		at := d.off
		typ := tree.Op(d.Int())
		done := d.Bool()
		d.Int() // err: repeated in ErrorResponse for error results
		if d.err != nil || done {
			return
		}
		if len(res.Results) >= MaxMultiOps {
			d.off = at
			d.fail(ErrTooLarge, "MultiHeader", fmt.Sprintf("more than %d results", MaxMultiOps))
			return
		}
		r := tree.Result{Op: typ}
		d.record(typ.String() + "Result")
		switch typ {
		case tree.OpCreate:
			r.Path = d.String()
		case tree.OpCreate2:
			r.Path = d.String()
			r.Stat = decodeStatPtr(d)
		case tree.OpDelete, tree.OpCheck:
		case tree.OpSetData:
			r.Stat = decodeStatPtr(d)
		case tree.OpGetData:
			r.Data = d.Buffer()
			r.Stat = decodeStatPtr(d)
		case tree.OpGetChildren:
			r.Children = d.Strings()
		case tree.OpError:
			r.Err = tree.Code(d.Int())
		default:
			d.off = at
			d.fail(ErrMalformed, "MultiHeader.type", fmt.Sprintf("op %d (%v) has no multi result", int32(typ), typ))
			return
		}
		if d.err != nil {
			return
		}
		if op == tree.OpMulti && res.Err == tree.CodeOK && r.Err != tree.CodeOK {
			res.Err = r.Err
		}
		res.Results = append(res.Results, r)
	}
}

// AppendNotification appends a watch event frame body (no length prefix):
// ReplyHeader{XidNotification, zxid -1, err 0} (ZooKeeper 3.8 always sends
// zxid -1 here) then WatcherEvent{type, state, path}.
func AppendNotification(dst []byte, ev tree.WatchEvent, state tree.KeeperState) []byte {
	dst = AppendReplyHeader(dst, ReplyHeader{Xid: XidNotification, Zxid: -1, Err: tree.CodeOK})
	dst = AppendInt(dst, int32(ev.Type))
	dst = AppendInt(dst, int32(state))
	return AppendString(dst, ev.Path)
}

// DecodeNotification decodes a watch event frame body. A header whose xid
// is not XidNotification is ErrMalformed.
func DecodeNotification(b []byte) (tree.WatchEvent, tree.KeeperState, error) {
	d := Decoder{b: b, rec: "ReplyHeader"}
	h := decodeReplyHeader(&d)
	if d.err == nil && h.Xid != XidNotification {
		d.off = 0
		d.fail(ErrMalformed, "xid", fmt.Sprintf("xid %d is not a notification (%d)", h.Xid, XidNotification))
	}
	d.record("WatcherEvent")
	var ev tree.WatchEvent
	ev.Type = tree.EventType(d.Int())
	state := tree.KeeperState(d.Int())
	ev.Path = d.String()
	if d.err != nil {
		return tree.WatchEvent{}, 0, d.err
	}
	return ev, state, nil
}
