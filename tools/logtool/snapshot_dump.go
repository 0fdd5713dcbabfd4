package logtool

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"zabd/log"
	"zabd/snapshot"
	"zabd/tools/logread"
	"zabd/tree"
)

// SnapshotDumpOptions configure DumpSnapshot.
type SnapshotDumpOptions struct {
	JSON bool // one object per line: the header, then sessions, then nodes
}

// SnapshotHeaderJSON is the first line of DumpSnapshot's --json output.
type SnapshotHeaderJSON struct {
	Record    string `json:"record"` // "header"
	File      string `json:"file"`
	Version   int    `json:"version"`
	Codec     string `json:"codec"` // s2, zstd or none
	StartZxid string `json:"start_zxid"`
	// EndZxid is empty for a version 1 snapshot, which does not record it.
	EndZxid  string `json:"end_zxid"`
	Time     string `json:"time"`
	Nodes    int64  `json:"nodes"`
	Sessions int64  `json:"sessions"`
	Bytes    int64  `json:"bytes"`
}

// SessionJSON is one session of a snapshot.
type SessionJSON struct {
	Record    string `json:"record"` // "session"
	Session   string `json:"session"`
	TimeoutMs int32  `json:"timeout_ms"`
}

// NodeJSON is one znode of a snapshot: its stat as a client sees it.
type NodeJSON struct {
	Record         string   `json:"record"` // "node"
	Path           string   `json:"path"`
	Kind           string   `json:"kind"`
	Czxid          string   `json:"czxid"`
	Mzxid          string   `json:"mzxid"`
	Pzxid          string   `json:"pzxid"`
	Ctime          string   `json:"ctime"`
	Mtime          string   `json:"mtime"`
	Version        int32    `json:"version"`
	Cversion       int32    `json:"cversion"`
	Aversion       int32    `json:"aversion"`
	EphemeralOwner string   `json:"ephemeral_owner"`
	DataLength     int32    `json:"data_length"`
	NumChildren    int32    `json:"num_children"`
	ACL            []string `json:"acl"`
}

// DumpSnapshot reads the snapshot file at path whole (every checksum
// checked, read-only) and writes its header (start and end zxids), its
// sessions by id and its nodes in path order with their stat and data
// size.
func DumpSnapshot(w io.Writer, path string, o SnapshotDumpOptions) (snapshot.Meta, error) {
	t, m, err := logread.ReadSnapshotFile(path)
	if err != nil {
		return m, err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	end := ""
	if m.EndKnown() {
		end = m.EndZxid.String()
	}
	sessions := t.Sessions()
	ids := slices.Sorted(maps.Keys(sessions))
	if o.JSON {
		enc := json.NewEncoder(bw)
		enc.Encode(SnapshotHeaderJSON{Record: "header", File: path, Version: m.Version, Codec: m.Codec.String(), StartZxid: m.StartZxid.String(),
			EndZxid: end, Time: FormatTime(m.Time.UnixMilli()), Nodes: m.Nodes, Sessions: m.Sessions, Bytes: m.Bytes})
		for _, id := range ids {
			enc.Encode(SessionJSON{Record: "session", Session: FormatSession(id), TimeoutMs: sessions[id]})
		}
		t.Walk("", func(p string, n *tree.Node) bool {
			s := n.Stat()
			enc.Encode(NodeJSON{Record: "node", Path: p, Kind: n.Kind.String(),
				Czxid: log.Zxid(s.Czxid).String(), Mzxid: log.Zxid(s.Mzxid).String(), Pzxid: log.Zxid(s.Pzxid).String(),
				Ctime: FormatTime(s.Ctime), Mtime: FormatTime(s.Mtime), Version: s.Version, Cversion: s.Cversion,
				Aversion: s.Aversion, EphemeralOwner: FormatSession(s.EphemeralOwner), DataLength: s.DataLength,
				NumChildren: s.NumChildren, ACL: formatACL(n.ACL)})
			return true
		})
		return m, bw.Flush()
	}
	if end == "" {
		end = "unknown (format version 1)"
	} else {
		end = FormatZxid(m.EndZxid)
	}
	fmt.Fprintf(bw, "snapshot %s: format version %d (%s), start zxid %s, end zxid %s, taken %s, %d nodes, %d sessions, %d bytes\n",
		path, m.Version, m.Codec, FormatZxid(m.StartZxid), end, FormatTime(m.Time.UnixMilli()), m.Nodes, m.Sessions, m.Bytes)
	for _, id := range ids {
		fmt.Fprintf(bw, "session %s timeout=%dms\n", FormatSession(id), sessions[id])
	}
	t.Walk("", func(p string, n *tree.Node) bool {
		s := n.Stat()
		fmt.Fprintf(bw, "node %s kind=%s czxid=%v mzxid=%v pzxid=%v ctime=%s mtime=%s version=%d cversion=%d aversion=%d ephemeralOwner=%s dataLength=%d numChildren=%d acl=%s\n",
			p, n.Kind, log.Zxid(s.Czxid), log.Zxid(s.Mzxid), log.Zxid(s.Pzxid), FormatTime(s.Ctime), FormatTime(s.Mtime),
			s.Version, s.Cversion, s.Aversion, FormatSession(s.EphemeralOwner), s.DataLength, s.NumChildren, joinACL(n.ACL))
		return true
	})
	return m, bw.Flush()
}

func joinACL(acl []tree.ACL) string {
	s := ""
	for i, a := range formatACL(acl) {
		if i > 0 {
			s += ","
		}
		s += a
	}
	return s
}
