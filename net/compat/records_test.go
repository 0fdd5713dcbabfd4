package compat

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
)

// Request bodies and reply decoders for the ops the scripts use. Each
// decoder turns a reply body into a result value that render can print.

// Create flags (CreateMode.toFlag).
const (
	modePersistent    int32 = 0
	modeEphemeral     int32 = 1
	modePersistentSeq int32 = 2
	modeEphemeralSeq  int32 = 3
	modeContainer     int32 = 4
	modeTTL           int32 = 5
	modeTTLSeq        int32 = 6
)

// Permission bits.
const (
	permRead   int32 = 1
	permWrite  int32 = 2
	permCreate int32 = 4
	permDelete int32 = 8
	permAdmin  int32 = 16
	permAll    int32 = 31
)

var openACL = []acl{{Perms: permAll, Scheme: "world", ID: "anyone"}}

func encCreate(path, data string, a []acl, flags int32) []byte {
	var e enc
	e.str(path)
	e.buf([]byte(data))
	e.acls(a)
	e.i32(flags)
	return e.b
}

func encCreateTTL(path, data string, a []acl, flags int32, ttl int64) []byte {
	e := enc{b: encCreate(path, data, a, flags)}
	e.i64(ttl)
	return e.b
}

func encPathWatch(path string, watch bool) []byte {
	var e enc
	e.str(path)
	e.boolean(watch)
	return e.b
}

func encPath(path string) []byte {
	var e enc
	e.str(path)
	return e.b
}

func encPathInt(path string, v int32) []byte {
	var e enc
	e.str(path)
	e.i32(v)
	return e.b
}

func encSetData(path, data string, version int32) []byte {
	var e enc
	e.str(path)
	e.buf([]byte(data))
	e.i32(version)
	return e.b
}

func encSetACL(path string, a []acl, version int32) []byte {
	var e enc
	e.str(path)
	e.acls(a)
	e.i32(version)
	return e.b
}

func encAuth(scheme, auth string) []byte {
	var e enc
	e.i32(0)
	e.str(scheme)
	e.buf([]byte(auth))
	return e.b
}

// ---- results ----

// result is a decoded reply body; render prints it with zxids, times and
// session ids normalised by nz.
type result interface {
	render(nz *normalizer) string
	stats() []stat
}

type rNone struct{}

func (rNone) render(*normalizer) string { return "" }
func (rNone) stats() []stat             { return nil }

type rPath struct{ Path string }

func (r rPath) render(*normalizer) string { return fmt.Sprintf("path=%q", r.Path) }
func (rPath) stats() []stat               { return nil }

type rPathStat struct {
	Path string
	Stat stat
}

func (r rPathStat) render(nz *normalizer) string {
	return fmt.Sprintf("path=%q %s", r.Path, nz.stat(r.Stat))
}
func (r rPathStat) stats() []stat { return []stat{r.Stat} }

type rStat struct{ Stat stat }

func (r rStat) render(nz *normalizer) string { return nz.stat(r.Stat) }
func (r rStat) stats() []stat                { return []stat{r.Stat} }

type rData struct {
	Data []byte
	Stat stat
}

func (r rData) render(nz *normalizer) string {
	d := "null"
	if r.Data != nil {
		d = fmt.Sprintf("%q", r.Data)
	}
	return fmt.Sprintf("data=%s %s", d, nz.stat(r.Stat))
}
func (r rData) stats() []stat { return []stat{r.Stat} }

// rChildren: children sorted, because ZooKeeper returns them in hash order
// and no client may rely on it.
type rChildren struct {
	Children []string
	Stat     *stat
}

func (r rChildren) render(nz *normalizer) string {
	c := append([]string(nil), r.Children...)
	sort.Strings(c)
	s := fmt.Sprintf("children=%q", c)
	if r.Children == nil {
		s = "children=null"
	}
	if r.Stat != nil {
		s += " " + nz.stat(*r.Stat)
	}
	return s
}
func (r rChildren) stats() []stat {
	if r.Stat == nil {
		return nil
	}
	return []stat{*r.Stat}
}

type rACL struct {
	ACL  []acl
	Stat stat
}

func (r rACL) render(nz *normalizer) string {
	return fmt.Sprintf("acl=%s %s", renderACL(r.ACL), nz.stat(r.Stat))
}
func (r rACL) stats() []stat { return []stat{r.Stat} }

func renderACL(a []acl) string {
	if a == nil {
		return "null"
	}
	var parts []string
	for _, x := range a {
		parts = append(parts, fmt.Sprintf("%s:%s:%s", x.Scheme, x.ID, permString(x.Perms)))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func permString(p int32) string {
	var b strings.Builder
	for _, f := range []struct {
		bit int32
		c   byte
	}{{permCreate, 'c'}, {permDelete, 'd'}, {permRead, 'r'}, {permWrite, 'w'}, {permAdmin, 'a'}} {
		if p&f.bit != 0 {
			b.WriteByte(f.c)
		}
	}
	if rest := p &^ permAll; rest != 0 {
		fmt.Fprintf(&b, "+%#x", rest)
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

type rInt struct {
	Name string
	N    int32
}

func (r rInt) render(*normalizer) string { return fmt.Sprintf("%s=%d", r.Name, r.N) }
func (rInt) stats() []stat               { return nil }

// rStrings: a sorted list (getEphemerals answers in no defined order).
type rStrings struct {
	Name string
	L    []string
}

func (r rStrings) render(*normalizer) string {
	l := append([]string(nil), r.L...)
	sort.Strings(l)
	return fmt.Sprintf("%s=%q", r.Name, l)
}
func (rStrings) stats() []stat { return nil }

// rMulti is a multi/multiRead answer: one line per op result.
type rMulti struct{ Results []multiResult }

type multiResult struct {
	Op  int32
	Err int32
	R   result
}

func (r rMulti) render(nz *normalizer) string {
	var parts []string
	for i, m := range r.Results {
		s := fmt.Sprintf("\n      [%d] %s", i, opName(m.Op))
		if m.Op == opError {
			s += " err=" + codeName(m.Err)
		}
		if m.R != nil {
			if x := m.R.render(nz); x != "" {
				s += " " + x
			}
		}
		parts = append(parts, s)
	}
	return "results:" + strings.Join(parts, "")
}

func (r rMulti) stats() []stat {
	var out []stat
	for _, m := range r.Results {
		if m.R != nil {
			out = append(out, m.R.stats()...)
		}
	}
	return out
}

// rBytes: an undecoded body, printed as hex (for replies to unknown ops).
type rBytes struct{ B []byte }

func (r rBytes) render(*normalizer) string {
	if len(r.B) == 0 {
		return ""
	}
	return fmt.Sprintf("body=%x", r.B)
}
func (rBytes) stats() []stat { return nil }

var opNames = map[int32]string{
	opCreate: "create", opDelete: "delete", opExists: "exists", opGetData: "getData",
	opSetData: "setData", opGetACL: "getACL", opSetACL: "setACL", opGetChildren: "getChildren",
	opSync: "sync", opGetChildren2: "getChildren2", opCheck: "check", opMulti: "multi",
	opCreate2: "create2", opCheckWatches: "checkWatches", opRemoveWatches: "removeWatches",
	opCreateContainer: "createContainer", opCreateTTL: "createTTL", opMultiRead: "multiRead",
	opAuth: "auth", opGetEphemerals: "getEphemerals", opGetAllChildrenNumber: "getAllChildrenNumber",
	opAddWatch: "addWatch", opCloseSession: "closeSession", opError: "error",
}

func opName(op int32) string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return fmt.Sprintf("op(%d)", op)
}

// decodeReply decodes the body of a reply to op; an error reply has no
// body (except multi, whose body carries per-op results either way).
func decodeReply(op int32, r reply) (result, error) {
	if r.Err != 0 && len(r.Body) == 0 {
		return rNone{}, nil
	}
	if r.Err != 0 && op != opMulti && op != opMultiRead {
		return rBytes{r.Body}, nil
	}
	d := &dec{b: r.Body}
	res := decodeBody(op, d)
	if d.err != nil {
		return nil, fmt.Errorf("decoding %s reply %x: %w", opName(op), r.Body, d.err)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("decoding %s reply: %d trailing bytes %x", opName(op), len(d.b), d.b)
	}
	return res, nil
}

func decodeBody(op int32, d *dec) result {
	switch op {
	case opCreate:
		return rPath{d.str()}
	case opCreate2, opCreateTTL, opCreateContainer: // NB: createContainer answers like create2

		return rPathStat{d.str(), d.stat()}
	case opExists, opSetData, opSetACL:
		return rStat{d.stat()}
	case opGetData:
		return rData{d.buf(), d.stat()}
	case opGetChildren:
		return rChildren{Children: d.strs()}
	case opGetChildren2:
		c := d.strs()
		st := d.stat()
		return rChildren{Children: c, Stat: &st}
	case opGetACL:
		return rACL{d.acls(), d.stat()}
	case opSync:
		return rPath{d.str()}
	case opGetAllChildrenNumber:
		return rInt{"total", d.i32()}
	case opGetEphemerals:
		return rStrings{"ephemerals", d.strs()}
	case opMulti, opMultiRead:
		var m rMulti
		for i := 0; i < 1000 && d.err == nil; i++ {
			typ, done, herr := d.i32(), d.boolean(), d.i32()
			if done {
				break
			}
			mr := multiResult{Op: typ, Err: herr}
			switch typ {
			case opError:
				mr.Err = d.i32() // ErrorResponse
			case opDelete, opCheck:
			default:
				mr.R = decodeBody(typ, d)
			}
			m.Results = append(m.Results, mr)
		}
		return m
	default:
		if len(d.b) == 0 {
			return rNone{}
		}
		b := d.b
		d.b = nil
		return rBytes{b}
	}
}

// ---- multi ops ----

// mop is one op inside a multi or multiRead.
type mop struct {
	op   int32
	body []byte
	desc string
}

func mCreate(path, data string, flags int32) mop {
	return mop{opCreate, encCreate(path, data, openACL, flags), fmt.Sprintf("create %q flags=%d", path, flags)}
}
func mCreate2(path, data string, flags int32) mop {
	return mop{opCreate2, encCreate(path, data, openACL, flags), fmt.Sprintf("create2 %q flags=%d", path, flags)}
}
func mDelete(path string, v int32) mop {
	return mop{opDelete, encPathInt(path, v), fmt.Sprintf("delete %q v=%d", path, v)}
}
func mSet(path, data string, v int32) mop {
	return mop{opSetData, encSetData(path, data, v), fmt.Sprintf("setData %q %q v=%d", path, data, v)}
}
func mCheck(path string, v int32) mop {
	return mop{opCheck, encPathInt(path, v), fmt.Sprintf("check %q v=%d", path, v)}
}
func mGet(path string) mop {
	return mop{opGetData, encPathWatch(path, false), fmt.Sprintf("getData %q", path)}
}
func mChildren(path string) mop {
	return mop{opGetChildren, encPathWatch(path, false), fmt.Sprintf("getChildren %q", path)}
}

func encMulti(ops []mop) []byte {
	var e enc
	for _, o := range ops {
		e.i32(o.op)
		e.boolean(false)
		e.i32(-1)
		e.b = append(e.b, o.body...)
	}
	e.i32(-1)
	e.boolean(true)
	e.i32(-1)
	return e.b
}

// digest returns ZooKeeper's digest of user:password: base64(sha1(user:password)).
func digest(user, password string) string {
	h := sha1.Sum([]byte(user + ":" + password))
	return base64.StdEncoding.EncodeToString(h[:])
}
