package tree

import (
	"slices"
	"strings"
)

// Read answers a read request from the committed tree, as ZooKeeper 3.8's
// FinalRequestProcessor does. session is the requesting session (for
// getEphemerals); req.Auth are its ids for ACL checks. Watches are not
// registered here: the caller passes (req, result) to the watch registry.
//
//   - exists: no ACL check; a path with NUL is BadArguments; NoNode if absent.
//   - getData, getChildren, getChildren2, getAllChildrenNumber: NoNode, then
//     READ permission (NoAuth). Children are sorted by name.
//   - getACL: NoNode, then READ or ADMIN; without ADMIN, digest ids are shown
//     as "user:x".
//   - getEphemerals: the session's ephemerals in path order; req.Path is a
//     plain string prefix ("/a" matches "/ab"); empty, blank or "/" means all.
//   - multiRead: one result per op (getData → Op OpGetData, Data, Stat;
//     getChildren → Op OpGetChildren, Children; a failure → Op OpError and
//     its Err); the top-level Err is CodeOK. An op of any other type makes
//     the whole request CodeMarshallingError.
//
// Any other op gets CodeUnimplemented: it is not a tree read.
//
// Result.Data and Result.ACL may share memory with the tree (which never
// mutates them in place): callers must not modify them.
func (t *Tree) Read(req Request, session int64) Result {
	switch req.Op {
	case OpExists:
		if strings.IndexByte(req.Path, 0) >= 0 {
			return Result{Err: CodeBadArguments}
		}
		it := t.get(req.Path)
		if it == nil {
			return Result{Err: CodeNoNode}
		}
		st := it.stat()
		return Result{Stat: &st}
	case OpGetData:
		it, err := t.readable(req, PermRead)
		if err != CodeOK {
			return Result{Err: err}
		}
		st := it.stat()
		return Result{Data: it.value(), Stat: &st}
	case OpGetChildren:
		it, err := t.readable(req, PermRead)
		if err != CodeOK {
			return Result{Err: err}
		}
		return Result{Children: t.childNames(it)}
	case OpGetChildren2:
		it, err := t.readable(req, PermRead)
		if err != CodeOK {
			return Result{Err: err}
		}
		st := it.stat()
		return Result{Children: t.childNames(it), Stat: &st}
	case OpGetAllChildrenNumber:
		it, err := t.readable(req, PermRead)
		if err != CodeOK {
			return Result{Err: err}
		}
		return Result{Number: t.descendants(it)}
	case OpGetACL:
		it, err := t.readable(req, PermRead|PermAdmin)
		if err != CodeOK {
			return Result{Err: err}
		}
		st := it.stat()
		stored := t.acls.list(it.acl)
		acl := slices.Clone(stored)
		if checkACL(stored, PermAdmin, req.Auth) != nil {
			for i := range acl {
				if acl[i].ID.Scheme == SchemeDigest {
					acl[i].ID.ID = redactDigest(acl[i].ID.ID)
				}
			}
		}
		return Result{ACL: acl, Stat: &st}
	case OpGetEphemerals:
		all := t.Ephemerals(session)
		prefix := req.Path
		if trimmed := strings.TrimFunc(prefix, func(r rune) bool { return r <= ' ' }); trimmed == "" || trimmed == "/" {
			return Result{Paths: all}
		}
		out := make([]string, 0, len(all))
		for _, p := range all {
			if strings.HasPrefix(p, prefix) {
				out = append(out, p)
			}
		}
		return Result{Paths: out}
	case OpMultiRead:
		for _, op := range req.Ops {
			if op.Op != OpGetData && op.Op != OpGetChildren {
				return Result{Err: CodeMarshallingError}
			}
		}
		res := Result{Results: make([]Result, len(req.Ops))}
		for i, op := range req.Ops {
			op.Auth = req.Auth
			r := t.Read(op, session)
			if r.Err != CodeOK {
				r = Result{Op: OpError, Err: r.Err}
			} else {
				r.Op = op.Op
			}
			res.Results[i] = r
		}
		return res
	}
	return Result{Err: CodeUnimplemented}
}

// readable finds req.Path and checks perm (any of its bits) for req.Auth.
func (t *Tree) readable(req Request, perm int32) (*item, Code) {
	it := t.get(req.Path)
	if it == nil {
		return nil, CodeNoNode
	}
	if err := checkACL(t.acls.list(it.acl), perm, req.Auth); err != nil {
		return nil, CodeNoAuth
	}
	return it, CodeOK
}
