package pastserver

import (
	"log/slog"
	stdnet "net"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/log"
	"zabd/net"
	"zabd/net/zktest"
	"zabd/tools/logread/datadirtest"
)

// A past state served read-only: go-zookeeper (which never says it
// accepts a read-only server) browses it with its usual calls, a watch
// registers, and a write is refused without changing anything.
func TestServePastState(t *testing.T) {
	txns := datadirtest.History()
	tr := datadirtest.TreeAt(txns, log.MakeZxid(1, 7))
	p := New(tr, time.Now)
	srv := net.NewServer(net.Config{Logger: slog.New(slog.DiscardHandler)}, p)
	p.SetDeliverer(srv.Deliver)
	ln, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Close)

	c := zktest.Connect(t, ln.Addr().String())
	data, st, err := c.Get("/app")
	if err != nil || string(data) != "multi" || st.Version != 2 || st.Mzxid != int64(log.MakeZxid(1, 7)) {
		t.Fatalf("get /app: %q %+v %v", data, st, err)
	}
	kids, _, err := c.Children("/app")
	if err != nil || len(kids) != 1 || kids[0] != "m1" {
		t.Fatalf("children of /app: %v %v", kids, err)
	}
	if _, _, _, err := c.ExistsW("/app/eph"); err != nil {
		t.Fatalf("exists with a watch: %v", err)
	}
	if _, err := c.Create("/new", nil, 0, zk.WorldACL(zk.PermAll)); err == nil {
		t.Fatal("a create on a past state was accepted")
	}
	if ok, _, _ := c.Exists("/new"); ok {
		t.Fatal("the refused create happened")
	}
	if _, err := c.Set("/app", []byte("x"), -1); err == nil {
		t.Fatal("a setData on a past state was accepted")
	}
	if st := p.Status(); st.Mode != "read-only" || st.WritesRefused == "" || st.LastZxid != int64(log.MakeZxid(1, 7)) || st.Sessions != 1 {
		t.Errorf("status %+v", st)
	}
}
