package advisory_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/advisory"
	"github.com/iotgw/iotgw/pkg/device"
)

// TestDeviceSoftwareConverts holds the contract with the device layer:
// device.Software converts to advisory.Software with a plain conversion
// (same field names, types and order), and what the inventory records
// matches.
func TestDeviceSoftwareConverts(t *testing.T) {
	seen := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	d := device.Software{Product: "dropbear", Version: "2014.63", Source: "banner/ssh", Seen: seen, Distribution: "Debian"}
	sw := advisory.Software(d)
	if sw.Product != d.Product || sw.Version != d.Version || sw.Source != d.Source || !sw.Seen.Equal(seen) || sw.Distribution != d.Distribution {
		t.Fatalf("conversion lost a field: %+v", sw)
	}
	h, err := advisory.NewHolder(advisory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ms := h.Current().Match([]advisory.Software{sw}); len(ms) == 0 || !reflect.DeepEqual(ms[0].Software, sw) {
		t.Errorf("converted software did not match: %+v", ms)
	}
}
