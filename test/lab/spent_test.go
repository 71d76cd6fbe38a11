package lab

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
)

// spentDownloadSize is the size of the download TestLabAFPacketSpent
// sends through the router: tens of thousands of wire-sized frames.
const spentDownloadSize = 64 << 20

// TestLabAFPacketSpent runs the daemon in afpacket mode with the default
// capture.packet_mark: iotgw's forward rules mark the packets of a
// connection direction past capture.budget_bytes, and the ring's filter
// drops them in the kernel. A 64 MiB download over HTTP (port 80, which
// the filter passes whole) from the WAN to the laptop must reach the
// daemon as a small number of packets, not as the download's frames;
// a default login on a new connection after it must still be caught.
// The assertions are on counts, not times.
func TestLabAFPacketSpent(t *testing.T) {
	requireLab(t)
	var devices []host
	for _, h := range homeDevices() {
		if h.role == "camera" || h.role == "laptop" {
			devices = append(devices, h)
		}
	}
	l := newLab(t, labOptions{tag: "s", devices: devices, services: true})
	// Sparse: the file is zeros the kernel never stores.
	f, err := os.Create(l.path("www/big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(spentDownloadSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	config := l.daemonConfig("afpacket")
	// IOTGW_LAB_PACKET_MARK=0 measures the same download without the
	// marks (the assertion on the count then fails).
	mark := "default"
	if m := os.Getenv("IOTGW_LAB_PACKET_MARK"); m != "" {
		mark = m
		cfg, err := os.ReadFile(config)
		if err != nil {
			t.Fatal(err)
		}
		config = l.writeFile("iotgw-afpacket-mark.toml", strings.Replace(string(cfg), "[capture]\n", "[capture]\npacket_mark = "+m+"\n", 1))
	}
	d := l.newDaemon(testenv.BuildDaemon(t, l.dir), config)
	d.start(t)
	l.dhcp()
	cam := l.hosts["camera"]

	t.Run("download_not_read", func(t *testing.T) {
		rx0, tx0, err := l.ethPackets("laptop")
		if err != nil {
			t.Fatal(err)
		}
		p0, err := d.packets()
		if err != nil {
			t.Fatal(err)
		}
		out, err := l.dev("laptop", 120*time.Second, "curl", "-sS", "--max-time", "100", "-o", "/dev/null",
			"-w", "%{size_download}", "http://"+cloudHost+"/big.bin")
		if err != nil || strings.TrimSpace(out) != fmt.Sprint(spentDownloadSize) {
			t.Fatalf("laptop's download: %q, %v", out, err)
		}
		rx1, tx1, err := l.ethPackets("laptop")
		if err != nil {
			t.Fatal(err)
		}
		p1, err := d.packets()
		if err != nil {
			t.Fatal(err)
		}
		frames, acks, read := rx1-rx0, tx1-tx0, p1-p0
		t.Logf("MEASURE afpacket, packet_mark %s: the daemon read %d packets while the laptop received %d frames (%d MiB) and sent %d",
			mark, read, frames, spentDownloadSize>>20, acks)
		if frames < spentDownloadSize/1500 {
			t.Fatalf("the laptop received %d frames for %d bytes: not wire-sized frames, the test proves nothing", frames, spentDownloadSize)
		}
		// The laptop's frames (its acknowledgements) reach the capture
		// before any netfilter hook and are read as before; of the
		// frames the router sent it, only those before the budget was
		// spent may be.
		if read > acks+maxSpentRead {
			t.Errorf("the daemon read %d packets during a download of %d frames, acknowledged in %d; want at most %d more than the acknowledgements",
				read, frames, acks, maxSpentRead)
		}
	})

	t.Run("camera_quarantined_after_default_login", func(t *testing.T) {
		l.cameraLoginQuarantines(t, d, cam)
	})
}

// unmarkedConfig is the daemon's afpacket configuration with
// capture.packet_mark = 0: no marks, every frame on the inspectors'
// ports is read.
func (l *lab) unmarkedConfig() string {
	cfg, err := os.ReadFile(l.daemonConfig("afpacket"))
	if err != nil {
		l.t.Fatal(err)
	}
	return l.writeFile("iotgw-afpacket-unmarked.toml", strings.Replace(string(cfg), "[capture]\n", "[capture]\npacket_mark = 0\n", 1))
}

// maxSpentRead bounds the frames from the router to the laptop that the
// daemon may read during the download: those of the budget (16 KiB,
// about a dozen), of the laptop's other traffic (DHCP, ARP), of
// retransmissions, and a wide margin.
const maxSpentRead = 1000

// ethPackets is the count of packets role's eth0 has received and sent.
func (l *lab) ethPackets(role string) (rx, tx uint64, err error) {
	out, err := l.in(role, 5*time.Second, "cat", "/sys/class/net/eth0/statistics/rx_packets", "/sys/class/net/eth0/statistics/tx_packets")
	if err != nil {
		return 0, 0, fmt.Errorf("packet counts of %s: %w", role, err)
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("packet counts of %s: %q", role, out)
	}
	if rx, err = strconv.ParseUint(f[0], 10, 64); err == nil {
		tx, err = strconv.ParseUint(f[1], 10, 64)
	}
	return rx, tx, err
}
