package server

import (
	"bufio"
	"context"
	"net"
	"testing"
	"time"
)

// A client that never finishes its request headers (slowloris) is cut off
// after the read-header timeout, instead of holding a connection forever.
func TestSlowHeadersAreCutOff(t *testing.T) {
	h := newTestHTTP(HTTPOptions{MaxBodyBytes: 1 << 20})
	h.readHeaderTimeout = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = h.Serve(ctx, ln, time.Second, discardLogger()) }()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")); err != nil { // no blank line: headers never end
		t.Fatal(err)
	}
	// Generous: only a server that never times the headers out waits this long.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = bufio.NewReader(conn).ReadString('\n')
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server still held the connection of a client that never finished its headers")
	}
}
