package notice

import (
	"bytes"
	"fmt"
	"io"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/iotgw/iotgw/internal/markup"
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
// notice: its parsed shape is that of the page rendered from a harmless
// twin of each string (the same length, with < > & " ' NUL and non-ASCII
// bytes replaced by 'Z').
func FuzzNoticeStringsStayText(f *testing.F) {
	f.Add("Hall camera", "block", "telnet login with the factory default password")
	f.Add(`<script>alert(1)</script>`, "isolate", `"><img src=x onerror=alert(1)>`)
	f.Add("</b><!--", "updates-only", "</style><style>*{}")
	f.Add("\x00\xff", `" x="`, "")
	f.Fuzz(func(t *testing.T, name, mode, reason string) {
		render := func(name, mode, reason string) []string {
			var w markup.Writer
			page(&w, true, Info{Name: name, Mode: mode, Since: time.Date(2026, 5, 1, 9, 30, 0, 0, time.UTC), Reasons: []string{reason, name}})
			doc, err := html.Parse(bytes.NewReader(w.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			var shape []string
			var walk func(n *html.Node, depth int)
			walk = func(n *html.Node, depth int) {
				switch n.Type {
				case html.ElementNode:
					var keys []string
					for _, a := range n.Attr {
						keys = append(keys, a.Key)
					}
					shape = append(shape, fmt.Sprint(depth, n.Data, keys))
				case html.CommentNode:
					shape = append(shape, fmt.Sprint(depth, "comment"))
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c, depth+1)
				}
			}
			walk(doc, 0)
			return shape
		}
		harmless := func(s string) string {
			b := []byte(s)
			for i, c := range b {
				if strings.IndexByte("<>&\"'\x00", c) >= 0 || c >= 0x80 {
					b[i] = 'Z'
				}
			}
			return string(b)
		}
		got, want := render(name, mode, reason), render(harmless(name), harmless(mode), harmless(reason))
		if !slices.Equal(got, want) {
			t.Fatalf("%q %q %q changed the notice's structure:\n%q\nwant\n%q", name, mode, reason, got, want)
		}
	})
}
