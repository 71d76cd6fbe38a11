package oui

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

func TestEmbeddedKnownOUIs(t *testing.T) {
	tab, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tab.Source, "registry date 20") || tab.Len() < 30000 {
		t.Fatalf("source %q, %d prefixes", tab.Source, tab.Len())
	}
	tests := []struct {
		prefix      uint32
		name, short string
	}{
		{0xc056e3, "Hangzhou Hikvision Digital Technology Co.,Ltd.", "Hikvision"},
		{0x50c7bf, "TP-LINK TECHNOLOGIES CO.,LTD.", "TP-LINK"},
		{0x8c79f5, "Samsung Electronics Co.,Ltd", "Samsung"},
		{0xb827eb, "Raspberry Pi Foundation", "Raspberry Pi"},
		{0x001132, "Synology Incorporated", "Synology"},
		{0x000b82, "Grandstream Networks, Inc.", "Grandstream"},
		{0x000c29, "VMware, Inc.", "VMware"},
		{0x3ca9f4, "Intel Corporate", "Intel"},
		{0x28cfda, "Apple, Inc.", "Apple"},
		{0x000000, "XEROX CORPORATION", "XEROX"}, // the first prefix
	}
	for _, tt := range tests {
		v, ok := tab.Lookup(tt.prefix)
		if !ok || v.Name != tt.name || v.Short != tt.short {
			t.Errorf("Lookup(%06x) = %+v, %v; want %q / %q", tt.prefix, v, ok, tt.name, tt.short)
		}
	}
	for _, p := range []uint32{0xffffff, 0x020000 /* locally administered */} {
		if v, ok := tab.Lookup(p); ok {
			t.Errorf("Lookup(%06x) = %+v, want none", p, v)
		}
	}
}

func TestLookupAllocatesNothing(t *testing.T) {
	tab, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { tab.Lookup(0xc056e3) }); n != 0 {
		t.Fatalf("Lookup allocates %v times", n)
	}
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"not_gzip", []byte("# hello, this is plain text"), "gzip"},
		{"no_header", gz("N 1\nA\nP 1\n000000 0\n"), "header"},
		{"name_count_zero", gz("# h\nN 0\nP 1\n000000 0\n"), "count"},
		{"missing_name", gz("# h\nN 2\nA\nP 1\n000000 0\n"), "count"},
		{"index_out_of_range", gz("# h\nN 1\nA\nP 1\n000000 1\n"), "name index"},
		{"unsorted", gz("# h\nN 1\nA\nP 2\n000002 0\n000001 0\n"), "order"},
		{"bad_hex", gz("# h\nN 1\nA\nP 1\n00zz00 0\n"), "prefix"},
		{"short_prefix_count", gz("# h\nN 1\nA\nP 2\n000001 0\n"), "prefix line"},
		{"trailing", gz("# h\nN 1\nA\nP 1\n000001 0\nextra\n"), "trailing"},
		{"huge_line", gz("# h\nN 1\n" + strings.Repeat("A", 5000) + "\nP 1\n000001 0\n"), "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(bytes.NewReader(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestParseSmall(t *testing.T) {
	tab, err := Parse(bytes.NewReader(gz("# test\nN 2\nAcme Widgets Inc.\tAcme\nPlain\nP 2\n000001 1\nabcdef 0\n")))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := tab.Lookup(0xabcdef); !ok || v.Name != "Acme Widgets Inc." || v.Short != "Acme" {
		t.Fatalf("got %+v %v", v, ok)
	}
	if v, ok := tab.Lookup(1); !ok || v.Name != "Plain" || v.Short != "Plain" {
		t.Fatalf("got %+v %v", v, ok)
	}
}

func BenchmarkLookup(b *testing.B) {
	tab, err := Embedded()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		tab.Lookup(0xc056e3)
	}
}

func BenchmarkParseEmbedded(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(compressed)); err != nil {
			b.Fatal(err)
		}
	}
}
