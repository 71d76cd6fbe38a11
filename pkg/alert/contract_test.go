package alert

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestDeviceFieldsDocumented: every field of an alert's device that the
// webhook and MQTT receive is named, as its JSON key, where
// docs/alerts.md describes the alert: a consumer reads the meaning of
// name, hostname and type there.
func TestDeviceFieldsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/alerts.md")
	if err != nil {
		t.Fatal(err)
	}
	_, para, ok := strings.Cut(string(doc), "Each alert has a title and a body")
	if !ok {
		t.Fatal("docs/alerts.md no longer describes an alert's fields")
	}
	para, _, _ = strings.Cut(para, "```json")
	full := Device{MAC: "c0:56:e3:00:00:01", IP: "192.168.1.10", Name: "n", Vendor: "v", Type: "t", Model: "m", Hostname: "h", State: StateAlert}
	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if !strings.Contains(para, "`"+k+"`") {
			t.Errorf("device field %q is not named in docs/alerts.md's description of an alert", k)
		}
	}
}
