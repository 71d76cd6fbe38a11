package sip

import (
	"bytes"
	"strings"
	"testing"
	"unsafe"

	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// TestNoSecretKept checks what a Digest REGISTER leaves in the analyzer
// while its verdict is pending: the scratch holds at most the unescaped
// user name, and neither the response (the hashed secret) nor the nonce it
// is salted with is kept anywhere in the analyzer's state.
func TestNoSecretKept(t *testing.T) {
	const response = "397a7781e627ff0a8f94195c18d7909f"
	const nonce = "1701af566be182070084c6f740706bb"
	if !strings.Contains(digest, response) || !strings.Contains(digest, nonce) {
		t.Fatal("digest does not carry the response and nonce checked for")
	}
	s := inspecttest.NewSession(t, New(), "192.168.1.1:5060")
	s.Client(register + "CSeq: 69 REGISTER\r\n" + digest + agent + "Content-Length: 0\r\n\r\n")
	_, an := s.Analyzer(t)
	a := an.(*analyzer)
	if a.proto == nil {
		t.Fatal("the analyzer was closed: nothing checked")
	}
	if kept := bytes.TrimRight(a.scratch[:], "\x00"); len(kept) > 0 && string(kept) != "voi18062" {
		t.Errorf("scratch holds %q, want at most the user", kept)
	}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(a)), unsafe.Sizeof(*a))
	for _, b := range []string{response, nonce} {
		if bytes.Contains(raw, []byte(b)) {
			t.Errorf("the analyzer holds %q", b)
		}
	}
	for d := range a.half {
		for _, p := range a.half[d].creds {
			if strings.Contains(p.cred.SecretHash+p.cred.SecretShape+p.cred.User, response) {
				t.Errorf("a pending credential holds the response: %+v", p.cred)
			}
		}
	}
	if got := s.End().Findings(); len(got) != 1 {
		t.Errorf("got %d logins, want 1: %v", len(got), evidences(got))
	}
}
