package jute

import (
	"bytes"
	"fmt"
	"testing"

	"zabd/tree"
)

func BenchmarkDecodeRequest(b *testing.B) {
	multi := tree.Request{Op: tree.OpMulti}
	for i := range 10 {
		multi.Ops = append(multi.Ops, tree.Request{Op: tree.OpSetData, Path: fmt.Sprintf("/bench/node-%d", i), Data: make([]byte, 100), Version: -1})
	}
	for _, bc := range []struct {
		name string
		h    RequestHeader
		req  tree.Request
	}{
		{"create/value=100", RequestHeader{Xid: 1, Op: tree.OpCreate},
			tree.Request{Path: "/bench/node-0000000001", Data: bytes.Repeat([]byte("v"), 100), ACL: tree.OpenACLUnsafe}},
		{"getData", RequestHeader{Xid: 1, Op: tree.OpGetData}, tree.Request{Path: "/bench/node-0000000001", Watch: true}},
		{"multi/ops=10", RequestHeader{Xid: 1, Op: tree.OpMulti}, multi},
	} {
		b.Run(bc.name, func(b *testing.B) {
			frame := AppendRequest(nil, bc.h, bc.req)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := DecodeRequest(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendReply(b *testing.B) {
	children := make([]string, 100)
	for i := range children {
		children[i] = fmt.Sprintf("node-%010d", i)
	}
	stat := statp(testStat)
	multi := tree.Result{}
	for range 10 {
		multi.Results = append(multi.Results, tree.Result{Op: tree.OpSetData, Stat: stat})
	}
	for _, bc := range []struct {
		name string
		op   tree.Op
		res  tree.Result
	}{
		{"getData/value=100", tree.OpGetData, tree.Result{Data: bytes.Repeat([]byte("v"), 100), Stat: stat}},
		{"create2", tree.OpCreate2, tree.Result{Path: "/bench/node-0000000001", Stat: stat}},
		{"getChildren/children=100", tree.OpGetChildren, tree.Result{Children: children}},
		{"multi/ops=10", tree.OpMulti, multi},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				var at int
				buf, at = StartFrame(buf[:0])
				buf = AppendReply(buf, 7, 1<<32|5, bc.op, bc.res)
				buf = FinishFrame(buf, at)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}
