package notice

import (
	"io"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/markup"
	"github.com/iotgw/iotgw/internal/markup/markuptest"
)

type fakeLookup map[netip.Addr]Info

func (f fakeLookup) NoticeFor(a netip.Addr) (Info, bool) { i, ok := f[a]; return i, ok }

func TestHandler(t *testing.T) {
	cam := netip.MustParseAddr("192.168.50.101")
	l := fakeLookup{cam: {Name: "Hall camera <script>", Mode: "block", Since: time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC),
		Reasons: []string{"TELNET login with factory-default credentials (user r***, accepted: yes)"}}}
	tests := []struct {
		remote string
		want   []string
		not    []string
	}{
		{"192.168.50.101:40000", []string{"Hall camera &lt;script&gt;", "factory-default", "1 May 2026"}, []string{"<script>"}},
		{"[::ffff:192.168.50.101]:40000", []string{"Hall camera"}, nil},
		{"192.168.50.199:40000", []string{"has cut this device off"}, []string{"Hall camera"}},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "http://example.com/anything", nil)
		req.RemoteAddr = tt.remote
		rec := httptest.NewRecorder()
		Handler(l).ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != 511 {
			t.Errorf("%s: status %d", tt.remote, rec.Code)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(body), w) {
				t.Errorf("%s: page lacks %q", tt.remote, w)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(string(body), n) {
				t.Errorf("%s: page contains %q", tt.remote, n)
			}
		}
	}
}

// FuzzNoticeStringsStayText: the device's name, mode and finding
// summaries never add an element, a comment or an attribute to the
// notice, nor an event handler or a link off the site: its parsed shape
// is that of the page rendered from harmless twins of the strings.
func FuzzNoticeStringsStayText(f *testing.F) {
	f.Add("Hall camera", "block", "telnet login with the factory default password")
	f.Add(`<script>alert(1)</script>`, "isolate", `"><img src=x onerror=alert(1)>`)
	f.Add("</b><!--", "updates-only", "</style><style>*{}")
	f.Add("\x00\xff", `" x="`, "")
	f.Fuzz(func(t *testing.T, name, mode, reason string) {
		render := func(name, mode, reason string) []string {
			var w markup.Writer
			page(&w, true, Info{Name: name, Mode: mode, Since: time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC), Reasons: []string{reason, name}})
			shape, err := markuptest.Shape(w.Bytes())
			if err != nil {
				t.Fatalf("%q %q %q: %v", name, mode, reason, err)
			}
			return shape
		}
		twin := markuptest.Twins(name, mode, reason)
		got, want := render(name, mode, reason), render(twin[0], twin[1], twin[2])
		if !slices.Equal(got, want) {
			t.Fatalf("%q %q %q changed the notice's structure:\n%s", name, mode, reason, markuptest.DiffLines(got, want))
		}
	})
}

// TestNoticeNameIsolated: the device's name (the owner's, which may be
// Hebrew or Arabic and hold an override: the page's form refuses only
// control characters) stands isolated in the sentence, so that it
// cannot turn " off on 1 May 2026 …" around.
func TestNoticeNameIsolated(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"hebrew_override", "מטבח\u202e"},
		{"arabic", "كاميرا المطبخ 2"},
		{"latin_override", "cam\u202egnp.exe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w markup.Writer
			page(&w, true, Info{Name: tc.in, Mode: "block", Since: time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC)})
			if want := "<b><bdi>" + tc.in + "</bdi></b> off on 1 May 2026"; !strings.Contains(string(w.Bytes()), want) {
				t.Errorf("page lacks %q:\n%s", want, w.Bytes())
			}
		})
	}
}
