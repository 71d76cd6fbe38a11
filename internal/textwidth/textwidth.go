// Package textwidth measures text as a terminal lays it out: the columns
// a string takes, which for device names in any script is neither its
// bytes nor its runes. A Han character or a wide emoji takes two
// columns, a combining mark that does not space or a format character
// none, as the C library's wcwidth counts them.
//
// The wide ranges are those of Unicode's East Asian Width property
// (UAX #11, W and F) in the blocks device names use: Hangul, CJK,
// kana, fullwidth forms and the emoji that present as pictures. An
// ambiguous-width character counts one, as terminals outside East Asian
// locales draw it.
package textwidth

import (
	"io"
	"strings"
	"unicode"
)

// Width is the number of terminal columns s takes.
func Width(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

// WriteColumns writes rows as a table for a terminal, each line ending
// in a newline: every cell but a row's last is padded with spaces to the
// Width of its column's widest cell plus gap. text/tabwriter counts runes,
// which puts the columns after a Han or a decomposed name out of line.
func WriteColumns(w io.Writer, rows [][]string, gap int) error {
	var widths []int
	for _, row := range rows {
		for i, cell := range row[:max(len(row)-1, 0)] {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], Width(cell))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		for i, cell := range row {
			b.WriteString(cell)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-Width(cell)+gap))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func runeWidth(r rune) int {
	switch {
	case r < 0x20 || r == 0x7f:
		return 0
	case r < 0x300:
		return 1
	// A spacing mark (Mc: a Devanagari or Tamil vowel sign) takes a
	// column of its own; the vowel and final jamo of decomposed Hangul
	// join the leading consonant's two columns.
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf), unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) && r != '\u3164' && r != '\uffa0',
		0x1160 <= r && r <= 0x11ff, 0xd7b0 <= r && r <= 0xd7ff:
		return 0
	case wide(r):
		return 2
	}
	return 1
}

// wide reports whether r is East Asian Wide or Fullwidth.
func wide(r rune) bool {
	switch {
	case r < 0x1100:
		return false
	case r <= 0x115f, // Hangul initial consonants
		r == 0x231a, r == 0x231b, r == 0x2329, r == 0x232a,
		0x23e9 <= r && r <= 0x23ec, r == 0x23f0, r == 0x23f3,
		r == 0x25fd, r == 0x25fe, r == 0x2614, r == 0x2615,
		0x2648 <= r && r <= 0x2653, r == 0x267f, r == 0x2693, r == 0x26a1,
		r == 0x26aa, r == 0x26ab, r == 0x26bd, r == 0x26be, r == 0x26c4, r == 0x26c5,
		r == 0x26ce, r == 0x26d4, r == 0x26ea, r == 0x26f2, r == 0x26f3, r == 0x26f5,
		r == 0x26fa, r == 0x26fd, r == 0x2705, r == 0x270a, r == 0x270b, r == 0x2728,
		r == 0x274c, r == 0x274e, 0x2753 <= r && r <= 0x2755, r == 0x2757,
		0x2795 <= r && r <= 0x2797, r == 0x27b0, r == 0x27bf,
		r == 0x2b1b, r == 0x2b1c, r == 0x2b50, r == 0x2b55:
		return true
	case 0x2e80 <= r && r <= 0x303e, // CJK radicals … CJK symbols and punctuation
		0x3041 <= r && r <= 0x33ff, // kana, bopomofo, Hangul compatibility jamo, CJK compatibility
		0x3400 <= r && r <= 0x4dbf, // CJK extension A
		0x4e00 <= r && r <= 0x9fff, // CJK unified ideographs
		0xa000 <= r && r <= 0xa4cf, // Yi
		0xa960 <= r && r <= 0xa97f, // Hangul jamo extended A
		0xac00 <= r && r <= 0xd7a3, // Hangul syllables
		0xf900 <= r && r <= 0xfaff, // CJK compatibility ideographs
		0xfe10 <= r && r <= 0xfe19, // vertical forms
		0xfe30 <= r && r <= 0xfe6f, // CJK compatibility forms, small forms
		0xff00 <= r && r <= 0xff60, // fullwidth forms
		0xffe0 <= r && r <= 0xffe6,
		0x16fe0 <= r && r <= 0x16fe4,
		0x17000 <= r && r <= 0x18cff, // Tangut
		0x1b000 <= r && r <= 0x1b2ff, // kana supplement, Nushu
		r == 0x1f004, r == 0x1f0cf, r == 0x1f18e, 0x1f191 <= r && r <= 0x1f19a,
		0x1f200 <= r && r <= 0x1f251, // enclosed ideographic supplement
		0x1f300 <= r && r <= 0x1f320, 0x1f32d <= r && r <= 0x1f335, 0x1f337 <= r && r <= 0x1f37c,
		0x1f37e <= r && r <= 0x1f393, 0x1f3a0 <= r && r <= 0x1f3ca, 0x1f3cf <= r && r <= 0x1f3d3,
		0x1f3e0 <= r && r <= 0x1f3f0, r == 0x1f3f4, 0x1f3f8 <= r && r <= 0x1f43e, r == 0x1f440,
		0x1f442 <= r && r <= 0x1f4fc, 0x1f4ff <= r && r <= 0x1f53d, 0x1f54b <= r && r <= 0x1f54e,
		0x1f550 <= r && r <= 0x1f567, r == 0x1f57a, r == 0x1f595, r == 0x1f596, r == 0x1f5a4,
		0x1f5fb <= r && r <= 0x1f64f, 0x1f680 <= r && r <= 0x1f6c5, r == 0x1f6cc,
		0x1f6d0 <= r && r <= 0x1f6d2, 0x1f6d5 <= r && r <= 0x1f6d7, 0x1f6dc <= r && r <= 0x1f6df,
		r == 0x1f6eb, r == 0x1f6ec, 0x1f6f4 <= r && r <= 0x1f6fc, 0x1f7e0 <= r && r <= 0x1f7eb,
		r == 0x1f7f0, 0x1f90c <= r && r <= 0x1f93a, 0x1f93c <= r && r <= 0x1f945,
		0x1f947 <= r && r <= 0x1f9ff, 0x1fa70 <= r && r <= 0x1faff,
		0x20000 <= r && r <= 0x2fffd, // CJK extensions B–F
		0x30000 <= r && r <= 0x3fffd: // CJK extension G
		return true
	}
	return false
}
