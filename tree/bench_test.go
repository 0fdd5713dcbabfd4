package tree

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"
)

func BenchmarkApplyCreate(b *testing.B) {
	for _, size := range []int{16, 4096} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			tr := New(Config{})
			tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: 1, Type: OpCreate}, Path: "/b", ACL: OpenACLUnsafe, Kind: KindPersistent, ParentCversion: 1})
			data := make([]byte, size)
			zxid := int64(1)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				zxid++
				tr.Apply(Txn{
					TxnHeader: TxnHeader{Zxid: zxid, Time: zxid, Type: OpCreate},
					Path:      "/b/n" + strconv.FormatInt(zxid, 10),
					Data:      data, ACL: OpenACLUnsafe, Kind: KindPersistent,
					ParentCversion: int32(zxid),
				})
			}
		})
	}
}

func BenchmarkPrepCreate(b *testing.B) {
	for _, depth := range []int{0, 1000} {
		b.Run(fmt.Sprintf("pending=%d", depth), func(b *testing.B) {
			tr := New(Config{})
			tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: 1, Type: OpCreate}, Path: "/b", ACL: OpenACLUnsafe, Kind: KindPersistent, ParentCversion: 1})
			p := NewPending()
			var queue []Txn
			zxid := int64(1)
			req := Request{Op: OpCreate, ACL: OpenACLUnsafe, Mode: ModePersistentSequential, Path: "/b/n-",
				Auth: []Id{{SchemeIP, "127.0.0.1"}}}
			b.ReportAllocs()
			for b.Loop() {
				zxid++
				txn, err := tr.Prep(p, req, TxnHeader{Session: 1, Zxid: zxid, Time: zxid})
				if err != nil {
					b.Fatal(err)
				}
				queue = append(queue, txn)
				if len(queue) > depth {
					tr.Apply(queue[0])
					p.Applied(queue[0].Zxid)
					queue = queue[1:]
				}
			}
		})
	}
}

func BenchmarkGetChildren(b *testing.B) {
	tr := New(Config{})
	zxid := int64(1)
	tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: zxid, Type: OpCreate}, Path: "/big", ACL: OpenACLUnsafe, Kind: KindPersistent, ParentCversion: 1})
	tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: zxid + 1, Type: OpCreate}, Path: "/small", ACL: OpenACLUnsafe, Kind: KindPersistent, ParentCversion: 1})
	zxid++
	// /big has 100k descendants; /small has 10 children: listing /small
	// must not depend on /big's size.
	for i := range 100 {
		zxid++
		p := fmt.Sprintf("/big/%03d", i)
		tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: zxid, Type: OpCreate}, Path: p, ACL: OpenACLUnsafe, Kind: KindPersistent, ParentCversion: int32(i + 1)})
		for j := range 1000 {
			zxid++
			tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: zxid, Type: OpCreate}, Path: fmt.Sprintf("%s/%04d", p, j), ACL: OpenACLUnsafe, Kind: KindPersistent, ParentCversion: int32(j + 1)})
		}
	}
	for i := range 10 {
		zxid++
		tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: zxid, Type: OpCreate}, Path: fmt.Sprintf("/small/%d", i), ACL: OpenACLUnsafe, Kind: KindPersistent, ParentCversion: int32(i + 1)})
	}
	for _, path := range []string{"/small", "/big"} {
		b.Run("path="+path, func(b *testing.B) {
			req := Request{Op: OpGetChildren, Path: path}
			b.ReportAllocs()
			for b.Loop() {
				if r := tr.Read(req, 0); r.Err != CodeOK {
					b.Fatal(r.Err)
				}
			}
		})
	}
}

// BenchmarkTreeMemory builds a tree of 200,000 znodes shaped as zabctl
// bench's creates leave it (sequential children of one directory, 100-byte
// values, the open ACL, each path and value its own allocation as a
// decoded txn has them) and reports what the tree holds per znode after a
// collection: live heap bytes, heap objects, and the time a full
// collection takes with the tree live (the mark work the tree costs).
func BenchmarkTreeMemory(b *testing.B) {
	const n = 200_000
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		tr := New(Config{})
		tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: 1, Type: OpCreate}, Path: "/zabbench", ACL: OpenACLUnsafe, Kind: KindPersistent, ParentCversion: 1})
		tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: 2, Type: OpCreate}, Path: "/zabbench/create-4103165512718082-1a2b3c4d", ACL: OpenACLUnsafe, Kind: KindPersistent, ParentCversion: 1})
		for i := range n {
			zxid := int64(i + 3)
			data := make([]byte, 100)
			tr.Apply(Txn{
				TxnHeader: TxnHeader{Zxid: zxid, Time: zxid, Type: OpCreate},
				Path:      fmt.Sprintf("/zabbench/create-4103165512718082-1a2b3c4d/seq-%010d", i),
				Data:      data, ACL: []ACL{{Perms: PermAll, ID: Id{Scheme: "world", ID: "anyone"}}}, Kind: KindPersistent,
				ParentCversion: int32(i + 1),
			})
		}
		b.StopTimer()
		runtime.GC()
		start := time.Now()
		runtime.GC()
		gc := time.Since(start)
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/znode")
		b.ReportMetric(float64(after.HeapObjects-before.HeapObjects)/n, "objects/znode")
		b.ReportMetric(float64(gc.Microseconds())/1000*1e6/n, "gc-ms/1M-znodes")
		runtime.KeepAlive(tr)
		b.StartTimer()
	}
}

// BenchmarkSequentialCreates preps and applies sequential creates under a
// parent with a long path, as the load generator makes them, into a tree
// that already holds siblings: each create searches and inserts among
// keys whose parent part is equal and 45 bytes long.
func BenchmarkSequentialCreates(b *testing.B) {
	const parent = "/zabbench/create-4224442131750465-94a3362c"
	for _, siblings := range []int{1000, 200000} {
		b.Run(fmt.Sprintf("siblings=%d", siblings), func(b *testing.B) {
			tr := New(Config{})
			p := NewPending()
			zxid := int64(0)
			do := func(req Request) {
				zxid++
				txn, err := tr.Prep(p, req, TxnHeader{Session: 1, Zxid: zxid, Time: zxid})
				if err != nil {
					b.Fatal(err)
				}
				tr.Apply(txn)
				p.Applied(zxid)
			}
			do(Request{Op: OpCreate, ACL: OpenACLUnsafe, Mode: ModePersistent, Path: "/zabbench"})
			do(Request{Op: OpCreate, ACL: OpenACLUnsafe, Mode: ModePersistent, Path: parent})
			req := Request{Op: OpCreate, ACL: OpenACLUnsafe, Mode: ModePersistentSequential, Path: parent + "/n-", Data: make([]byte, 100)}
			for range siblings {
				do(req)
			}
			b.ReportAllocs()
			for b.Loop() {
				do(req)
			}
		})
	}
}
