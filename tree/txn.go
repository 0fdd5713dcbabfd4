package tree

// TxnHeader is what every txn carries. The pipeline stamps Zxid and Time
// (ms since the Unix epoch, the leader's wall clock) before Prep; Apply
// never reads a clock.
type TxnHeader struct {
	Session int64 // the session the request came from (0 for the reaper)
	Cxid    int32 // the client's xid, for matching the reply
	Zxid    int64
	Time    int64 // ms
	Type    Op
}

// Txn is one committed change, carrying results rather than deltas: the
// absolute new versions, the full data and ACL, the parent's new cversion,
// the final (sequential) name. That is what makes Apply deterministic and
// idempotent, and a fuzzy snapshot plus replay exact.
//
// Which body fields are meaningful depends on Type:
//
//	OpCreate, OpCreate2,
//	OpCreateContainer, OpCreateTTL  Path (final), Data, ACL (fixed up), Kind,
//	                                TTL (KindTTL), ParentCversion (the parent's
//	                                persisted cversion after the create)
//	OpDelete, OpDeleteContainer     Path
//	OpSetData, OpReconfig           Path, Data, Version (the new version)
//	OpSetACL                        Path, ACL, Version (the new aversion)
//	OpCheck                         Path, Version (checked version + 1, as ZooKeeper's CheckVersionTxn)
//	OpCreateSession                 Timeout (ms); the session is Session;
//	                                Client: the client's address, host:port
//	OpCloseSession                  none: Apply deletes the session's
//	                                ephemerals (found in the tree, path order)
//	OpSessionSecret                 Data: the session password key (zabd's;
//	                                at least MinSessionSecretBytes)
//	OpError                         Err: a failed request; outside a multi
//	                                also FailedOp, Path, FailedMode and ACL:
//	                                the request's type, path, create mode
//	                                and (setACL) ACL, for an audit
//	OpAuth                          Ids: every identity the session is
//	                                authenticated as from now on, ("ip",
//	                                addr) first (zabd's: addauth is no txn
//	                                in ZooKeeper); Apply changes nothing
//	OpMulti                         Txns: the sub-txns in request order; a
//	                                failed multi has only OpError sub-txns
//
// A sub-txn of a multi uses only Type and its body; Session, Cxid, Zxid and
// Time are the multi's (they are zero in sub-txns and not encoded).
// Slices are owned by the txn; Apply may retain Data in the tree (ACL lists
// are copied into the tree's table), so they must not be mutated after
// Prep/Decode.
type Txn struct {
	TxnHeader

	Path           string
	Data           []byte // nil and empty are distinct
	ACL            []ACL
	Kind           NodeKind
	TTL            int64
	ParentCversion int32
	Version        int32
	Timeout        int32
	Err            Code
	Txns           []Txn

	// What an audit of the log reads, never Apply (see the list above).
	Sequential bool       // create*: the request asked for a sequential name
	Client     string     // createSession
	FailedOp   Op         // error: the failed request's type
	FailedMode CreateMode // error: a failed create's mode
	Ids        []Id       // auth
}

// failed reports whether a multi txn is a failed one (any OpError inside).
func (t *Txn) failed() bool {
	for i := range t.Txns {
		if t.Txns[i].Type == OpError {
			return true
		}
	}
	return false
}
