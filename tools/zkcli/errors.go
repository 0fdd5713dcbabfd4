package zkcli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-zookeeper/zk"

	"zabd/tree"
)

// Kind classifies a command failure so that cmd can map it to an exit code.
type Kind int

const (
	// KindZK: the server answered with a ZooKeeper error (or the path was
	// rejected client-side, as zkCli's MalformedPathException).
	KindZK Kind = iota + 1
	// KindUsage: the command line was malformed.
	KindUsage
	// KindConn: no session could be established, or it was lost.
	KindConn
)

func (k Kind) String() string {
	switch k {
	case KindZK:
		return "zk"
	case KindUsage:
		return "usage"
	case KindConn:
		return "connection"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a failed command. Msg is exactly the line zkCli prints on stderr
// for the same failure (without the newline). Code is the ZooKeeper code
// when the server gave one.
type Error struct {
	Kind Kind
	Code tree.Code
	Msg  string
	Err  error // underlying cause, if any
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

func usageErr(format string, args ...any) *Error {
	return &Error{Kind: KindUsage, Msg: fmt.Sprintf(format, args...)}
}

// goZKCodes maps go-zookeeper's sentinel errors back to the wire codes.
var goZKCodes = map[error]tree.Code{
	zk.ErrAPIError:                tree.CodeAPIError,
	zk.ErrNoNode:                  tree.CodeNoNode,
	zk.ErrNoAuth:                  tree.CodeNoAuth,
	zk.ErrBadVersion:              tree.CodeBadVersion,
	zk.ErrNoChildrenForEphemerals: tree.CodeNoChildrenForEphemerals,
	zk.ErrNodeExists:              tree.CodeNodeExists,
	zk.ErrNotEmpty:                tree.CodeNotEmpty,
	zk.ErrSessionExpired:          tree.CodeSessionExpired,
	zk.ErrInvalidACL:              tree.CodeInvalidACL,
	zk.ErrAuthFailed:              tree.CodeAuthFailed,
	zk.ErrSessionMoved:            tree.CodeSessionMoved,
	zk.ErrReconfigDisabled:        tree.CodeReconfigDisabled,
	zk.ErrBadArguments:            tree.CodeBadArguments,
	zk.ErrConnectionClosed:        tree.CodeConnectionLoss,
	zk.ErrClosing:                 tree.CodeConnectionLoss,
	zk.ErrNoServer:                tree.CodeConnectionLoss,
}

// codeOf recovers the ZooKeeper code behind an error from go-zookeeper or
// from the tap.
func codeOf(err error) tree.Code {
	for sentinel, c := range goZKCodes {
		if errors.Is(err, sentinel) {
			return c
		}
	}
	var c tree.Code
	if errors.As(err, &c) {
		return c
	}
	// go-zookeeper reports codes it has no sentinel for as
	// "unknown error: <n>".
	var n int32
	if _, scanErr := fmt.Sscanf(err.Error(), "unknown error: %d", &n); scanErr == nil {
		return tree.Code(n)
	}
	return tree.CodeSystemError
}

// isConnLoss reports whether c means the session or connection is gone
// rather than the operation being refused.
func isConnLoss(c tree.Code) bool {
	switch c {
	case tree.CodeConnectionLoss, tree.CodeSessionExpired, tree.CodeOperationTimeout,
		tree.CodeSessionMoved, tree.CodeAuthFailed:
		return true
	}
	return false
}

// zkErr turns an operation's error into zkCli's message for path.
func zkErr(err error, path string) *Error {
	var ze *Error
	if errors.As(err, &ze) {
		return ze
	}
	c := codeOf(err)
	kind := KindZK
	if isConnLoss(c) {
		kind = KindConn
	}
	msg := CliMessage(c, path)
	if c == tree.CodeSystemError && !strings.Contains(err.Error(), "unknown error") {
		msg = err.Error()
	}
	return &Error{Kind: kind, Code: c, Msg: msg, Err: err}
}
