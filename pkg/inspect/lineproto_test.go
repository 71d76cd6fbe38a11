package inspect

import (
	"net/netip"
	"strings"
	"testing"
)

// lineRecorder is an analyzer reading lines that writes down what it is
// handed. Its raw bytes are the count announced by a line "{n}", as in
// IMAP; a line "CLOSE" stops the flow's inspection.
type lineRecorder struct {
	lines Lines
	got   []string
	raw   int
}

func (r *lineRecorder) Feed(f *Flow, dir Dir, data []byte) int { return r.lines.Feed(r, f, dir, data) }
func (r *lineRecorder) Gap(_ *Flow, dir Dir)                   { r.lines.Resync(dir) }
func (r *lineRecorder) Close(*Flow)                            {}

func (r *lineRecorder) Raw(dir Dir, b []byte) int {
	n := min(r.raw, len(b))
	r.raw -= n
	if n > 0 {
		r.got = append(r.got, dirName(dir)+" raw "+string(b[:n]))
	}
	return n
}

func (r *lineRecorder) ClientLine(f *Flow, line []byte) { r.line(f, ToServer, line) }
func (r *lineRecorder) ServerLine(f *Flow, line []byte) { r.line(f, ToClient, line) }

func (r *lineRecorder) line(f *Flow, dir Dir, line []byte) {
	r.got = append(r.got, dirName(dir)+" "+string(line))
	switch s := string(line); {
	case s == "CLOSE":
		f.StopInspection()
	case strings.HasPrefix(s, "{"):
		for _, c := range s[1 : len(s)-1] {
			r.raw = r.raw*10 + int(c-'0')
		}
	}
}

func dirName(dir Dir) string {
	if dir == ToServer {
		return "client"
	}
	return "server"
}

func TestLines(t *testing.T) {
	type feed struct {
		dir      Dir
		data     string
		gap      bool // a gap in dir before data
		consumed int
	}
	tests := []struct {
		name  string
		feeds []feed
		want  []string
	}{
		{"lines_both_ways", []feed{
			{ToClient, "+OK hi\r\n", false, 8},
			{ToServer, "USER a\nPASS b\r\nST", false, 15},
		}, []string{"server +OK hi", "client USER a", "client PASS b"}},
		{"raw_between_lines", []feed{
			{ToClient, "{3}\r\nabcDONE\r\n", false, 14},
		}, []string{"server {3}", "server raw abc", "server DONE"}},
		{"raw_split", []feed{
			{ToServer, "{5}\r\nab", false, 7},
			{ToServer, "cdeX\r\n", false, 6},
		}, []string{"client {5}", "client raw ab", "client raw cde", "client X"}},
		{"gap_drops_fragment", []feed{
			{ToServer, "SS secret\r\nQUIT\r\n", true, 17},
		}, []string{"client QUIT"}},
		{"gap_fragment_without_end", []feed{
			{ToServer, "SS secr", true, 7},
			{ToServer, "et\r\nQUIT\r\n", false, 10},
		}, []string{"client QUIT"}},
		{"gap_is_per_direction", []feed{
			{ToServer, "", true, 0},
			{ToClient, "+OK\r\n", false, 5},
		}, []string{"server +OK"}},
		{"closed_drops_rest", []feed{
			{ToClient, "CLOSE\r\nafter\r\n", false, 14},
		}, []string{"server CLOSE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &lineRecorder{}
			f := NewFlow(netip.MustParseAddrPort("192.168.1.10:40000"), netip.MustParseAddrPort("203.0.113.5:143"), IPProtocolTCP)
			f.setAnalyzer(r, f.engine.seatOf(f))
			for i, fd := range tt.feeds {
				if fd.gap {
					r.Gap(f, fd.dir)
				}
				if n := r.Feed(f, fd.dir, []byte(fd.data)); n != fd.consumed {
					t.Errorf("feed %d consumed %d, want %d", i, n, fd.consumed)
				}
			}
			if strings.Join(r.got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("handled %q, want %q", r.got, tt.want)
			}
		})
	}
}

func TestFirstLine(t *testing.T) {
	for in, want := range map[string]string{"USER a\r\nPASS": "USER a", "HELO": "HELO", "": ""} {
		if got := string(FirstLine([]byte(in))); got != want {
			t.Errorf("FirstLine(%q) = %q, want %q", in, got, want)
		}
	}
}
