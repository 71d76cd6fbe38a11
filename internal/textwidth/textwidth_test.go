package textwidth

import (
	"fmt"
	"strings"
	"testing"
	"text/tabwriter"
)

func TestWidth(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    string
		want int
	}{
		{"empty", "", 0},
		{"ascii", "Hall camera", 11},
		{"latin_precomposed", "Küche-Lautsprecher", 18},
		{"latin_decomposed", "Ku\u0308che", 5},
		{"apostrophe", "Anna’s MacBook Pro", 18},
		{"han", "客厅音箱", 8},
		{"kana_and_ascii", "リビングTV", 10},
		{"hangul", "거실 스피커", 11},
		{"fullwidth_latin", "ＴＶ", 4},
		{"emoji", "Küchenwaage ⚖", 13},
		{"wide_emoji", "Cam 📷", 6},
		{"variation_selector", "\u2696\ufe0f", 1},
		{"cyrillic", "Кухня", 5},
		{"hebrew", "מטבח", 4},
		{"zero_width_joiner", "a\u200db", 2},
		// Spacing combining marks (Mc) take a column, as wcwidth counts
		// them: the vowel signs of Hindi, Bengali, Tamil names.
		{"devanagari_spacing_marks", "हिंदी", 4},
		{"tamil_spacing_marks", "சமையலறை", 7},
		// Decomposed Hangul (macOS writes names in NFD, as with
		// "latin_decomposed"): the vowel and final jamo join the
		// leading consonant's two columns.
		{"hangul_decomposed", "\u1100\u1165\u1109\u1175\u11af", 4},
		{"hangul_extended_b_decomposed", "\u1100\ud7b0", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Width(tc.s); got != tc.want {
				t.Errorf("Width(%q) = %d, want %d", tc.s, got, tc.want)
			}
		})
	}
}

func TestWriteColumns(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows [][]string
		want string
	}{
		{"none", nil, ""},
		{"ascii_as_tabwriter", [][]string{{"MAC", "NAME", "N"}, {"c0:56:e3:00:00:01", "Hall camera", "2"}, {"x", "", "10"}},
			"MAC                NAME         N\nc0:56:e3:00:00:01  Hall camera  2\nx                               10\n"},
		// A row's last cell sets no width, as with text/tabwriter.
		{"short_rows", [][]string{{"a", "bb", "c"}, {"dddd"}}, "a  bb  c\ndddd\n"},
		{"han", [][]string{{"NAME", "IP"}, {"客厅音箱", "192.168.1.10"}, {"TV", "192.168.1.11"}},
			"NAME      IP\n客厅音箱  192.168.1.10\nTV        192.168.1.11\n"},
		{"decomposed", [][]string{{"Ku\u0308che", "1"}, {"Kuche", "2"}}, "Ku\u0308che  1\nKuche  2\n"},
		{"hindi", [][]string{{"हिंदी", "1"}, {"Hindi", "2"}}, "हिंदी   1\nHindi  2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := WriteColumns(&b, tc.rows, 2); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tc.want)
			}
			if tc.name == "ascii_as_tabwriter" {
				var tb strings.Builder
				tw := tabwriter.NewWriter(&tb, 0, 4, 2, ' ', 0)
				for _, r := range tc.rows {
					fmt.Fprintln(tw, strings.Join(r, "\t"))
				}
				tw.Flush()
				if tb.String() != b.String() {
					t.Errorf("tabwriter writes\n%s\nWriteColumns\n%s", tb.String(), b.String())
				}
			}
		})
	}
}
