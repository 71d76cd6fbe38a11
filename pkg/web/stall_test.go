package web

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestStallConnHalfCloses: net/http half-closes a connection through
// CloseWrite before it closes it after an error answer (a header or
// form too large), so that the client reads the answer rather than a
// reset; the write-stall wrapper passes CloseWrite on.
func TestStallConnHalfCloses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sl := stallListener{Listener: ln, timeout: time.Minute}
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := sl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if _, err := io.WriteString(server, "431 Request Header Fields Too Large"); err != nil {
		t.Fatal(err)
	}
	cw, ok := server.(interface{ CloseWrite() error })
	if !ok {
		t.Fatal("the connection has no CloseWrite: net/http closes it without a half-close")
	}
	if err := cw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(client) // ends at the half-close, not at Close
	if string(got) != "431 Request Header Fields Too Large" || err != nil {
		t.Errorf("client read %q, %v", got, err)
	}
}
