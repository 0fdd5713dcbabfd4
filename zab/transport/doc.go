// Package transport is the network between the members of a ZAB ensemble:
// it carries peer.Message values over TCP. Each member listens on two
// ports, ZooKeeper's quorum port (discovery, sync, broadcast) and its
// election port (Vote messages only), and dials one outbound connection
// per other member and port, lazily, redialling with backoff after a
// failure. Inbound connections are read and their messages handed to
// Recv; no connection carries messages both ways.
//
// Invariants:
//
//   - FIFO: the messages one member sends another over one port arrive in
//     the order Send was called, for as long as one TCP connection lasts.
//     Quorum and election messages travel separate connections and are not
//     ordered with respect to each other, nor are messages either side of
//     a reconnection.
//   - Never corrupt: every frame carries a checksum; a frame that fails it,
//     or does not decode, or claims another sender, closes its connection
//     and nothing of it is delivered.
//   - May drop: a full queue, an unreachable member, a failed write, the
//     Filter and Close drop messages (counted in Stats.Dropped). The ZAB
//     core tolerates loss, duplication and reordering; it resends what
//     matters.
//   - Send never blocks.
//
// Wire format. A connection opens with a handshake frame; every frame
// after it is one message:
//
//	frame     = length uint32 (big endian, of body) | body | xxhash64(body) uint64
//	handshake = magic "ZABT" | version 1 | port kind (0 quorum, 1 election) | uvarint from | uvarint to
//	message   = type u8 | flags u8 (1 Observer, 2 NewLeaderAck, 4 Vote, 8 Snapshot)
//	            | uvarint From, To, Conn, Epoch, Zxid, Prev, SyncID
//	            | uvarint len(Entries), each: uvarint Zxid | uvarint len | bytes
//	            | uvarint len(Data) | Data
//	            | if Vote: uvarint From, To | State u8 | uvarint Round, Leader, Zxid, PeerEpoch
//	            | if Snapshot: uvarint len | bytes (peer.Message.Snapshot is a []byte on the wire)
//
// The receiver checks the handshake names a known member as sender and
// itself as receiver, and that each message's From and To agree with it.
package transport
