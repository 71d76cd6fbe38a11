package rtsp

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// TestNoSecretKept checks that the decoding scratch of a Basic login is
// wiped once the login is classified: the flow of a camera stream may live
// for days, and the next login would overwrite only the front of it.
func TestNoSecretKept(t *testing.T) {
	s := inspecttest.NewSession(t, New(), "192.168.1.64:554")
	s.Client("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 2\r\nAuthorization: Basic " + basicAdmin + "\r\nAccept: application/sdp\r\n\r\n")
	_, an := s.Analyzer(t)
	a := an.(*analyzer)
	if a.proto == nil {
		t.Fatal("the analyzer was closed: nothing checked")
	}
	if a.scratch != [len(a.scratch)]byte{} {
		t.Errorf("scratch kept %q", bytes.TrimRight(a.scratch[:], "\x00"))
	}
	// Nowhere else in the analyzer either.
	raw := unsafe.Slice((*byte)(unsafe.Pointer(a)), unsafe.Sizeof(*a))
	for _, b := range []string{"admin:" + secret, secret, basicAdmin} {
		if bytes.Contains(raw, []byte(b)) {
			t.Errorf("the analyzer holds %q", b)
		}
	}
	if got := s.End().Findings(); len(got) != 1 {
		t.Errorf("got %d logins, want 1: %v", len(got), evidences(got))
	}
}
