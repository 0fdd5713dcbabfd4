package logtool

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"zabd/log"
	"zabd/tree"
)

// Change is one znode that differs between two states.
type Change struct {
	Kind string // "created", "deleted" or "changed"
	Path string
	// For "changed": what differs. Children lists the names added and
	// removed (a child's own creation or deletion is a Change too).
	Data, ACL                      bool
	ChildrenAdded, ChildrenRemoved []string
	Before, After                  *tree.Node // nil where the node does not exist
}

// Diff compares two states of a tree, a before and an after, and returns
// every znode created, deleted or changed (data, ACL or children), in
// path order. A node deleted and created again in between with the same
// data and ACL shows as changed (recreated: its czxid moved).
func Diff(before, after *tree.Tree) []Change {
	old := make(map[string]*tree.Node, before.NodeCount())
	before.Walk("", func(p string, n *tree.Node) bool {
		o := *n // Walk reuses n
		old[p] = &o
		return true
	})
	var out []Change
	after.Walk("", func(p string, walked *tree.Node) bool {
		a := *walked // Walk reuses walked
		n := &a
		o, ok := old[p]
		if !ok {
			out = append(out, Change{Kind: "created", Path: p, After: n})
			return true
		}
		delete(old, p)
		c := Change{Kind: "changed", Path: p, Before: o, After: n}
		c.Data = !bytes.Equal(o.Data, n.Data) || (o.Data == nil) != (n.Data == nil) || o.Version != n.Version
		c.ACL = !slices.Equal(o.ACL, n.ACL) || o.Aversion != n.Aversion
		bk, _ := before.Children(p)
		ak, _ := after.Children(p)
		c.ChildrenAdded, c.ChildrenRemoved = setDiff(ak, bk), setDiff(bk, ak)
		if c.Data || c.ACL || len(c.ChildrenAdded) > 0 || len(c.ChildrenRemoved) > 0 || o.Czxid != n.Czxid {
			out = append(out, c)
		}
		return true
	})
	for p, n := range old {
		out = append(out, Change{Kind: "deleted", Path: p, Before: n})
	}
	slices.SortFunc(out, func(a, b Change) int { return cmp.Compare(a.Path, b.Path) })
	return out
}

// setDiff returns the names in a and not in b.
func setDiff(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// ChangeJSON is one line of WriteDiff's JSON output.
type ChangeJSON struct {
	Change          string    `json:"change"` // created, deleted, changed
	Path            string    `json:"path"`
	Data            bool      `json:"data_changed,omitempty"`
	ACL             bool      `json:"acl_changed,omitempty"`
	ChildrenAdded   []string  `json:"children_added,omitempty"`
	ChildrenRemoved []string  `json:"children_removed,omitempty"`
	Before          *NodeJSON `json:"before,omitempty"`
	After           *NodeJSON `json:"after,omitempty"`
}

func nodeJSON(p string, n *tree.Node) *NodeJSON {
	if n == nil {
		return nil
	}
	s := n.Stat()
	return &NodeJSON{Record: "node", Path: p, Kind: n.Kind.String(),
		Czxid: log.Zxid(s.Czxid).String(), Mzxid: log.Zxid(s.Mzxid).String(), Pzxid: log.Zxid(s.Pzxid).String(),
		Ctime: FormatTime(s.Ctime), Mtime: FormatTime(s.Mtime), Version: s.Version, Cversion: s.Cversion,
		Aversion: s.Aversion, EphemeralOwner: FormatSession(s.EphemeralOwner), DataLength: s.DataLength,
		NumChildren: s.NumChildren, ACL: formatACL(n.ACL)}
}

// WriteDiff writes changes one per line: text ("+ path", "- path",
// "~ path" with what changed) or JSON (ChangeJSON).
func WriteDiff(w io.Writer, changes []Change, asJSON bool) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	for _, c := range changes {
		if asJSON {
			if err := enc.Encode(ChangeJSON{Change: c.Kind, Path: c.Path, Data: c.Data, ACL: c.ACL,
				ChildrenAdded: c.ChildrenAdded, ChildrenRemoved: c.ChildrenRemoved,
				Before: nodeJSON(c.Path, c.Before), After: nodeJSON(c.Path, c.After)}); err != nil {
				return err
			}
			continue
		}
		switch c.Kind {
		case "created":
			n := c.After
			fmt.Fprintf(bw, "+ %s kind=%s czxid=%v data=%dB acl=%s\n", c.Path, n.Kind, log.Zxid(n.Czxid), len(n.Data), joinACL(n.ACL))
		case "deleted":
			n := c.Before
			fmt.Fprintf(bw, "- %s kind=%s czxid=%v data=%dB\n", c.Path, n.Kind, log.Zxid(n.Czxid), len(n.Data))
		default:
			b, a := c.Before, c.After
			fmt.Fprintf(bw, "~ %s", c.Path)
			if b.Czxid != a.Czxid {
				fmt.Fprintf(bw, " recreated czxid=%v->%v", log.Zxid(b.Czxid), log.Zxid(a.Czxid))
			}
			if c.Data {
				fmt.Fprintf(bw, " data=%dB->%dB version=%d->%d mzxid=%v->%v", len(b.Data), len(a.Data), b.Version, a.Version, log.Zxid(b.Mzxid), log.Zxid(a.Mzxid))
			}
			if c.ACL {
				fmt.Fprintf(bw, " acl=%s->%s", joinACL(b.ACL), joinACL(a.ACL))
			}
			for _, k := range c.ChildrenAdded {
				fmt.Fprintf(bw, " +child=%s", k)
			}
			for _, k := range c.ChildrenRemoved {
				fmt.Fprintf(bw, " -child=%s", k)
			}
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}
