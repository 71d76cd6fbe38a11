package web

import (
	"math"
	"regexp"
	"strconv"
	"testing"
)

// TestBadgeContrast: the state, severity and channel badges write small
// white text on their colour, which must reach WCAG's 4.5:1 contrast so
// an owner with weak eyes or a phone in the sun can read "high" or
// "Quarantined".
func TestBadgeContrast(t *testing.T) {
	css, err := staticFS.ReadFile("static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z]+): #([0-9a-fA-F]{6})`).FindAllStringSubmatch(string(css), -1) {
		vars[m[1]] = m[2]
	}
	for _, name := range []string{"ok", "alert", "pending", "bad", "trusted", "off", "info", "low", "medium", "high", "critical"} {
		hex, ok := vars[name]
		if !ok {
			t.Errorf("style.css has no colour --%s", name)
			continue
		}
		if r := contrast(hex, "ffffff"); r < 4.5 {
			t.Errorf("white on --%s (#%s) has contrast %.2f:1, want at least 4.5:1", name, hex, r)
		}
	}
}

// contrast is WCAG 2's contrast ratio of two sRGB colours in hex.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func luminance(hex string) float64 {
	var c [3]float64
	for i := range c {
		v, _ := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
		s := float64(v) / 255
		if s <= 0.03928 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}
