package device

import (
	"strings"
	"testing"
)

func TestCanonicalVendor(t *testing.T) {
	v, err := EmbeddedVendors()
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"Hangzhou Hikvision Digital Technology Co.,Ltd.": "Hikvision",
		"TP-LINK TECHNOLOGIES CO.,LTD.":                  "TP-Link",
		"TP-LINK":                                        "TP-Link",
		"Samsung Electronics":                            "Samsung",
		"SAMSUNG":                                        "Samsung",
		"Raspberry Pi Trading Ltd":                       "Raspberry Pi",
		"Signify Netherlands B.V.":                       "Philips Hue",
		"Intel Corporate":                                "Intel",
		"Sonos, Inc.":                                    "Sonos",
		"AVM GmbH":                                       "AVM",
		"LG Electronics":                                 "LG",
		"Acme Widgets Co.,Ltd.":                          "Acme Widgets",
		// Whole words only: these name no vendor of the table.
		"Spring Electronics Inc.": "Spring Electronics",
		"Algorithmics Ltd":        "Algorithmics",
	}
	for in, want := range tests {
		if got := v.Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVendorTable(t *testing.T) {
	v, err := ParseVendors(vendorTOML)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.list) < 40 {
		t.Fatalf("%d vendors", len(v.list))
	}
	for _, vi := range v.list {
		if vi.Policy == "" && !vi.Unsure {
			t.Errorf("%s: no policy and not marked unsure", vi.Name)
		}
	}
	for _, bad := range []struct{ doc, want string }{
		{"[[vendor]]\nname = \"A\"\npolicy = \"https://a.example/\"\nkind = \"psirt\"\n", "no source"},
		{"[[vendor]]\nname = \"A\"\nsource = \"s\"\npolicy = \"http://a.example/\"\nkind = \"psirt\"\n", "https"},
		{"[[vendor]]\nname = \"A\"\nsource = \"s\"\npolicy = \"https://a.example/\"\nkind = \"rumour\"\n", "kind"},
		{"[[vendor]]\nname = \"A\"\nsource = \"s\"\npolicy = \"https://a.example/\"\nkind = \"psirt\"\nnone_found = true\n", "none_found"},
		{"[[vendor]]\nname = \"A\"\nsource = \"s\"\n[[vendor]]\nname = \"A\"\nsource = \"s\"\n", "duplicate"},
		{"[[vendor]]\nname = \"A\"\nsource = \"s\"\nurl = \"x\"\n", "unknown key"},
	} {
		if _, err := ParseVendors([]byte(bad.doc)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseVendors(%q) = %v, want %q", bad.doc, err, bad.want)
		}
	}
}
