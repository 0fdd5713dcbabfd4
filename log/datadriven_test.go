package log

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"zabd/log/vfs"
)

// TestDataDriven runs the scripts in testdata/datadriven. Commands:
//
//	open [segment-bytes=N] [buffer-bytes=N]  open (or reopen); prints the report
//	append from=Z [count=K]      Append records Z..Z+K-1 (not synced)
//	sync | close
//	truncate-after z=Z | purge-before z=Z
//	read [from=Z]                iterate and print records
//	files                        segment files and sizes
//	describe                     Describe every segment file
//	crash [seed=N]               power cut (torn unsynced appends if seed given)
//	corrupt file=I off=N         flip every bit of one byte of the I-th segment
//	cut file=I at=N              truncate the I-th segment to N bytes
//	extend file=I n=N [byte=B]   append N bytes of value B (default 0) to it
//
// Regenerate with: go test ./log -run TestDataDriven -rewrite
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/datadriven", func(t *testing.T, path string) {
		fsys := vfs.NewMem()
		var l *Log
		closeLog := func() {
			if l != nil {
				l.Close()
				l = nil
			}
		}
		segFile := func(td *datadriven.TestData) string {
			var i int
			td.ScanArgs(t, "file", &i)
			names, err := fsys.List(testDir)
			if err != nil || i >= len(names) {
				td.Fatalf(t, "no segment %d: %v", i, err)
			}
			return filepath.Join(testDir, names[i])
		}
		rewrite := func(p string, f func([]byte) []byte) {
			closeLog()
			b, err := vfs.ReadFile(fsys, p)
			if err != nil {
				t.Fatal(err)
			}
			b = f(b)
			if err := fsys.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := vfs.WriteFile(fsys, p, b); err != nil {
				t.Fatal(err)
			}
		}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			errOr := func(err error, ok string) string {
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				return ok + "\n"
			}
			needLog := func() {
				if l == nil {
					td.Fatalf(t, "log not open")
				}
			}
			switch td.Cmd {
			case "open":
				closeLog()
				var o Options
				td.MaybeScanArgs(t, "segment-bytes", &o.SegmentBytes)
				td.MaybeScanArgs(t, "buffer-bytes", &o.BufferBytes)
				var rep OpenReport
				var err error
				l, rep, err = Open(fsys, testDir, o)
				if err != nil {
					l = nil
					return errOr(err, "")
				}
				return rep.String() + "\n"
			case "append":
				needLog()
				var from uint64
				count := 1
				td.ScanArgs(t, "from", &from)
				td.MaybeScanArgs(t, "count", &count)
				return errOr(l.Append(recs(seq(int(from), count)...)...), "ok")
			case "sync":
				needLog()
				return errOr(l.Sync(), "ok")
			case "close":
				needLog()
				err := l.Close()
				l = nil
				return errOr(err, "ok")
			case "truncate-after", "purge-before":
				needLog()
				var z uint64
				td.ScanArgs(t, "z", &z)
				if td.Cmd == "truncate-after" {
					return errOr(l.TruncateAfter(Zxid(z)), "ok")
				}
				return errOr(l.PurgeBefore(Zxid(z)), "ok")
			case "read":
				needLog()
				var from uint64
				td.MaybeScanArgs(t, "from", &from)
				it, err := l.Iter(Zxid(from))
				if err != nil {
					return errOr(err, "")
				}
				var b strings.Builder
				for it.Next() {
					fmt.Fprintf(&b, "%v %q\n", it.Record().Zxid, it.Record().Data)
				}
				if it.Err() != nil {
					fmt.Fprintf(&b, "error: %v\n", it.Err())
				}
				if b.Len() == 0 {
					return "(empty)\n"
				}
				return b.String()
			case "files":
				names, err := fsys.List(testDir)
				if err != nil {
					return errOr(err, "")
				}
				var b strings.Builder
				for _, n := range names {
					fi, _ := fsys.Stat(filepath.Join(testDir, n))
					fmt.Fprintf(&b, "%s %d\n", n, fi.Size())
				}
				return b.String()
			case "describe":
				names, _ := fsys.List(testDir)
				var b strings.Builder
				for _, n := range names {
					data, _ := vfs.ReadFile(fsys, filepath.Join(testDir, n))
					Describe(&b, n, data)
				}
				return b.String()
			case "crash":
				o := vfs.CrashOptions{}
				o.Torn = td.MaybeScanArgs(t, "seed", &o.Seed)
				fsys = fsys.CrashClone(o)
				l = nil
				return "ok\n"
			case "corrupt":
				var off int
				td.ScanArgs(t, "off", &off)
				rewrite(segFile(td), func(b []byte) []byte { b[off] ^= 0xff; return b })
				return "ok\n"
			case "extend":
				var n, v int
				td.ScanArgs(t, "n", &n)
				td.MaybeScanArgs(t, "byte", &v)
				rewrite(segFile(td), func(b []byte) []byte {
					for range n {
						b = append(b, byte(v))
					}
					return b
				})
				return "ok\n"
			case "cut":
				var at int
				td.ScanArgs(t, "at", &at)
				rewrite(segFile(td), func(b []byte) []byte {
					if at > len(b) {
						td.Fatalf(t, "cut at %d of a %d-byte file", at, len(b))
					}
					return b[:at]
				})
				return "ok\n"
			}
			td.Fatalf(t, "unknown command %q", td.Cmd)
			return ""
		})
		closeLog()
	})
}
