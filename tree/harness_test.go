package tree

import (
	"testing"
)

// harness drives a tree through Prep → encode/decode → Apply → Applied the
// way the pipeline does, with a fake zxid counter and clock.
type harness struct {
	t    testing.TB
	tr   *Tree
	p    *Pending
	zxid int64
	now  int64
	log  []Txn // every txn applied, in order
}

func newHarness(t testing.TB, cfg Config) *harness {
	return &harness{t: t, tr: New(cfg), p: NewPending(), zxid: 0x100000000, now: 1_700_000_000_000}
}

func (h *harness) hdr(session int64) TxnHeader {
	h.zxid++
	h.now += 7
	return TxnHeader{Session: session, Cxid: int32(h.zxid & 0xffff), Zxid: h.zxid, Time: h.now}
}

// prep preps without applying.
func (h *harness) prep(session int64, req Request) (Txn, error) {
	h.t.Helper()
	txn, err := h.tr.Prep(h.p, req, h.hdr(session))
	if err != nil {
		h.zxid-- // the zxid is not used
	}
	return txn, err
}

// apply round-trips txn through the codec and applies it.
func (h *harness) apply(txn Txn) (Result, []WatchEvent) {
	h.t.Helper()
	dec, err := DecodeTxn(AppendTxn(nil, txn))
	if err != nil {
		h.t.Fatalf("decode of %+v: %v", txn, err)
	}
	res, evs := h.tr.ApplyResult(dec)
	h.p.Applied(dec.Zxid)
	h.log = append(h.log, dec)
	return res, evs
}

// do preps and applies one request; a failed prep returns its error result.
func (h *harness) do(session int64, req Request) (Result, []WatchEvent) {
	h.t.Helper()
	txn, err := h.prep(session, req)
	if err != nil {
		if me, ok := err.(*MultiError); ok {
			return me.Result(), nil
		}
		return Result{Err: CodeOf(err)}, nil
	}
	return h.apply(txn)
}

// must runs do and fails the test on an error.
func (h *harness) must(session int64, req Request) Result {
	h.t.Helper()
	res, _ := h.do(session, req)
	if res.Err != CodeOK {
		h.t.Fatalf("%v %s: got %v, want ok", req.Op, req.Path, res.Err)
	}
	return res
}

func (h *harness) stat(path string) Stat {
	h.t.Helper()
	st, ok := h.tr.StatOf(path)
	if !ok {
		h.t.Fatalf("stat %s: no node", path)
	}
	return st
}

func create(path string, data string, mode CreateMode) Request {
	return Request{Op: OpCreate, Path: path, Data: []byte(data), ACL: OpenACLUnsafe, Mode: mode}
}

func create2(path string, data string, mode CreateMode) Request {
	r := create(path, data, mode)
	r.Op = OpCreate2
	return r
}
