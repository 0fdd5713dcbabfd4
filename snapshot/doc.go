// Package snapshot writes and reads zabd's snapshots: a data tree and its
// open sessions, streamed, compressed (s2 by default; zstd or none) and
// checksummed. It owns the
// byte format and the fuzzy walk. It does not own files, names, fsync or
// retention (engine.SnapshotStore does), nor deciding when to snapshot
// (zab's snapshotter).
//
// # Fuzzy snapshots
//
// Write never stops writes for long and never copies the whole tree: it
// takes the tree in chunks (Options.ChunkNodes nodes, at most about
// Options.ChunkBytes of data), each under the tree's read lock (a Source,
// e.g. zab.Pipeline.WithTree), and compresses and writes each chunk with
// the lock released, so txns are applied between chunks. Each chunk
// resumes strictly after the last path written (tree.Walk in path order).
// With Options.Duty below 100 it also pauses between chunks, so that a
// background snapshot works at most that share of the time and leaves the
// rest of a CPU to the requests it runs beside.
//
// Meta.StartZxid is the tree's LastZxid when the walk began (read in the
// first chunk, together with the sessions). Every node written reflects at
// least every txn <= StartZxid, and possibly some later ones. Because txns
// carry results rather than deltas (tree.Apply is idempotent), restoring
// the snapshot, setting LastZxid = StartZxid, and replaying the log from
// StartZxid+1 yields exactly the live tree.
//
// Meta.EndZxid is the tree's LastZxid when the walk ended (read in the
// last chunk): every txn whose effect the snapshot may hold is <= EndZxid.
// So the snapshot spans [StartZxid, EndZxid] (closed), and it can stand
// for the state at a zxid Z only if StartZxid <= Z and EndZxid <= Z
// (Meta.UsableFor). One that straddles Z (start <= Z < end) may hold txns
// above Z; replay cannot take them out. Callers that cut the log at Z
// (--repair, a follower's TRUNC) or replay to Z must apply the rule.
// Plain recovery replays the whole log after StartZxid and so needs no
// end: the log holds every txn the tree ever applied, unless it was cut
// after the snapshot was taken.
//
// Version 1 snapshots did not record their end. A reader reports it
// unknown (Meta.EndKnown false, EndZxid 0) and UsableFor is false for
// them at every Z: the end may be anywhere at or after the start, so no
// cut can be proven safe. Plain recovery uses them as it always did.
//
// Invariants of a written stream:
//   - node paths strictly increase in path order (tree.ComparePaths), so a
//     parent precedes its children: a node present when the walk passed
//     its position is written, and a node created behind the walk is
//     written with none of its descendants;
//   - the end record's counts equal the records before it;
//   - the checksum covers the header, the codec byte (version 3) and every
//     decompressed byte before it;
//   - start zxid <= end zxid; the trailer's checksum covers the header and
//     the end zxid, so a trailer belongs to its header (not the codec
//     byte: ReadMeta may report a flipped codec byte that names another
//     valid codec; Read finds it, by the body's checksum).
//
// # Format, version 3
//
// Integers in the header, the checksum and the trailer are big-endian; in
// the body, "uvarint" and "varint" are encoding/binary's (varint is
// zig-zag).
//
//	file
//	+------------------+-------+-----------------------+-------------------+
//	| header, 32 bytes | codec | body, stored with the | trailer, 16 bytes |
//	| (not compressed) | byte  | codec; its content    | (not compressed)  |
//	|                  |       | is below              |                   |
//	+------------------+-------+-----------------------+-------------------+
//
//	codec byte: 1 = none (the content as it is), 2 = one zstd stream,
//	            3 = one s2 stream (klauspost/compress's framed format,
//	            blocks of at most 1 MiB); 0 and others are not codecs
//
//	header
//	+--------+---------+------------+--------------+-------------------------+
//	| magic  | version | start zxid | time         | xxhash64(bytes 0..24)   |
//	| "ZBDS" | uint32  | uint64     | int64 ms     | uint64                  |
//	| 4      | 4       | 8          | 8            | 8                       |
//	+--------+---------+------------+--------------+-------------------------+
//
//	trailer: the last 16 bytes of the file, written after the walk
//	+------------+--------------------------------------------------------+
//	| end zxid   | xxhash64 (seed 0) of the 32 header bytes followed by   |
//	| uint64     | the 8 end zxid bytes                                   |
//	| 8          | 8                                                      |
//	+------------+--------------------------------------------------------+
//
//	body content: records, each led by a tag byte, then the checksum
//	+-----------------+----------------+-----+----------------+------------+
//	| session records | node records   | ... | end record     | checksum   |
//	| tag 1           | tag 2          |     | tag 3          | uint64     |
//	+-----------------+----------------+-----+----------------+------------+
//
//	session record: tag=1 | id varint | timeout ms varint
//	node record:    tag=2 | path (uvarint n, n bytes) | kind byte
//	                | owner varint | ttl varint
//	                | czxid mzxid pzxid ctime mtime: 5 varints
//	                | version cversion aversion: 3 varints
//	                | data (uvarint n+1, n bytes; 0 = nil data)
//	                | acl (uvarint n+1, 0 = nil; n × (perms varint,
//	                |      scheme (uvarint n, bytes), id (uvarint n, bytes)))
//	secret record:  tag=4 | secret (uvarint n, n bytes; n >= 16)
//	end record:     tag=3 | node count uvarint | session count uvarint
//	checksum:       xxhash64 (seed 0) of the 32 header bytes, the codec
//	                byte, then every content byte before the checksum
//
// Sessions are written first (as of StartZxid), then the session secret
// (tree.OpSessionSecret; at most one record, none when the tree has no
// secret), then nodes in path order.
// Nothing may follow the checksum inside the body, and nothing but the
// trailer may follow the body. The trailer is at a fixed place (the
// file's end), so ReadMeta learns both zxids from two small reads without
// decompressing anything; Read, which streams, holds the last 16 bytes
// back from the body's decoder and checks them once the body has checked.
//
// The default codec is s2: on 100k znodes of 100 bytes it writes about 3
// times faster than zstd's fastest level and reads about 4 times faster,
// for files about 1.6 times larger (BenchmarkSnapshotWrite, Read).
// ZooKeeper writes its snapshots uncompressed by default.
//
// # Format, version 2
//
// Version 3 without the codec byte: the body is always one zstd stream,
// and the checksum covers the header and the content (no codec byte).
// Write still writes it for CodecZstd, so that a server from before
// version 3 reads what this one writes when snapshotCodec says zstd: the
// way to downgrade, and the codec for an ensemble being upgraded one
// member at a time (a leader's SNAP is written with its codec too).
//
// # Format, version 1
//
// Version 2 without the trailer: the header (version 1), then the zstd
// stream, which ends the file. Its decompressed content is laid out as in
// version 2.
//
// # Frozen
//
// The magic, every version's layout, the codec numbers, the tags, the
// hashes, the node kind numbers (tree.NodeKind), the s2 block limit and
// the limit MaxFieldBytes on any length a reader accepts. The compressed
// bytes are not frozen (a library upgrade may change them); the content,
// the header, the codec byte and the trailer are. testdata/format/v<N> holds a golden file of every version,
// which the reader must keep reading; the writer must reproduce the
// current version's.
//
// # Errors
//
// Bytes from disk never cause a panic. A bad magic, header or trailer
// checksum, an unknown codec, truncation, garbage, broken compression, a bad record, a
// checksum mismatch or an end zxid before the start is a *CorruptError
// (matching ErrCorrupt) naming where in the file (header, trailer: a file
// offset) or the decompressed body (offset) it was found; callers add the
// file name. An error of the underlying reader while reading the
// header is wrapped as it is; in the body it reaches Read through the
// decoder and is reported as a *CorruptError that wraps it (errors.Is
// still finds it).
//
// # Concurrency
//
// Read decompresses and parses on a goroutine of its own, handing batches
// of records to the caller's goroutine, which alone builds the tree; the
// first error in stream order is the one reported, and Read returns only
// after that goroutine has stopped.
//
// # Usage
//
//	meta, err := snapshot.Write(f, pipeline.WithTree, snapshot.Options{})
//	...
//	t, meta, err := snapshot.Read(f, tree.Config{...})
//	// then replay the log from meta.StartZxid+1 over t (t.LastZxid() == meta.StartZxid)
//	...
//	m, err := snapshot.ReadMeta(f, size) // header and trailer only
//	if !m.UsableFor(z) { /* not for a state at z: pick an older one */ }
package snapshot
