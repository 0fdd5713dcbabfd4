// Package tree is zabd's data tree: the znodes, their stats and ACLs, the
// txn types and their codec, Prep (request → txn) and Apply (txn → tree
// change + watch events), read answers, auth and ACL checks, and the watch
// registry (watches.go). It is a pure, deterministic state machine: no I/O,
// clocks, goroutines or randomness; it imports only the standard library and
// google/btree. The behaviour it reproduces is Apache ZooKeeper 3.8's
// (DataTree, PrepRequestProcessor, FinalRequestProcessor).
//
// # The write path
//
//	p := tree.NewPending()
//	txn, err := t.Prep(p, req, tree.TxnHeader{Session: s, Cxid: x, Zxid: z, Time: nowMs})
//	if err != nil {
//		// reply CodeOf(err) (or, for a multi, err.(*MultiError).Result());
//		// p is unchanged; logging the returned error txn is optional.
//	}
//	buf := tree.AppendTxn(nil, txn) // log it, replicate it, commit it ...
//	res, events := t.ApplyResult(txn) // on every server, in zxid order
//	p.Applied(txn.Zxid)
//
// Prep validates against the committed tree plus the Pending overlay of txns
// prepped but not yet applied, checking in ZooKeeper's order so the same
// error wins. The txn it returns carries results, not deltas (absolute
// versions, full data and ACL, the parent's new cversion, the final
// sequential name), so Apply needs nothing but the txn and the tree.
//
// # Invariants
//
//   - Apply is deterministic: the tree after a sequence of txns is a
//     function of that sequence. A txn with zxid <= LastZxid is skipped, and
//     each change is itself idempotent, so replaying a log suffix over a
//     fuzzy snapshot (SetLastZxid = the zxid the snapshot walk began at)
//     yields the live tree.
//   - Every node but the root has a parent; NumChildren counts exactly the
//     node's children; the ephemeral, container and TTL indexes list exactly
//     the nodes of that kind.
//   - Node.Cversion is ZooKeeper's persisted child counter (creates only);
//     clients see 2*Cversion-NumChildren, as ZooKeeper reports it.
//   - Data and ACL slices stored in the tree are never mutated in place.
//
// # Layout
//
// Nodes live in one B-tree keyed by (parent path, name): the children of a
// node are contiguous and sorted, so listing them costs O(log n + children).
// The tree stores no Nodes: a znode is an item (stat fields inline, 104
// bytes, allocated in slabs) plus one allocation holding its path and value;
// its ACL is an index into a reference-counted table of distinct lists.
// Get and Walk hand out copies.
// "Path order" (Walk, DescribeTree, ephemeral and expiry lists) is segment
// order: a parent before its children, siblings by name (ComparePaths).
//
// # What it does not do
//
// Session liveness (expiry, moved, local sessions), the data-length limit,
// quota enforcement and quota statistics, reconfig, watch delivery, and
// anything touching the network or disk belong to zab, net and engine.
package tree
