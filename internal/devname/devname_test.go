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
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
