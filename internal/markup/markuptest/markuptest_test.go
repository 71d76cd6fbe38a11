package markuptest

import (
	"strings"
	"testing"
)

// TestTwins: twins keep which strings are equal, whatever collides, and
// hold nothing that starts markup.
func TestTwins(t *testing.T) {
	for _, in := range [][]string{
		{"<", ">", "&", "Z", "Q", "\x00"},
		{"a<", "a>", "a<", "aZ", "", "block"},
		{"owner", "owner", "<b>", "\"b\"", "ZbZ", "QbQ"},
	} {
		tw := Twins(in...)
		for i := range in {
			if len(tw[i]) != len(in[i]) || strings.ContainsAny(tw[i], "<>&\"'\x00") {
				t.Errorf("%q: twin %q of %q", in, tw[i], in[i])
			}
			for j := range in {
				if (in[i] == in[j]) != (tw[i] == tw[j]) {
					t.Errorf("%q: twins %q: %d and %d equal %v, twins equal %v", in, tw, i, j, in[i] == in[j], tw[i] == tw[j])
				}
			}
		}
	}
}

// TestShapeRefuses: event handlers and links off the site fail the shape.
func TestShapeRefuses(t *testing.T) {
	for _, page := range []string{
		`<p onclick="x">a</p>`,
		`<a href="//evil.example/">a</a>`,
		`<form action="https://evil.example/"></form>`,
	} {
		if _, err := Shape([]byte(page)); err == nil {
			t.Errorf("%s: accepted", page)
		}
	}
	if _, err := Shape([]byte(`<a href="/devices/x">a</a>`)); err != nil {
		t.Errorf("a local link refused: %v", err)
	}
}
