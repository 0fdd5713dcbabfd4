// Package jute is the codec for Apache ZooKeeper's client wire protocol:
// the jute binary encoding (BinaryInputArchive/BinaryOutputArchive), frame
// length prefixes, the connect handshake, request and reply records, multi
// transactions and watch notifications. It turns bytes into tree.Request /
// tree.Result values and back; it does no I/O beyond ReadFrame, keeps no
// state, and decides nothing about what a request means.
//
// It owns: byte layout, bounds checking of untrusted input, and the
// per-op choice of request and response record (matching ZooKeeper 3.8's
// NIOServerCnxn, ProtocolManager, MultiOperationRecord, MultiResponse and
// FinalRequestProcessor). It does not own: sessions, timeouts, auth,
// watches, or mapping Go errors to codes (tree.CodeOf does that).
//
// # Encoding
//
// All integers are big-endian. The primitives:
//
//	int      4 bytes, signed
//	long     8 bytes, signed
//	boolean  1 byte; 1/0 written, non-zero read as true
//	buffer   int length (-1 = null) + bytes
//	ustring  int length (-1 = null) + UTF-8 bytes
//	vector   int count (-1 = null) + elements; a count < -1 reads as empty
//	Stat     czxid mzxid ctime mtime (longs) version cversion aversion (ints)
//	         ephemeralOwner (long) dataLength numChildren (ints) pzxid (long): 68 bytes
//
// # Frames
//
// On the TCP stream every message is a frame:
//
//	+----------------+---------------------------+
//	| length (int32) | body (length bytes)       |
//	+----------------+---------------------------+
//
// Every Decode* function here takes a frame BODY and every Append* function
// other than AppendFrame writes one: the 4-byte length is never part of
// them. ReadFrame strips it (rejecting lengths < 0 or > maxLen with
// ErrTooLarge before allocating); AppendFrame, or StartFrame/FinishFrame,
// add it.
//
// A connection starts with a ConnectRequest frame (no RequestHeader),
// answered by a ConnectResponse frame. Before that, the first 4 bytes may
// instead be a four-letter word ("ruok", "stat", ...; see
// IsFourLetterWord and ReadFirstFrame). After the handshake, client frames
// are
//
//	RequestHeader{xid int, type int} + the op's request record
//
// and server frames are
//
//	ReplyHeader{xid int, zxid long, err int} + the op's response record
//
// where the response record is present only when err is 0 (except for
// SASL), and a multi's is present even when one of its ops failed (the
// failure is inside). Watch events arrive as ReplyHeader{-1, -1, 0} +
// WatcherEvent{type int, state int, path ustring}. Xids -1, -2, -4 and -8
// are reserved (XidNotification, XidPing, XidAuth, XidSetWatches).
//
// # Invariants
//
//   - No input makes a decoder panic, read out of bounds, or allocate more
//     than a small constant multiple of the input length: every length and
//     count is checked against the bytes remaining first (fuzzed).
//   - Decoded []byte and string values never alias the input.
//   - For every request r that DecodeRequest accepts,
//     DecodeRequest(AppendRequest(h, r)) returns r again (fuzzed), and
//     DecodeReply inverts AppendReply up to the normalizations AppendReply
//     documents (nil vectors written empty, failed-multi results written as
//     error results).
//   - null and empty buffers stay distinct across a round trip (nil vs
//     []byte{}); null strings read as "".
//   - Trailing bytes after a record are ignored, as ZooKeeper ignores them.
//
// The op numbers (tree.Op), codes (tree.Code), xids and record layouts are
// ZooKeeper's and frozen.
//
// # Usage (server side)
//
//	frame, word, err := jute.ReadFirstFrame(conn, jute.DefaultMaxFrameBytes, buf)
//	// word != "": run the four-letter command and close
//	creq, err := jute.DecodeConnectRequest(frame)
//	out, at := jute.StartFrame(out[:0])
//	out = jute.AppendConnectResponse(out, jute.ConnectResponse{..., Legacy: creq.Legacy})
//	out = jute.FinishFrame(out, at)
//	for {
//		frame, err = jute.ReadFrame(conn, jute.DefaultMaxFrameBytes, buf)
//		h, req, err := jute.DecodeRequest(frame)
//		// errors.Is(err, jute.ErrUnknownOp): reply Unimplemented, close
//		// errors.Is(err, jute.ErrMalformed) with h set: ZooKeeper replies MarshallingError
//		res := ...
//		out, at = jute.StartFrame(out[:0])
//		out = jute.AppendReply(out, h.Xid, zxid, h.Op, res)
//		out = jute.FinishFrame(out, at)
//	}
//
// All functions are safe for concurrent use; a Decoder is not.
package jute
