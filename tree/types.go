package tree

import "errors"

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// Stat is a znode's metadata exactly as ZooKeeper's data.Stat carries it on
// the wire (field order is the wire order). Times are milliseconds since the
// Unix epoch, stamped by the leader at prep time.
type Stat struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	DataLength     int32
	NumChildren    int32
	Pzxid          int64
}

// Id is an ACL identity: a scheme ("world", "auth", "digest", "ip", "super")
// and an id within it.
type Id struct {
	Scheme string
	ID     string
}

// ACL grants Perms to an Id.
type ACL struct {
	Perms int32
	ID    Id
}

// Permission bits (ZooDefs.Perms), frozen.
const (
	PermRead   int32 = 1 << 0
	PermWrite  int32 = 1 << 1
	PermCreate int32 = 1 << 2
	PermDelete int32 = 1 << 3
	PermAdmin  int32 = 1 << 4
	PermAll    int32 = PermRead | PermWrite | PermCreate | PermDelete | PermAdmin
)

// Well-known ACLs (ZooDefs.Ids).
var (
	AnyoneID      = Id{Scheme: "world", ID: "anyone"}
	AuthIDs       = Id{Scheme: "auth", ID: ""}
	OpenACLUnsafe = []ACL{{Perms: PermAll, ID: AnyoneID}}
	CreatorAllACL = []ACL{{Perms: PermAll, ID: AuthIDs}}
	ReadACLUnsafe = []ACL{{Perms: PermRead, ID: AnyoneID}}
)

// CreateMode is the flags field of a create request (CreateMode.toFlag),
// frozen: 0 persistent, 1 ephemeral, 2 persistent sequential, 3 ephemeral
// sequential, 4 container, 5 persistent with TTL, 6 persistent sequential
// with TTL.
type CreateMode int32

const (
	ModePersistent           CreateMode = 0
	ModeEphemeral            CreateMode = 1
	ModePersistentSequential CreateMode = 2
	ModeEphemeralSequential  CreateMode = 3
	ModeContainer            CreateMode = 4
	ModePersistentTTL        CreateMode = 5
	ModePersistentSeqTTL     CreateMode = 6
)

// WatchMode is addWatch's mode (AddWatchMode), frozen.
type WatchMode int32

const (
	WatchModePersistent          WatchMode = 0
	WatchModePersistentRecursive WatchMode = 1
)

// WatcherType is removeWatches/checkWatches' type (Watcher.WatcherType), frozen.
type WatcherType int32

const (
	WatcherChildren WatcherType = 1
	WatcherData     WatcherType = 2
	WatcherAny      WatcherType = 3
	// ZooKeeper 3.9 adds Persistent = 4 and PersistentRecursive = 5.
	WatcherPersistent          WatcherType = 4
	WatcherPersistentRecursive WatcherType = 5
)

// EventType is a WatcherEvent's type (Watcher.Event.EventType), frozen.
type EventType int32

const (
	EventNone                   EventType = -1
	EventNodeCreated            EventType = 1
	EventNodeDeleted            EventType = 2
	EventNodeDataChanged        EventType = 3
	EventNodeChildrenChanged    EventType = 4
	EventDataWatchRemoved       EventType = 5
	EventChildWatchRemoved      EventType = 6
	EventPersistentWatchRemoved EventType = 7
)

// KeeperState is a WatcherEvent's state (Watcher.Event.KeeperState), frozen.
type KeeperState int32

const (
	StateDisconnected      KeeperState = 0
	StateSyncConnected     KeeperState = 3
	StateAuthFailed        KeeperState = 4
	StateConnectedReadOnly KeeperState = 5
	StateSASLAuthenticated KeeperState = 6
	StateExpired           KeeperState = -112
	StateClosed            KeeperState = 7
)

// WatchEvent is what Apply reports for one change: the event type and the
// path it happened at. The watch registry turns it into deliveries.
type WatchEvent struct {
	Type EventType
	Path string
}

// Request is one decoded client request in the tree's terms. net fills it
// from the wire (one Op-specific subset of the fields) plus the connection's
// identity (Auth); zab and tree only read it. Slices are owned by the request
// and must not be mutated after it is submitted.
type Request struct {
	Op   Op
	Path string // every path-carrying op; sync; getEphemerals' prefix

	Data    []byte     // create*, setData
	ACL     []ACL      // create*, setACL
	Mode    CreateMode // create*
	TTL     int64      // createTTL, milliseconds
	Version int32      // delete, setData, setACL, check; -1 matches any

	Watch       bool        // exists, getData, getChildren, getChildren2
	WatchMode   WatchMode   // addWatch
	WatcherType WatcherType // removeWatches, checkWatches

	Ops []Request // multi, multiRead: the sub-requests in order

	// Cxid is the client's xid of the request (the txn header's cxid);
	// set by net, 0 for the server's own requests.
	Cxid int32

	// setWatches, setWatches2
	RelativeZxid                                  int64
	DataWatches, ExistWatches, ChildWatches       []string
	PersistentWatches, PersistentRecursiveWatches []string

	// createSession: the negotiated timeout in milliseconds (the session
	// id is the txn header's Session).
	SessionTimeout int32
	// createSession: the client's address (host:port), logged for an
	// audit. Set by net.
	Client string

	// auth
	Scheme string
	Cred   []byte

	// Auth is the identities the session has authenticated as (from
	// OpAuth), plus ("ip", addr). Set by net, never read from the wire.
	// An OpAuth write (net submits one after each addauth) logs them.
	Auth []Id
}

// Result is the answer to one Request. Err is the ZooKeeper code (CodeOK on
// success); for multi the top-level Err is the first failing op's code and
// Results holds one Result per op (with ZooKeeper's rule that ops before the
// failing one report CodeOK... see tree's multi docs for exactly what).
type Result struct {
	Err      Code
	Path     string   // create*: the created path (with sequence suffix); sync
	Stat     *Stat    // create2/createContainer/createTTL, exists, getData, setData, setACL, getChildren2, getACL
	Data     []byte   // getData
	Children []string // getChildren, getChildren2 (ZooKeeper returns them unsorted; we return them sorted)
	ACL      []ACL    // getACL
	Number   int32    // getAllChildrenNumber
	Paths    []string // getEphemerals
	Results  []Result // multi, multiRead: one per op, in order
	Op       Op       // inside multi results: which op this result answers
	Zxid     int64    // writes: the zxid the txn was committed at
	Identity []Id     // whoAmI
}

// WatcherID names one watcher: in net, one client connection. Watches
// belong to the connection, as in ZooKeeper (a reconnecting client re-sends
// them with setWatches).
type WatcherID uint64
