package rtsp

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// message is one RTSP message of a recorded conversation.
type message struct {
	fromClient bool
	data       []byte
}

// fakeCamera answers one RTSP connection on loopback as a camera that
// reads the login from the URL would: OPTIONS, DESCRIBE with describe's
// status (an SDP with one track for 200), SETUP and PLAY, then it hangs
// up. It returns the conversation, message by message, once the
// connection has ended.
func fakeCamera(ln net.Listener, describe string) <-chan []message {
	done := make(chan []message, 1)
	go func() {
		var talk []message
		defer func() { done <- talk }()
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		r := bufio.NewReader(conn)
		for {
			req, method, cseq, err := readRequest(r)
			if err != nil {
				return
			}
			talk = append(talk, message{true, req})
			status, head, body := "200 OK", "", ""
			switch method {
			case "OPTIONS":
				head = "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n"
			case "DESCRIBE":
				status = describe
				if describe == "200 OK" {
					body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=0\r\n"
					head = "Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
				}
			case "SETUP":
				head = "Session: 12345678;timeout=60\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"
			case "PLAY":
				head = "Session: 12345678\r\n"
			}
			resp := []byte("RTSP/1.0 " + status + "\r\nCSeq: " + cseq + "\r\nServer: fake camera\r\n" + head + "\r\n" + body)
			talk = append(talk, message{false, resp})
			if _, err := conn.Write(resp); err != nil || method == "PLAY" || status != "200 OK" {
				return
			}
		}
	}()
	return done
}

// readRequest reads one request with its body and returns it whole,
// with its method and CSeq.
func readRequest(r *bufio.Reader) (req []byte, method, cseq string, err error) {
	var b bytes.Buffer
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, "", "", err
		}
		b.WriteString(line)
		if method == "" {
			method, _, _ = strings.Cut(line, " ")
		}
		name, value, _ := strings.Cut(strings.TrimSpace(line), ":")
		switch strings.ToLower(name) {
		case "cseq":
			cseq = strings.TrimSpace(value)
		case "content-length":
			length, _ = strconv.Atoi(strings.TrimSpace(value))
		}
		if line == "\r\n" || line == "\n" {
			break
		}
	}
	if _, err := io.CopyN(&b, r, int64(length)); err != nil {
		return nil, "", "", err
	}
	return b.Bytes(), method, cseq, nil
}

// TestFFprobeURLLogins has a real player, ffprobe, send logins in the
// URL to a fake camera on loopback, and runs the analyzer with the real
// classifier over what they said: one finding per login, whatever the
// player repeats it with (OPTIONS, DESCRIBE, and SETUP with the track
// appended after the query).
func TestFFprobeURLLogins(t *testing.T) {
	testenv.SkipShort(t, "runs ffprobe")
	ffprobe, err := testenv.LookPath("ffprobe")
	if err != nil {
		t.Fatal("this test needs ffprobe: apt-get install ffmpeg (or scripts/deps.sh test)")
	}
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, describe  string
		kind                  event.Kind
		user, class, accepted string
		requests              []string // the methods ffprobe sent
	}{
		{"xiongmai_default", "/user=admin&password=&channel=1&stream=0.sdp?", "200 OK",
			event.KindDefaultCredentials, "a***", "default", "unknown", []string{"OPTIONS", "DESCRIBE", "SETUP", "PLAY"}},
		{"query_default", "/11?user=admin&pwd=123456", "200 OK",
			event.KindDefaultCredentials, "a***", "default", "unknown", []string{"OPTIONS", "DESCRIBE", "SETUP", "PLAY"}},
		{"query_refused", "/live/ch0?username=viewer&password=Tulip-Harbor-73", "401 Unauthorized",
			event.KindPlaintextCredentials, "vi***", "unique", "no", []string{"OPTIONS", "DESCRIBE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			talk := fakeCamera(ln, tt.describe)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			url := "rtsp://" + ln.Addr().String() + tt.path
			out, _ := exec.CommandContext(ctx, ffprobe, "-hide_banner", "-v", "error", "-rtsp_transport", "tcp", "-i", url).CombinedOutput()
			ln.Close() // the camera stops waiting if ffprobe never came
			conversation := <-talk

			var methods []string
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, cl, New())
			c := inspecttest.NewTCP(e, "192.168.1.10:50000", "192.168.1.64:554")
			for _, m := range conversation {
				if m.fromClient {
					method, _, _ := bytes.Cut(m.data, []byte(" "))
					methods = append(methods, string(method))
					c.ClientBytes(m.data)
				} else {
					c.ServerBytes(m.data)
				}
			}
			c.Close()
			e.Flush()
			if strings.Join(methods, " ") != strings.Join(tt.requests, " ") {
				t.Fatalf("ffprobe sent %v, want %v; ffprobe said: %s", methods, tt.requests, out)
			}
			f := col.Findings()
			if len(f) != 1 || f[0].Kind != tt.kind || f[0].Evidence["mechanism"] != "URL" || f[0].Evidence["user"] != tt.user ||
				f[0].Evidence["password_class"] != tt.class || f[0].Evidence["accepted"] != tt.accepted {
				t.Errorf("findings %v, want one %s by %s, %s, accepted %s; the conversation:\n%s",
					evidences(f), tt.kind, tt.user, tt.class, tt.accepted, transcript(conversation))
			}
			for _, s := range []string{"123456", "Tulip-Harbor-73", "viewer"} {
				if inspecttest.Leaks(t, col.Events, s) {
					t.Errorf("%q leaked", s)
				}
			}
		})
	}
}

func transcript(talk []message) string {
	var b strings.Builder
	for _, m := range talk {
		b.Write(m.data)
	}
	return b.String()
}
