package lab

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
)

// TestLabNFLOG runs the daemon on the NFLOG fast path (capture.mode =
// "nflog"): it reads only what iotgw's own nftables rules copy, the first
// bytes of each forwarded connection, and must still catch the camera's
// default login to its cloud and quarantine it, and alert on the plug's
// MQTT password while the plug keeps working. The plug downloads in
// bulk first, so that its connection is passed on its mark; the laptop is
// untouched.
func TestLabNFLOG(t *testing.T) {
	requireLab(t)
	var devices []host
	for _, h := range homeDevices() {
		if h.role == "camera" || h.role == "plug" || h.role == "laptop" {
			devices = append(devices, h)
		}
	}
	l := newLab(t, labOptions{tag: "n", devices: devices, services: true})
	// A budget of 1 KiB a direction: a download's acknowledgements spend
	// it for certain (with GRO a 4 MB download is acknowledged in as few
	// as 6 KB), so the test can see the connection marked both ways.
	cfg, err := os.ReadFile(l.daemonConfig("nflog"))
	if err != nil {
		t.Fatal(err)
	}
	small := l.writeFile("iotgw-nflog-budget.toml", strings.Replace(string(cfg), "[capture]\n", "[capture]\nbudget_bytes = 1024\n", 1))
	d := l.newDaemon(testenv.BuildDaemon(t, l.dir), small)
	d.start(t)
	l.dhcp()
	cam, plug, laptop := l.hosts["camera"], l.hosts["plug"], l.hosts["laptop"]

	t.Run("plug_bulk_download", func(t *testing.T) {
		// Four megabytes through the router: the budget is spent both
		// ways long before the end.
		out, err := l.dev("plug", 20*time.Second, "curl", "-sS", "--max-time", "10", "-o", "/dev/null",
			"-w", "%{size_download}", "http://"+cloudHost+"/bulk.bin")
		if err != nil || strings.TrimSpace(out) != fmt.Sprint(bulkFileSize) {
			t.Fatalf("plug's bulk download: %q, %v", out, err)
		}
		// Both directions spent: the rules set both bits of the
		// default capture.conntrack_mark (0xc000) on the connection.
		table, err := l.in("router", 5*time.Second, "cat", "/proc/net/nf_conntrack")
		if err != nil {
			t.Fatal(err)
		}
		marked := false
		for _, line := range strings.Split(table, "\n") {
			if strings.Contains(line, "src="+plug.ip+" dst="+cloudHost+" ") && strings.Contains(line, " dport=80 ") {
				marked = marked || strings.Contains(line, fmt.Sprintf(" mark=%d ", 0xc000))
			}
		}
		if !marked {
			t.Errorf("no connection of the plug's download carries mark 0xc000:\n%s", table)
		}
	})

	t.Run("camera_quarantined_after_default_login", func(t *testing.T) {
		l.cameraLoginQuarantines(t, d, cam)
	})

	t.Run("plug_alerted_but_working", func(t *testing.T) {
		if out, err := l.dev("plug", 10*time.Second, append([]string{"mosquitto_pub"}, plugPublish()...)...); err != nil {
			t.Fatalf("the plug cannot publish: %v\n%s", err, out)
		}
		l.assertPlugAlertedButWorking(t, d, plug)
	})

	t.Run("laptop_untouched", func(t *testing.T) {
		if err := l.https("laptop", "https://www.example-news.com/"); err != nil {
			t.Errorf("laptop: %v", err)
		}
		l.assertUntouched(t, d, laptop)
	})
}
