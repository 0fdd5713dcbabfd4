package main

import (
	"io"
	stdnet "net"
	"testing"
	"time"
)

// While refusing, a connection is closed at once; after stop, the listener
// accepts for its new owner.
func TestRefuseUntilServing(t *testing.T) {
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	stop := refuseUntilServing(l)
	for range 3 {
		c, err := stdnet.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Fatalf("while recovering: read %d, %v; want the connection closed", n, err)
		} else if ne, ok := err.(stdnet.Error); ok && ne.Timeout() {
			t.Fatal("while recovering: the connection was left open")
		}
		c.Close()
	}
	stop()
	accepted := make(chan stdnet.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	c, err := stdnet.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc := <-accepted
	if sc == nil {
		t.Fatal("Accept failed after stop")
	}
	defer sc.Close()
	sc.Write([]byte("x"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(io.LimitReader(c, 1)); err != nil || string(b) != "x" {
		t.Fatalf("after stop: %q, %v", b, err)
	}
}
