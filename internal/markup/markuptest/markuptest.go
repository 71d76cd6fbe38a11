// Package markuptest holds the oracle of the pages' fuzz tests: a page
// rendered from strings a device chose must parse, as a browser parses
// it, to the same elements and attributes as the page rendered from
// harmless twins of those strings, and keep its links on the site.
package markuptest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/net/html"
)

// Twins gives each string a harmless twin of the same length. The pages
// compare some strings with each other (the selected filter, map keys)
// and with their own constants, so equal strings get equal twins and
// different strings different ones: where two harmless forms collide,
// the later string gets a filler of capitals and digits instead. Page
// constants are lower case and hold none of the replaced bytes, so a
// twin equals a constant exactly when its string does.
func Twins(in ...string) []string {
	const fill = "QRSTUVWXY0123456789"
	out := make([]string, len(in))
	owner := map[string]string{} // twin → the string it stands for
	for i, s := range in {
		t := Harmless(s)
		for k := 0; ; k++ {
			if o, taken := owner[t]; !taken || o == s {
				break
			}
			// len(s) > 0: only one string is empty.
			if k == len(fill) {
				panic("markuptest: more distinct strings of one length than fillers")
			}
			t = strings.Repeat("Q", len(s)-1) + fill[k:k+1]
		}
		owner[t] = s
		out[i] = t
	}
	return out
}

// Harmless keeps s's length and every byte that cannot start markup.
func Harmless(s string) string {
	b := []byte(s)
	for i, c := range b {
		if strings.IndexByte("<>&\"'\x00", c) >= 0 || c >= 0x80 {
			b[i] = 'Z'
		}
	}
	return string(b)
}

// Shape lists a page's elements and comments in document order with
// their attribute names; text is left out. It refuses event-handler
// attributes and links that do not start with a local path.
func Shape(page []byte) ([]string, error) {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return nil, err
	}
	var out []string
	var walk func(n *html.Node, depth int) error
	walk = func(n *html.Node, depth int) error {
		switch n.Type {
		case html.ElementNode:
			var keys []string
			for _, a := range n.Attr {
				keys = append(keys, a.Namespace+":"+a.Key)
				if strings.HasPrefix(a.Key, "on") {
					return fmt.Errorf("<%s> has an event handler %s", n.Data, a.Key)
				}
				if (a.Key == "href" || a.Key == "action" || a.Key == "src") && (!strings.HasPrefix(a.Val, "/") || strings.HasPrefix(a.Val, "//")) {
					return fmt.Errorf("<%s %s=%q> leaves the site", n.Data, a.Key, a.Val)
				}
			}
			slices.Sort(keys)
			out = append(out, fmt.Sprintf("%*s<%s:%s %s>", depth, "", n.Namespace, n.Data, strings.Join(keys, " ")))
		case html.CommentNode:
			out = append(out, fmt.Sprintf("%*s<!-- -->", depth, ""))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(doc, 0)
}

// DiffLines shows where two shapes part.
func DiffLines(got, want []string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	at := func(s []string) string {
		if i < len(s) {
			return s[i]
		}
		return "(end)"
	}
	return fmt.Sprintf("node %d: got %s, want %s", i, at(got), at(want))
}
