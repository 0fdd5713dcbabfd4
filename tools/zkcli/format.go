package zkcli

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/go-zookeeper/zk"

	"zabd/tree"
)

// javaDateLayout is java.util.Date.toString()'s "EEE MMM dd HH:mm:ss zzz
// yyyy". Go prints a zone without an abbreviation as "+0100" where Java
// prints "GMT+01:00"; every zone with an abbreviation (UTC, CET, PST...) is
// printed the same.
const javaDateLayout = "Mon Jan 02 15:04:05 MST 2006"

// JavaDate formats milliseconds since the epoch as Java's Date.toString()
// does in loc.
func JavaDate(ms int64, loc *time.Location) string {
	return time.UnixMilli(ms).In(loc).Format(javaDateLayout)
}

// hex is Long.toHexString: two's complement, lower case, no padding.
func hex(v int64) string { return fmt.Sprintf("%x", uint64(v)) }

// WriteStat prints st as zkCli's StatPrinter does.
func WriteStat(w io.Writer, st *zk.Stat, loc *time.Location) {
	fmt.Fprintf(w, "cZxid = 0x%s\n", hex(st.Czxid))
	fmt.Fprintf(w, "ctime = %s\n", JavaDate(st.Ctime, loc))
	fmt.Fprintf(w, "mZxid = 0x%s\n", hex(st.Mzxid))
	fmt.Fprintf(w, "mtime = %s\n", JavaDate(st.Mtime, loc))
	fmt.Fprintf(w, "pZxid = 0x%s\n", hex(st.Pzxid))
	fmt.Fprintf(w, "cversion = %d\n", st.Cversion)
	fmt.Fprintf(w, "dataVersion = %d\n", st.Version)
	fmt.Fprintf(w, "aclVersion = %d\n", st.Aversion)
	fmt.Fprintf(w, "ephemeralOwner = 0x%s\n", hex(st.EphemeralOwner))
	fmt.Fprintf(w, "dataLength = %d\n", st.DataLength)
	fmt.Fprintf(w, "numChildren = %d\n", st.NumChildren)
}

// PermString is ZKUtil.getPermString: the letters of perms in the order
// c, d, r, w, a.
func PermString(perms int32) string {
	var b strings.Builder
	for _, p := range []struct {
		bit int32
		c   byte
	}{{tree.PermCreate, 'c'}, {tree.PermDelete, 'd'}, {tree.PermRead, 'r'}, {tree.PermWrite, 'w'}, {tree.PermAdmin, 'a'}} {
		if perms&p.bit != 0 {
			b.WriteByte(p.c)
		}
	}
	return b.String()
}

// juteString is how jute's toString prints a ustring field: a leading
// quote and %-escapes for the CSV-significant characters.
func juteString(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case 0:
			b.WriteString("%00")
		case '\n':
			b.WriteString("%0A")
		case '\r':
			b.WriteString("%0D")
		case ',':
			b.WriteString("%2C")
		case '}':
			b.WriteString("%7D")
		case '%':
			b.WriteString("%25")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// WriteACL prints one ACL entry as getAcl does: the Id record's jute
// toString (which ends in a newline), then ": " and the permission letters.
func WriteACL(w io.Writer, a zk.ACL) {
	fmt.Fprintf(w, "%s,%s\n: %s\n", juteString(a.Scheme), juteString(a.ID), PermString(a.Perms))
}

// ParseACL is zkCli's AclParser: comma-separated scheme:id:perms entries,
// the id being everything between the first and the last colon. Malformed
// entries and unknown permission letters are reported on warn and skipped,
// as zkCli does.
func ParseACL(s string, warn io.Writer) []zk.ACL {
	var acl []zk.ACL
	for _, a := range strings.Split(s, ",") {
		first, last := strings.Index(a, ":"), strings.LastIndex(a, ":")
		if first == -1 || first == last {
			fmt.Fprintf(warn, "%s does not have the form scheme:id:perm\n", a)
			continue
		}
		var perms int32
		for _, c := range a[last+1:] {
			switch c {
			case 'r':
				perms |= tree.PermRead
			case 'w':
				perms |= tree.PermWrite
			case 'c':
				perms |= tree.PermCreate
			case 'd':
				perms |= tree.PermDelete
			case 'a':
				perms |= tree.PermAdmin
			default:
				fmt.Fprintf(warn, "Unknown perm type: %c\n", c)
			}
		}
		acl = append(acl, zk.ACL{Scheme: a[:first], ID: a[first+1 : last], Perms: perms})
	}
	return acl
}

// javaList is java.util.List.toString.
func javaList(items []string) string { return "[" + strings.Join(items, ", ") + "]" }

// ValidatePath applies ZooKeeper's client-side path rules
// (PathUtils.validatePath) and returns zkCli's message for a bad path, or
// "" if the path is fine. Indexes in messages count UTF-16 units, as Java's
// do. A sequential create's path is checked with a "1" appended.
func ValidatePath(path string, sequential bool) string {
	if sequential {
		path += "1"
	}
	if path == "" {
		return "Path length must be > 0"
	}
	if path[0] != '/' {
		return "Path must start with / character"
	}
	if len(path) == 1 {
		return ""
	}
	if path[len(path)-1] == '/' {
		return "Path must not end with / character"
	}
	u := utf16.Encode([]rune(path))
	reason := ""
	lastc := uint16('/')
	for i := 1; i < len(u); lastc, i = u[i], i+1 {
		c := u[i]
		next := func() bool { return i+1 == len(u) || u[i+1] == '/' }
		switch {
		case c == 0:
			reason = fmt.Sprintf("null character not allowed @%d", i)
		case c == '/' && lastc == '/':
			reason = fmt.Sprintf("empty node name specified @%d", i)
		case c == '.' && lastc == '.':
			if u[i-2] == '/' && next() {
				reason = fmt.Sprintf("relative paths not allowed @%d", i)
			}
		case c == '.':
			if u[i-1] == '/' && next() {
				reason = fmt.Sprintf("relative paths not allowed @%d", i)
			}
		case c > 0 && c <= 0x1f, c >= 0x7f && c <= 0x9f, c >= 0xd800 && c <= 0xf8ff, c >= 0xfff0:
			reason = fmt.Sprintf("invalid character @%d", i)
		}
		if reason != "" {
			return fmt.Sprintf("Invalid path string \"%s\" caused by %s", path, reason)
		}
	}
	return ""
}

// codeMessages are KeeperException.Code's messages (getCodeMessage).
var codeMessages = map[tree.Code]string{
	tree.CodeOK: "ok", tree.CodeSystemError: "SystemError",
	tree.CodeRuntimeInconsistency: "RuntimeInconsistency",
	tree.CodeDataInconsistency:    "DataInconsistency",
	tree.CodeConnectionLoss:       "ConnectionLoss", tree.CodeMarshallingError: "MarshallingError",
	tree.CodeNewConfigNoQuorum: "NewConfigNoQuorum", tree.CodeReconfigInProgress: "ReconfigInProgress",
	tree.CodeUnimplemented: "Unimplemented", tree.CodeOperationTimeout: "OperationTimeout",
	tree.CodeBadArguments: "BadArguments", tree.CodeAPIError: "APIError",
	tree.CodeNoNode: "NoNode", tree.CodeNoAuth: "NoAuth", tree.CodeBadVersion: "BadVersion",
	tree.CodeNoChildrenForEphemerals: "NoChildrenForEphemerals", tree.CodeNodeExists: "NodeExists",
	tree.CodeInvalidACL: "InvalidACL", tree.CodeAuthFailed: "AuthFailed",
	tree.CodeNotEmpty: "Directory not empty", tree.CodeSessionExpired: "Session expired",
	tree.CodeInvalidCallback: "Invalid callback", tree.CodeSessionMoved: "Session moved",
	tree.CodeNotReadOnly: "Not a read-only call", tree.CodeEphemeralOnLocalSession: "Ephemeral node on local session",
	tree.CodeNoWatcher: "No such watcher", tree.CodeReconfigDisabled: "Reconfig is disabled",
	tree.CodeSessionClosedRequireSASLAuth: "Session closed because client failed to authenticate",
	tree.CodeQuotaExceeded:                "Quota has exceeded", tree.CodeThrottledOp: "Op throttled due to high load",
}

// KeeperMessage is KeeperException.getMessage(): "KeeperErrorCode = <code
// message>" plus " for <path>" when there is a path.
func KeeperMessage(c tree.Code, path string) string {
	m, ok := codeMessages[c]
	if !ok {
		m = fmt.Sprintf("Unknown error %d", int32(c))
	}
	if path == "" {
		return "KeeperErrorCode = " + m
	}
	return "KeeperErrorCode = " + m + " for " + path
}

// CliMessage is the line zkCli prints for a ZooKeeper error on path
// (CliWrapperException): a friendlier sentence for the common codes,
// KeeperMessage for the rest.
func CliMessage(c tree.Code, path string) string {
	switch c {
	case tree.CodeNoNode:
		return "Node does not exist: " + path
	case tree.CodeNoChildrenForEphemerals:
		return "Ephemerals cannot have children: " + path
	case tree.CodeNodeExists:
		return "Node already exists: " + path
	case tree.CodeNotEmpty:
		return "Node not empty: " + path
	case tree.CodeNotReadOnly:
		return "Not a read-only call: " + path
	case tree.CodeInvalidACL:
		return "Acl is not valid : " + path
	case tree.CodeNoAuth:
		return "Insufficient permission : " + path
	case tree.CodeBadArguments:
		return "Arguments are not valid : " + path
	case tree.CodeBadVersion:
		return "version No is not valid : " + path
	case tree.CodeReconfigInProgress:
		return "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)"
	case tree.CodeNewConfigNoQuorum:
		return "No quorum of new config is connected and up-to-date with the leader of last committed config - try invoking reconfiguration after new servers are connected and synced"
	case tree.CodeQuotaExceeded:
		return "Quota has exceeded : " + path
	}
	return KeeperMessage(c, path)
}
