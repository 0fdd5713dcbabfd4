// Package net serves ZooKeeper's client protocol: the listener, one
// connection per client, the session handshake, pings, auth, watch
// delivery, and the four-letter words. It decides nothing about what a
// write does: reads and writes go to a Processor (zab's, wired by cmd).
//
// Per connection, a reader goroutine decodes requests in arrival order and
// a writer goroutine flushes one ordered outbound queue. On a plain TCP
// connection the reader handles requests inside the socket's
// RawConn.Read callback (read_unix.go): one read(2) per request for a
// client with one outstanding, not two. It holds the descriptor's read
// lock meanwhile, so a connection is ended by shutdown(2) (conn.abort),
// and closed only by serve, once its reader has left. Invariants:
//   - Replies leave in request order (ZooKeeper's per-session FIFO): a read
//     waits until every earlier write of its connection has been applied,
//     so it both sees them and is answered after them.
//   - Bytes enter the outbound queue in the order their content was
//     computed: a watch event is queued when the change is applied, before
//     the reply to any request that could reflect the change.
//   - Every length read from the wire is bounded (jute.maxbuffer) before
//     anything is allocated; a malformed or oversized frame closes that
//     connection only, with a logged reason.
//   - A connection's watches die with it; its session does not (it lives
//     until closeSession or expiry, and a client may re-attach to it).
package net
