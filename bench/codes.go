package bench

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/go-zookeeper/zk"

	"zabd/tree"
)

// zkErrNames maps go-zookeeper's sentinel errors to ZooKeeper's code names
// (KeeperException.Code); the client-side ones get the name of the code a
// Java client would report for the same situation.
var zkErrNames = []struct {
	err  error
	name string
}{
	{zk.ErrNoNode, "NONODE"},
	{zk.ErrNodeExists, "NODEEXISTS"},
	{zk.ErrBadVersion, "BADVERSION"},
	{zk.ErrNotEmpty, "NOTEMPTY"},
	{zk.ErrNoAuth, "NOAUTH"},
	{zk.ErrNoChildrenForEphemerals, "NOCHILDRENFOREPHEMERALS"},
	{zk.ErrSessionExpired, "SESSIONEXPIRED"},
	{zk.ErrInvalidACL, "INVALIDACL"},
	{zk.ErrAuthFailed, "AUTHFAILED"},
	{zk.ErrSessionMoved, "SESSIONMOVED"},
	{zk.ErrAPIError, "APIERROR"},
	{zk.ErrBadArguments, "BADARGUMENTS"},
	{zk.ErrReconfigDisabled, "RECONFIGDISABLED"},
	{zk.ErrNothing, "NOTHING"},
	{zk.ErrClosing, "CLOSING"},
	{zk.ErrConnectionClosed, "CONNECTIONLOSS"},
	{zk.ErrNoServer, "CONNECTIONLOSS"},
	{zk.ErrInvalidPath, "BADARGUMENTS"},
	{zk.ErrInvalidFlags, "BADARGUMENTS"},
	{zk.ErrUnknown, "SYSTEMERROR"},
}

// codeNames are ZooKeeper's numeric codes that go-zookeeper reports only as
// "unknown error: N".
var codeNames = map[int]string{
	-1: "SYSTEMERROR", -2: "RUNTIMEINCONSISTENCY", -3: "DATAINCONSISTENCY",
	-4: "CONNECTIONLOSS", -5: "MARSHALLINGERROR", -6: "UNIMPLEMENTED",
	-7: "OPERATIONTIMEOUT", -8: "BADARGUMENTS", -12: "UNKNOWNSESSION",
	-13: "NEWCONFIGNOQUORUM", -14: "RECONFIGINPROGRESS", -100: "APIERROR",
	-113: "INVALIDCALLBACK", -116: "CLOSING", -119: "NOTREADONLY",
	-120: "EPHEMERALONLOCALSESSION", -121: "NOWATCHER", -122: "REQUESTTIMEOUT",
	-123: "RECONFIGDISABLED", -124: "SESSIONCLOSEDREQUIRESASLAUTH",
	-125: "QUOTAEXCEEDED", -127: "THROTTLEDOP",
	// Named by go-zookeeper's sentinels above; the lean client reports
	// the code itself.
	-101: "NONODE", -102: "NOAUTH", -103: "BADVERSION", -108: "NOCHILDRENFOREPHEMERALS",
	-110: "NODEEXISTS", -111: "NOTEMPTY", -112: "SESSIONEXPIRED", -114: "INVALIDACL",
	-115: "AUTHFAILED", -118: "SESSIONMOVED",
}

// ErrEventTimeout is recorded when a watch event or lock grant did not come
// within the workload's bound.
var ErrEventTimeout = errors.New("bench: timed out waiting for an event")

// CodeName names err by its ZooKeeper code ("NONODE", "CONNECTIONLOSS",
// ...). Errors that are not ZooKeeper codes get a generator-side name:
// "TIMEOUT" (a bench bound expired), "CANCELED", or "OTHER".
func CodeName(err error) string {
	var code tree.Code
	if errors.As(err, &code) {
		if name, ok := codeNames[int(code)]; ok {
			return name
		}
		return "CODE(" + strconv.Itoa(int(code)) + ")"
	}
	for _, e := range zkErrNames {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	switch {
	case errors.Is(err, ErrEventTimeout), errors.Is(err, context.DeadlineExceeded):
		return "TIMEOUT"
	case errors.Is(err, context.Canceled):
		return "CANCELED"
	}
	if s, ok := strings.CutPrefix(err.Error(), "unknown error: "); ok {
		if n, perr := strconv.Atoi(s); perr == nil {
			if name, ok := codeNames[n]; ok {
				return name
			}
			return "CODE(" + s + ")"
		}
	}
	return "OTHER"
}
