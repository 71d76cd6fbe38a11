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
