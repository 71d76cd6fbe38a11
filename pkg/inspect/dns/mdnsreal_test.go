package dns

import (
	"encoding/hex"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// avahiAnnouncement is an announcement avahi-daemon 0.8 sent (recorded on
// a namespace LAN): host name "Küche-Lautsprecher", the instance "Anna’s
// MacBook Pro" (U+2019, as Apple names devices) with _device-info,
// _airplay and _googlecast records, the Cast fn holding an en dash and
// an ß past byte 64; names compressed throughout.
var avahiAnnouncement = mustHex(
	"000084000000000e0000000014416e6e61e2809973204d6163426f6f6b2050726f0c5f6465766963652d696e666f045f" +
		"746370056c6f63616c0000108001000011940020146d6f64656c3d4d6163426f6f6b50726f31382c310a6f7378766572" +
		"733d32320b5f676f6f676c6563617374c02e000c000100001194001714416e6e61e2809973204d6163426f6f6b205072" +
		"6fc064c07c0021800100000078001c000000001f49134bc3bc6368652d4c6175747370726563686572c033c0a5001c80" +
		"01000000780010fe80000000000000f6f5d8fffe000004c0a500018001000000780004c0a85828c07c00108001000011" +
		"940066136d643d476f6f676c65204e657374204d696e6951666e3d576f686e7a696d6d657220e28093204c6175747370" +
		"726563686572206e6562656e2064656d2067726fc39f656e2046656e73746572206d697420426c69636b206175662064" +
		"656e2047617274656e095f7365727669636573075f646e732d7364045f756470c033000c0001000011940002c064085f" +
		"616972706c6179c02e000c000100001194001714416e6e61e2809973204d6163426f6f6b2050726fc17ec19300218001" +
		"000000780008000000001b58c0a5c1930010800100001194004c1a64657669636569643d41413a42423a43433a44443a" +
		"45453a4646146d6f64656c3d4d6163426f6f6b50726f31382c310f737263766572733d3632302e382e320b6f73766572" +
		"733d31332e34c159000c0001000011940002c17ec021000c0001000011940002c00cc00c002180010000007800080000" +
		"00000000c0a5c159000c0001000011940002c021")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// TestMDNSRecorded reads announcements real responders sent. DNS-SD names
// and TXT values are UTF-8 (RFC 6763 4.1.1, 6.5): they stay readable,
// cut on a character boundary.
func TestMDNSRecorded(t *testing.T) {
	tests := []struct {
		name    string
		source  string
		packets [][]byte
		want    []want
	}{
		{"avahi_utf8_names", "192.168.88.40:5353", [][]byte{avahiAnnouncement}, []want{{event.KindMDNS, "192.168.88.40", map[string]string{
			"hostname":  "Küche-Lautsprecher",
			"addresses": "192.168.88.40,fe80::f6f5:d8ff:fe00:4",
			"services":  "_airplay._tcp,_device-info._tcp,_googlecast._tcp",
			"instance":  "Anna’s MacBook Pro",
			"txt_md":    "Google Nest Mini",
			"txt_fn":    "Wohnzimmer – Lautsprecher neben dem großen Fenster mit Blick",
			"txt_model": "MacBookPro18,1", "txt_osxvers": "22", "-txt_deviceid": ""}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewUDP(e, tt.source, "224.0.0.251:5353")
			for _, p := range tt.packets {
				c.ClientBytes(p)
			}
			e.Flush()
			checkEvents(t, col.Events, tt.want)
		})
	}
}
