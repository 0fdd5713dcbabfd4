package main

import (
	"fmt"
	"time"

	"zabd/engine"
	"zabd/net"
	"zabd/tree"
	"zabd/zab"
)

// processor adapts zab's standalone service to net.Processor (the two
// packages do not import each other).
type processor struct {
	svc   *zab.Service
	eng   engine.StatsReporter
	rates *rateWindow
}

var _ net.Processor = processor{}

func (p processor) CreateSession(timeout time.Duration, client string, readOnlyOK bool, done func(net.SessionID, []byte, bool, error)) {
	p.svc.CreateSession(timeout, client, readOnlyOK, func(sid int64, pw []byte, ro bool, err error) { done(net.SessionID(sid), pw, ro, err) })
}

func (p processor) ResumeSession(sid net.SessionID, pw []byte, timeout time.Duration) (ok, readOnly bool, err error) {
	if !p.svc.ResumeSession(int64(sid), pw, timeout) {
		return false, false, nil
	}
	return true, p.svc.ReadOnlySession(int64(sid)), nil
}

func (p processor) Touch(sid net.SessionID) bool { return p.svc.Touch(int64(sid)) }

// SessionExpiries is net.SessionExpiries: when each session expires.
func (p processor) SessionExpiries() map[int64][]int64 { return p.svc.SessionExpiries() }

func (p processor) CloseSession(sid net.SessionID, done func(tree.Result, error)) {
	p.svc.CloseSession(int64(sid), done)
}

func (p processor) Submit(sid net.SessionID, req tree.Request, done func(tree.Result, error)) {
	p.svc.Submit(int64(sid), req, done)
}

func (p processor) Read(sid net.SessionID, w tree.WatcherID, req tree.Request, answer func(tree.Result)) {
	p.svc.ReadAnswer(int64(sid), w, req, answer)
}

func (p processor) Watches(fn func(*tree.Tree, *tree.Watches) []tree.Delivery) {
	p.svc.WithWatches(fn)
}

func (p processor) LastZxid() int64 {
	var z int64
	p.svc.WithTree(func(t *tree.Tree) { z = t.LastZxid() })
	return z
}

func (p processor) Status() net.Status {
	st := net.Status{Mode: "standalone", Sessions: p.svc.SessionCount(), WritesRefused: p.svc.WritesRefused()}
	p.svc.WithTree(func(t *tree.Tree) { treeStatus(t, &st) })
	ps := p.svc.Stats()
	es := p.eng.Stats()
	perFsync := 0.0
	if es.Fsyncs > 0 {
		perFsync = float64(es.Records) / float64(es.Fsyncs)
	}
	fsyncRate, txnRate := p.rates.rates()
	st.Extra = [][2]string{
		{"fsyncs", fmt.Sprint(es.Fsyncs)},
		{"fsyncs_per_sec", fmt.Sprintf("%.1f", fsyncRate)}, // over the last 10 s
		{"txns_per_sec", fmt.Sprintf("%.1f", txnRate)},
		{"txns_per_fsync", fmt.Sprintf("%.2f", perFsync)},
		{"fsync_latency_last_us", fmt.Sprint(es.FsyncLatency.Last.Microseconds())},
		{"fsync_latency_avg_us", fmt.Sprint(es.FsyncLatency.Mean.Microseconds())},
		{"fsync_latency_max_us", fmt.Sprint(es.FsyncLatency.Max.Microseconds())},
		{"txns_applied", fmt.Sprint(ps.Txns)},
	}
	if ps.Failed != "" {
		st.Extra = append(st.Extra, [2]string{"storage_failure", ps.Failed})
	}
	return st
}

// treeStatus fills the tree's figures of a status (t held still).
func treeStatus(t *tree.Tree, st *net.Status) {
	st.LastZxid = t.LastZxid()
	st.NodeCount = t.NodeCount() + 1 // ZooKeeper also counts the "" alias of /
	st.ApproxDataSize = t.ApproximateDataSize()
	st.Ephemerals = t.EphemeralCount()
}
