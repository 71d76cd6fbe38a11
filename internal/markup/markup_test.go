package markup

import (
	"fmt"
	"html"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "Hall camera", "Hall camera"},
		{"empty", "", ""},
		{"script", "<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"quotes", `say "hi" it's`, "say &#34;hi&#34; it&#39;s"},
		{"ampersand", "a & b &amp;", "a &amp; b &amp;amp;"},
		{"plus", "a+b", "a&#43;b"},
		{"nul", "a\x00b", "a\uFFFDb"},
		{"invalid_utf8", "a\xffb\xfe", "a\uFFFDb\uFFFD"},
		{"truncated_rune", "\xe2\x82", "\uFFFD\uFFFD"},
		{"valid_utf8", "Wohnzimmer · Büro — 日本 \uFFFD", "Wohnzimmer · Büro — 日本 \uFFFD"},
		{"comment", "<!-- x -->", "&lt;!-- x --&gt;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w Writer
			w.Text(tc.in)
			if got := string(w.Bytes()); got != tc.want {
				t.Fatalf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestAttr(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "st-ok", ` class="st-ok"`},
		{"breakout", `x" onmouseover="alert(1)`, ` class="x&#34; onmouseover=&#34;alert(1)"`},
		{"single_quote", `x' y='z`, ` class="x&#39; y=&#39;z"`},
		{"tag", "<script>", ` class="&lt;script&gt;"`},
		{"javascript_value", "javascript:alert(1)", ` class="javascript:alert(1)"`},
		{"invalid_utf8", "\xc3", ` class="` + "\uFFFD" + `"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w Writer
			w.Attr("class", tc.in)
			if got := string(w.Bytes()); got != tc.want {
				t.Fatalf("Attr(class, %q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestURLAttr(t *testing.T) {
	for _, tc := range []struct {
		name   string
		write  func(w *Writer, part string)
		in     string
		want   string
		prefix string // what the value must start with
	}{
		{"mac", func(w *Writer, p string) { w.URLAttr("href", "/devices/", p, "") }, "c0:56:e3:1a:2b:3c", ` href="/devices/c0:56:e3:1a:2b:3c"`, "/devices/"},
		{"suffix", func(w *Writer, p string) { w.URLAttr("action", "/devices/", p, "/release") }, "c0:56:e3:1a:2b:3c", ` action="/devices/c0:56:e3:1a:2b:3c/release"`, "/devices/"},
		{"javascript_in_path", func(w *Writer, p string) { w.URLAttr("href", "/devices/", p, "") }, "javascript:alert(1)", ` href="/devices/javascript:alert%281%29"`, "/devices/"},
		{"dot_dot", func(w *Writer, p string) { w.URLAttr("href", "/devices/", p, "/x") }, "../../logout?a=b", ` href="/devices/..%2F..%2Flogout%3Fa=b/x"`, "/devices/"},
		{"breakout_in_path", func(w *Writer, p string) { w.URLAttr("href", "/devices/", p, "") }, `"><script>`, ` href="/devices/%22%3E%3Cscript%3E"`, "/devices/"},
		{"query", func(w *Writer, p string) { w.URLAttr("href", "/events?mac=", p, "") }, `a&b=c"<`, ` href="/events?mac=a%26b%3Dc%22%3C"`, "/events?mac="},
		{"query_javascript", func(w *Writer, p string) { w.URLAttr("href", "/events?mac=", p, "") }, "javascript:x", ` href="/events?mac=javascript%3Ax"`, "/events?mac="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w Writer
			tc.write(&w, tc.in)
			got := string(w.Bytes())
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			_, val, _ := strings.Cut(got, `="`)
			if !strings.HasPrefix(val, tc.prefix) || strings.Count(got, `"`) != 2 {
				t.Fatalf("%q does not keep its constant start %q inside one quoted value", got, tc.prefix)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(w *Writer)
	}{
		{"onclick", func(w *Writer) { w.Attr("onclick", "x") }},
		{"OnLoad", func(w *Writer) { w.Attr("OnLoad", "x") }},
		{"href", func(w *Writer) { w.Attr("href", "/x") }},
		{"xlink_href", func(w *Writer) { w.Attr("xlink:href", "/x") }},
		{"src", func(w *Writer) { w.Attr("src", "/x") }},
		{"style", func(w *Writer) { w.Attr("style", "color:red") }},
		{"action", func(w *Writer) { w.Attr("action", "/x") }},
		{"num_onclick", func(w *Writer) { w.NumAttr("onclick", 1) }},
		{"url_scheme", func(w *Writer) { w.URLAttr("href", "javascript:", "alert(1)", "") }},
		{"url_other_host", func(w *Writer) { w.URLAttr("href", "//evil.example/", "x", "") }},
		{"url_backslash", func(w *Writer) { w.URLAttr("href", "/\\evil.example/", "x", "") }},
		{"url_absolute", func(w *Writer) { w.URLAttr("href", "https://evil.example/", "x", "") }},
		{"url_empty", func(w *Writer) { w.URLAttr("href", "", "/x", "") }},
		{"srcdoc", func(w *Writer) { w.Attr("srcdoc", "<script>") }},
		{"svg_values", func(w *Writer) { w.Attr("values", "javascript:alert(1)") }},
		{"svg_to", func(w *Writer) { w.Attr("to", "javascript:alert(1)") }},
		{"formaction", func(w *Writer) { w.Attr("formaction", "/x") }},
		{"url_onclick", func(w *Writer) { w.URLAttr("onclick", "/x", "y", "") }},
		{"url_src", func(w *Writer) { w.URLAttr("src", "/x", "y", "") }},
		{"num_href", func(w *Writer) { w.NumAttr("href", 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("accepted")
				}
			}()
			var w Writer
			tc.f(&w)
		})
	}
}

func TestNumbers(t *testing.T) {
	for _, v := range []float64{0, 600, 327, 1.5, -0.25, 58 - 6 - 3*40.0/4, 2.0 / 3, 1e21, 1e-7, math.Inf(1), math.NaN()} {
		var w Writer
		w.NumAttr("x", v)
		if got, want := string(w.Bytes()), fmt.Sprintf(` x="%v"`, v); got != want {
			t.Errorf("NumAttr(%v) = %q, want %q", v, got, want)
		}
	}
	for _, n := range []int{0, 7, -3, math.MaxInt64, math.MinInt64} {
		var w Writer
		w.Int(n)
		if got, want := string(w.Bytes()), fmt.Sprint(n); got != want {
			t.Errorf("Int(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestRawAndOrder(t *testing.T) {
	var w Writer
	w.Raw(`<p class="x">`)
	w.Text("a<b")
	w.Raw(`<a`)
	w.URLAttr("href", "/devices/", "m", "")
	w.Attr("title", "t")
	w.Raw(`>`)
	w.Int(3)
	w.Raw(`</a></p>`)
	if got, want := string(w.Bytes()), `<p class="x">a&lt;b<a href="/devices/m" title="t">3</a></p>`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// FuzzText: escaped data never holds a character that ends text or a
// quoted attribute, is valid UTF-8, and unescapes to the input (with NUL
// and invalid bytes as U+FFFD).
func FuzzText(f *testing.F) {
	for _, s := range []string{"", "<script>", `"'&+`, "\x00\xff", "&#34;", "é\xe2\x82"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var w Writer
		w.Text(s)
		out := string(w.Bytes())
		if strings.ContainsAny(out, "<>\"'\x00") || !utf8.ValidString(out) {
			t.Fatalf("Text(%q) = %q", s, out)
		}
		var want strings.Builder
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == 0 {
				r = utf8.RuneError
			}
			want.WriteRune(r)
			i += n
		}
		if got := html.UnescapeString(out); got != want.String() {
			t.Fatalf("Text(%q) = %q unescapes to %q", s, out, got)
		}
	})
}
