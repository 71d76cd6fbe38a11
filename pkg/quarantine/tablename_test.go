package quarantine

import (
	"strings"
	"testing"
)

func TestCheckTableName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // part of the error; "" for accepted
	}{
		{"iotgw", ""},
		{"iot-gw_2", ""},
		{strings.Repeat("a", maxTableName), ""},
		{"", "not an nft identifier"},
		{"4fw", "not an nft identifier"},
		{"_x", "not an nft identifier"},
		{"iotgw fw4", "not an nft identifier"},
		{`a"b`, "not an nft identifier"},
		{"naïve", "not an nft identifier"},
		{strings.Repeat("a", maxTableName+1), "not an nft identifier"},
		{"fw4", "OpenWrt's firewall (fw4) table"},
		{"filter", "iptables-nft's table"},
		{"broute", "ebtables-nft's table"},
	} {
		err := CheckTableName(tc.name)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckTableName(%.20q) = %v, want %q", tc.name, err, tc.want)
		}
	}
}
