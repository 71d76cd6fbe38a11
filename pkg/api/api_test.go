package api

import "testing"

// TestDisplayName: the page and the CLI name a device alike.
func TestDisplayName(t *testing.T) {
	tests := []struct {
		name string
		d    Device
		want string
	}{
		{"owners_name", Device{Name: "Hall camera", Vendor: "Hikvision", Type: "camera", Hostnames: []string{"cam"}, MAC: "c0:56:e3:00:00:01"}, "Hall camera"},
		{"vendor_and_type", Device{Vendor: "Hikvision", Type: "camera", Hostnames: []string{"cam"}}, "Hikvision camera"},
		// Most recent last: the name it gives itself now, as alerts say.
		{"latest_host_name", Device{Hostnames: []string{"espressif", "kitchen-plug"}, MAC: "24:0a:c4:00:00:01"}, "kitchen-plug"},
		{"mac", Device{MAC: "24:0a:c4:00:00:01"}, "24:0a:c4:00:00:01"},
		// No signal named a type: the vendor alone, not "Apple unknown".
		{"vendor_of_unknown_type", Device{Vendor: "Apple", Type: "unknown", MAC: "3c:22:fb:11:22:33"}, "Apple"},
		{"host_name_of_unknown_type", Device{Type: "unknown", Hostnames: []string{"laptop"}, MAC: "3c:22:fb:11:22:33"}, "laptop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.DisplayName(); got != tt.want {
				t.Errorf("DisplayName = %q, want %q", got, tt.want)
			}
		})
	}
}
