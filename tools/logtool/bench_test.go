package logtool

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"zabd/engine"
	"zabd/log"
	"zabd/tools/logread"
	"zabd/tree"
)

// benchTxns is the size of the benchmarks' log: creates of 100-byte
// znodes from 32 sessions, as `zabctl bench -w create --value-size 100`
// writes them, in 64 MiB native segments.
const benchTxns = 300_000

var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
)

// benchDataDir writes the benchmarks' native data dir once per process.
func benchDataDir(b *testing.B) *logread.DataDir {
	b.Helper()
	benchOnce.Do(func() {
		benchDir, benchErr = writeBenchDir()
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	d, err := logread.Open(benchDir, logread.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func writeBenchDir() (string, error) {
	dir, err := tempDir()
	if err != nil {
		return "", err
	}
	e, err := engine.Open("native", dir, engine.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return "", err
	}
	defer e.Close()
	data := make([]byte, 100)
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	var batch []log.Record
	for i := 1; i <= benchTxns; i++ {
		z := log.MakeZxid(1, uint32(i))
		txn := tree.Txn{TxnHeader: tree.TxnHeader{Session: 0x1000a2b3c0000 + int64(i%32), Cxid: int32(i / 32), Zxid: int64(z),
			Time: start + int64(i)/10, Type: tree.OpCreate}, Path: fmt.Sprintf("/zabbench/run/s%02d-%010d", i%32, i/32), Data: data,
			ACL: tree.OpenACLUnsafe, Kind: tree.KindPersistent, ParentCversion: int32(i)}
		batch = append(batch, log.Record{Zxid: z, Data: tree.AppendTxn(nil, txn)})
		if len(batch) == 4096 || i == benchTxns {
			if err := e.Append(context.Background(), batch); err != nil {
				return "", err
			}
			batch = batch[:0]
		}
	}
	return dir, e.Close()
}

// BenchmarkDumpNative: log dump's text of every txn (to io.Discard); the
// target is >= 1M txns/s (txns/s is reported).
func BenchmarkDumpNative(b *testing.B) {
	d := benchDataDir(b)
	b.ResetTimer()
	for b.Loop() {
		res, err := Dump(io.Discard, d, DumpOptions{})
		if err != nil || res.Printed != benchTxns {
			b.Fatal(res.Printed, err)
		}
	}
	b.ReportMetric(float64(benchTxns*b.N)/b.Elapsed().Seconds(), "txns/s")
}

// BenchmarkVerifyNative: log verify of the same dir.
func BenchmarkVerifyNative(b *testing.B) {
	d := benchDataDir(b)
	b.ResetTimer()
	for b.Loop() {
		if rep := Verify(d, VerifyOptions{}); !rep.Sound() {
			b.Fatal("not sound")
		}
	}
	b.ReportMetric(float64(benchTxns*b.N)/b.Elapsed().Seconds(), "txns/s")
}

func tempDir() (string, error) { return os.MkdirTemp("", "logtool-bench") }

// TestMain removes the benchmarks' data dir, if one was written.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}
