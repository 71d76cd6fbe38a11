package inspect

import "testing"

func TestDotBody(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		rest   string // bytes after the terminator in the last chunk
		end    bool
	}{
		{"empty_body", []string{".\r\n"}, "", true},
		{"simple", []string{"a\r\nb\r\n.\r\nQUIT\r\n"}, "QUIT\r\n", true},
		{"dot_stuffed_line", []string{"..\r\n.x\r\n"}, "", false},
		{"split", []string{"a\r", "\n", ".", "\r", "\nX"}, "X", true},
		{"bare_lf", []string{"a\n.\nX"}, "X", true},
		{"dot_cr_no_lf", []string{".\rx\r\n"}, "", false},
		{"no_terminator", []string{"abc", "def\r\n"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s DotBody
			for i, ch := range tt.chunks {
				n, end := s.Scan([]byte(ch))
				if end {
					if i != len(tt.chunks)-1 || !tt.end || ch[n:] != tt.rest {
						t.Fatalf("ended in chunk %d with rest %q", i, ch[n:])
					}
					return
				}
				if n != len(ch) {
					t.Fatalf("consumed %d of %d without the end", n, len(ch))
				}
			}
			if tt.end {
				t.Error("terminator not found")
			}
		})
	}
}
