package rtsp

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// TestNoSecretKept checks that the decoding scratch of a Basic login is
// wiped once the login is classified, and that no password stays in the
// analyzer: the flow of a camera stream may live for days, and the next
// login would overwrite only the front of it. Some cameras take the
// password in the URL, whose path is hashed, not kept, and whose login
// is decoded in the same scratch.
func TestNoSecretKept(t *testing.T) {
	tests := []struct {
		name    string
		request string
		logins  int
	}{
		{"basic_header", "DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 2\r\nAuthorization: Basic " + basicAdmin + "\r\nAccept: application/sdp\r\n\r\n", 1},
		{"password_in_the_path", "DESCRIBE rtsp://192.168.1.64:554/user=admin_password=" + secret + "_channel=1_stream=0.sdp RTSP/1.0\r\nCSeq: 2\r\n\r\n", 1},
		{"password_in_the_query", "DESCRIBE rtsp://192.168.1.64:554/11?user=admin&pwd=" + secret + " RTSP/1.0\r\nCSeq: 2\r\n\r\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewSession(t, New(), "192.168.1.64:554")
			s.Client(tt.request)
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
			if got := s.End().Findings(); len(got) != tt.logins {
				t.Errorf("got %d logins, want %d: %v", len(got), tt.logins, evidences(got))
			}
		})
	}
}
