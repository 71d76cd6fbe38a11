package devname

import "testing"

func TestString(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Parts
		want string
	}{
		{"owner_name_first", Parts{Name: "Hall camera", Vendor: "Hikvision", Type: "camera", Hostname: "ipcam", MAC: "c0:56:e3:00:00:01"}, "Hall camera"},
		{"vendor_and_type", Parts{Vendor: "Hikvision", Type: "camera", Hostname: "ipcam", MAC: "c0:56:e3:00:00:01"}, "Hikvision camera"},
		{"vendor_alone", Parts{Vendor: "Hikvision", Hostname: "ipcam", MAC: "c0:56:e3:00:00:01"}, "Hikvision"},
		{"type_alone", Parts{Type: "camera", Hostname: "ipcam"}, "camera"},
		{"host_name", Parts{Hostname: "ipcam", MAC: "c0:56:e3:00:00:01"}, "ipcam"},
		{"mac", Parts{MAC: "c0:56:e3:00:00:01"}, "c0:56:e3:00:00:01"},
		{"nothing", Parts{}, ""},
		// A host name is the device's own choice, in any script since
		// mDNS names keep their UTF-8; one that shows as nothing (fillers
		// and marks that are letters to Unicode) names no one.
		{"utf8_host_name", Parts{Hostname: "Küche-Lautsprecher", MAC: "c0:56:e3:00:00:01"}, "Küche-Lautsprecher"},
		{"host_name_of_hangul_fillers", Parts{Hostname: "\u3164\u3164", MAC: "c0:56:e3:00:00:01"}, "c0:56:e3:00:00:01"},
		{"host_name_of_halfwidth_filler", Parts{Hostname: "\uffa0", MAC: "c0:56:e3:00:00:01"}, "c0:56:e3:00:00:01"},
		{"host_name_of_braille_blanks", Parts{Hostname: "\u2800 \u2800", MAC: "c0:56:e3:00:00:01"}, "c0:56:e3:00:00:01"},
		{"host_name_of_combining_marks", Parts{Hostname: "\u0301\u034f\u0308", MAC: "c0:56:e3:00:00:01"}, "c0:56:e3:00:00:01"},
		{"host_name_of_spaces", Parts{Hostname: "\u00a0\u3000", MAC: "c0:56:e3:00:00:01"}, "c0:56:e3:00:00:01"},
		{"filler_around_letters_kept", Parts{Hostname: "\u3164cam", MAC: "c0:56:e3:00:00:01"}, "\u3164cam"},
		{"owner_name_over_utf8_host_name", Parts{Name: "Küche", Hostname: "Küche", MAC: "c0:56:e3:00:00:01"}, "Küche"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestIsolate: a name in a right-to-left script is set apart between
// FSI and PDI, and no name keeps a bidirectional control that could
// reorder the text around it, an override or a stray PDI closing the
// isolate early included.
func TestIsolate(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"latin_bare", "Hall camera", "Hall camera"},
		{"empty", "", ""},
		{"hebrew", "מצלמה", "\u2068מצלמה\u2069"},
		{"arabic", "كاميرا المطبخ", "\u2068كاميرا المطبخ\u2069"},
		{"arabic_indic_digits", "cam ١٢", "\u2068cam ١٢\u2069"},
		{"hebrew_with_latin_and_digits", "מצלמה 2 (hall)", "\u2068מצלמה 2 (hall)\u2069"},
		{"override_in_latin", "cam\u202egnp.exe", "camgnp.exe"},
		{"override_in_hebrew", "מצלמה\u202e exe.", "\u2068מצלמה exe.\u2069"},
		{"override_in_arabic", "\u202eكاميرا\u202c", "\u2068كاميرا\u2069"},
		{"stray_pdi_closes_nothing", "מצלמה\u2069\u202e quarantined", "\u2068מצלמה quarantined\u2069"},
		{"isolates_and_marks", "\u2066a\u2067b\u2068c\u200e\u200f\u061cd\u202a\u202b\u202d", "abcd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Isolate(tc.in); got != tc.want {
				t.Errorf("Isolate(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
