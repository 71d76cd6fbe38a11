package http

import (
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// firmwareFindings plays one request and its answer ("" for none)
// between client and server and returns the firmware_over_http findings.
func firmwareFindings(t *testing.T, client, server, req, resp string) []*event.Event {
	t.Helper()
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New(nil))
	c := inspecttest.NewTCP(e, client, server)
	c.Client(req)
	if resp != "" {
		c.Server(resp)
	}
	c.Close()
	e.Flush()
	return col.Kind(event.KindFirmwareOverHTTP)
}

const (
	lanClient    = "192.168.1.10:40000"
	wanServer    = "203.0.113.7:80"
	imageAnswer  = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 4\r\n\r\nABCD"
	jsonAnswer   = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
	noUpdate     = "HTTP/1.1 304 Not Modified\r\n\r\n"
	espUpdater   = "User-Agent: ESP8266-http-Update\r\nx-ESP8266-STA-MAC: 18:FE:AA:AA:AA:AA\r\nx-ESP8266-free-space: 671744\r\nx-ESP8266-sketch-size: 373124\r\nx-ESP8266-chip-size: 4194304\r\nx-ESP8266-sdk-version: 1.3.0\r\nx-ESP8266-version: 1.0\r\n"
	esp32Updater = "User-Agent: ESP32-http-Update\r\nx-ESP32-STA-MAC: 24:0A:C4:00:00:01\r\nx-ESP32-version: 1.0\r\n"
)

// TestFirmwareRequests: which downloads are a device's firmware or
// software update fetched in clear, and which are not: signed desktop
// system updates (Windows root certificates, Defender and MSRT, macOS
// installers), a browser saving a file from a LAN device's page, and
// what only looks like an update (a version API answered with JSON).
func TestFirmwareRequests(t *testing.T) {
	tests := []struct {
		name, server, req, resp string
		url                     string // "" for no finding
		status                  string
		sev                     event.Severity
	}{
		// Signed desktop system updates: no device firmware.
		{"windows_root_certificate", wanServer,
			"GET /msdownload/update/v3/static/trustedr/en/8F43288AD272F3103B6FB1428485EA3014C0BCFE.crt HTTP/1.1\r\nHost: ctldl.windowsupdate.com\r\nUser-Agent: Microsoft-CryptoAPI/10.0\r\n\r\n",
			imageAnswer, "", "", 0},
		{"defender_definitions_exe", wanServer,
			"GET /d/msdownload/update/software/defu/2024/01/am_delta_patch_1.403.1234.0_0a1b2c3d4e5f60718293a4b5c6d7e8f901234567.exe HTTP/1.1\r\nHost: download.windowsupdate.com\r\nUser-Agent: Microsoft BITS/7.8\r\n\r\n",
			imageAnswer, "", "", 0},
		{"msrt_exe", wanServer,
			"GET /c/msdownload/update/software/uprl/2024/01/windows-kb890830-x64-v5.120_0a1b2c3d4e5f60718293a4b5c6d7e8f901234567.exe HTTP/1.1\r\nHost: download.windowsupdate.com\r\nUser-Agent: Microsoft BITS/7.8\r\n\r\n",
			imageAnswer, "", "", 0},
		{"macos_installer_pkg", wanServer,
			"GET /content/downloads/41/33/052-22042-A_JQ7EGNLJPA/2xf3ko6sdsy2ah3jpfc4e8aahq0dz3k5xw/InstallAssistant.pkg HTTP/1.1\r\nHost: swcdn.apple.com\r\nUser-Agent: com.apple.appstored/1.0 CFNetwork/1408.0.4 Darwin/22.5.0\r\n\r\n",
			imageAnswer, "", "", 0},
		{"mac_disk_image_under_update", wanServer,
			"GET /update/App-4.2.dmg HTTP/1.1\r\nHost: dl.vendor.example\r\nUser-Agent: Sparkle/2.0\r\n\r\n",
			imageAnswer, "", "", 0},
		// A .pkg from anyone else is still an image: some devices'
		// firmware comes so.
		{"device_pkg_elsewhere", wanServer,
			"GET /fw/nas-7.2.pkg HTTP/1.1\r\nHost: dl.vendor.example\r\nUser-Agent: nasd/7.1\r\n\r\n",
			imageAnswer, "dl.vendor.example/fw/nas-7.2.pkg", "200", event.SeverityMedium},
		// Packages from a distribution's repository, which its package
		// manager checks against the signed index: OpenWrt's opkg feeds
		// (an access point updating its packages), openSUSE's update
		// repository.
		{"openwrt_feed_package", wanServer,
			"GET /releases/19.07.10/packages/mipsel_24kc/luci/luci-app-ddns_git-21.034.59718-a97edfc-1_all.ipk HTTP/1.1\r\nHost: downloads.openwrt.org\r\nUser-Agent: uclient-fetch\r\n\r\n",
			imageAnswer, "", "", 0},
		{"openwrt_archive_package", wanServer,
			"GET /releases/18.06.9/packages/mips_24kc/base/dropbear_2017.75-7.1_mips_24kc.ipk HTTP/1.1\r\nHost: archive.openwrt.org\r\n\r\n",
			imageAnswer, "", "", 0},
		{"opensuse_update_rpm", wanServer,
			"GET /update/leap/15.5/oss/x86_64/openssl-1_1-1.1.1l-150500.17.25.1.x86_64.rpm HTTP/1.1\r\nHost: download.opensuse.org\r\nUser-Agent: ZYpp 17.31.15 (curl 8.0.1)\r\n\r\n",
			imageAnswer, "", "", 0},
		{"delta_rpm_below_update", wanServer,
			"GET /update/leap/15.5/oss/x86_64/curl-8.0.1-150400.5.41.1_150400.5.44.1.x86_64.drpm HTTP/1.1\r\nHost: download.opensuse.org\r\nUser-Agent: ZYpp 17.31.15 (curl 8.0.1)\r\n\r\n",
			imageAnswer, "", "", 0},
		// An OpenWrt release's image from the same host is still
		// firmware (no package manager stands between it and the
		// flash), and a package from another host is an image as
		// before: a vendor's feed need not be signed, nor its updater
		// check.
		{"openwrt_sysupgrade_image", wanServer,
			"GET /releases/23.05.3/targets/ramips/mt7621/openwrt-23.05.3-ramips-mt7621-xiaomi_mi-router-4a-gigabit-squashfs-sysupgrade.bin HTTP/1.1\r\nHost: downloads.openwrt.org\r\nUser-Agent: Wget\r\n\r\n",
			imageAnswer, "downloads.openwrt.org/releases/23.05.3/targets/ramips/mt7621/openwrt-23.05.3-ramips-mt7621-xiaomi_mi-router-4a-gigabit-squashfs-sysupgrade.bin", "200", event.SeverityMedium},
		{"rpm_from_vendor_update_dir", wanServer,
			"GET /update/agent-2.3.x86_64.rpm HTTP/1.1\r\nHost: dl.vendor.example\r\nUser-Agent: agentd/2.2\r\n\r\n",
			imageAnswer, "dl.vendor.example/update/agent-2.3.x86_64.rpm", "200", event.SeverityMedium},
		{"vendor_feed_package", wanServer,
			"GET /feeds/7.3/mipsel/enigma2-plugin-extensions-foo_1.2_mipsel.ipk HTTP/1.1\r\nHost: feeds.vendor.example\r\n\r\n",
			imageAnswer, "feeds.vendor.example/feeds/7.3/mipsel/enigma2-plugin-extensions-foo_1.2_mipsel.ipk", "200", event.SeverityMedium},
		// Zigbee OTA images (.ota, .zigbee), which a hub fetches for its
		// bulbs and sensors, also compressed.
		{"zigbee_ota_file", wanServer,
			"GET /files/sensor_v4.1.ota HTTP/1.1\r\nHost: dl.vendor.example\r\nUser-Agent: hubd/3.0\r\n\r\n",
			imageAnswer, "dl.vendor.example/files/sensor_v4.1.ota", "200", event.SeverityMedium},
		{"zigbee_file", wanServer,
			"GET /files/plug-2.0.zigbee HTTP/1.1\r\nHost: dl.vendor.example\r\nUser-Agent: hubd/3.0\r\n\r\n",
			imageAnswer, "dl.vendor.example/files/plug-2.0.zigbee", "200", event.SeverityMedium},
		{"zigbee_ota_compressed", wanServer,
			"GET /files/sensor_v4.1.ota.gz HTTP/1.1\r\nHost: dl.vendor.example\r\nUser-Agent: hubd/3.0\r\n\r\n",
			imageAnswer, "dl.vendor.example/files/sensor_v4.1.ota.gz", "200", event.SeverityMedium},
		// The owner's browser saving the router's backup on the LAN.
		{"browser_saves_lan_backup", "192.168.1.1:80",
			"GET /userRpm/config.bin HTTP/1.1\r\nHost: 192.168.1.1\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\n\r\n",
			imageAnswer, "", "", 0},
		// A device that is no browser, fetching from a LAN server (a
		// mesh node from the main router), is still reported.
		{"device_fetches_from_lan", "192.168.1.1:80",
			"GET /fw/mesh-node-2.1.bin HTTP/1.1\r\nHost: 192.168.1.1\r\nUser-Agent: meshd/2.0\r\n\r\n",
			imageAnswer, "192.168.1.1/fw/mesh-node-2.1.bin", "200", event.SeverityMedium},
		// The Arduino ESP8266/ESP32 HTTP updater: its User-Agent and
		// x-ESP… headers; the server answers the image itself.
		{"esp8266_updater", wanServer,
			"GET /esp/update/arduino.php HTTP/1.1\r\nHost: iot.vendor.example\r\n" + espUpdater + "\r\n",
			imageAnswer, "iot.vendor.example/esp/update/arduino.php", "200", event.SeverityMedium},
		{"esp8266_updater_no_update", wanServer,
			"GET /esp/update/arduino.php HTTP/1.1\r\nHost: iot.vendor.example\r\n" + espUpdater + "\r\n",
			noUpdate, "iot.vendor.example/esp/update/arduino.php", "304", event.SeverityLow},
		{"esp32_updater_no_extension", wanServer,
			"GET /firmware/latest HTTP/1.1\r\nHost: iot.vendor.example\r\n" + esp32Updater + "\r\n",
			imageAnswer, "iot.vendor.example/firmware/latest", "200", event.SeverityMedium},
		{"esp_headers_without_agent", wanServer,
			"GET /ota HTTP/1.1\r\nHost: iot.vendor.example\r\nUser-Agent: custom\r\nx-ESP32-STA-MAC: 24:0A:C4:00:00:01\r\n\r\n",
			imageAnswer, "iot.vendor.example/ota", "200", event.SeverityMedium},
		// A name without extension below a firmware directory: an image
		// when answered as one.
		{"no_extension_answered_image", wanServer,
			"GET /api/v1/firmware/download/1234 HTTP/1.1\r\nHost: cloud.vendor.example\r\nUser-Agent: camd/1.2\r\n\r\n",
			imageAnswer, "cloud.vendor.example/api/v1/firmware/download/1234", "200", event.SeverityMedium},
		{"no_extension_answered_json", wanServer,
			"GET /api/firmware/latest HTTP/1.1\r\nHost: cloud.vendor.example\r\nUser-Agent: camd/1.2\r\n\r\n",
			jsonAnswer, "", "", 0},
		{"no_extension_unanswered", wanServer,
			"GET /api/v1/firmware/download/1234 HTTP/1.1\r\nHost: cloud.vendor.example\r\nUser-Agent: camd/1.2\r\n\r\n",
			"", "", "", 0},
		{"no_extension_by_browser", wanServer,
			"GET /api/v1/firmware/download/1234 HTTP/1.1\r\nHost: cloud.vendor.example\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n\r\n",
			imageAnswer, "", "", 0},
		{"browser_on_esp_update_page", wanServer,
			"GET /esp/update/arduino.php HTTP/1.1\r\nHost: iot.vendor.example\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n\r\n",
			imageAnswer, "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := firmwareFindings(t, lanClient, tt.server, tt.req, tt.resp)
			if tt.url == "" {
				for _, ev := range got {
					t.Errorf("unwanted %s finding %q (evidence %v)", ev.Severity, ev.Summary, ev.Evidence)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("firmware findings %v, want one", evidences(got))
			}
			if ev := got[0]; ev.Evidence["url"] != tt.url || ev.Evidence["status"] != tt.status || ev.Severity != tt.sev {
				t.Errorf("finding %s %v, want %s url %q status %q", ev.Severity, ev.Evidence, tt.sev, tt.url, tt.status)
			}
		})
	}
}

// TestFirmwareIfImagePipelined: requests that are downloads only if
// answered with an image are judged each by its own answer, also
// pipelined, when the first holds the analyzer's URL buffer.
func TestFirmwareIfImagePipelined(t *testing.T) {
	req := func(n string) string {
		return "GET /api/v1/firmware/download/" + n + " HTTP/1.1\r\nHost: cloud.vendor.example\r\nUser-Agent: camd/1.2\r\n\r\n"
	}
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New(nil))
	c := inspecttest.NewTCP(e, lanClient, wanServer)
	c.Client(req("1") + req("2") + req("3")).Server(jsonAnswer + imageAnswer + imageAnswer).Client(req("4"))
	c.Close()
	e.Flush()
	var urls []string
	for _, ev := range col.Kind(event.KindFirmwareOverHTTP) {
		urls = append(urls, ev.Evidence["url"])
	}
	want := []string{"cloud.vendor.example/api/v1/firmware/download/2", "cloud.vendor.example/api/v1/firmware/download/3"}
	if strings.Join(urls, " ") != strings.Join(want, " ") {
		t.Errorf("findings for %q, want %q", urls, want)
	}
}

// TestVersionPollingAllocs: a device polling a version API below a
// firmware directory, answered JSON, allocates nothing per request.
func TestVersionPollingAllocs(t *testing.T) {
	req := []byte("GET /api/firmware/latest HTTP/1.1\r\nHost: cloud.vendor.example\r\nUser-Agent: camd/1.2\r\n\r\n")
	resp := []byte(jsonAnswer)
	s := inspecttest.NewStream(t, New(nil), lanClient, wanServer)
	s.Exchange(req, resp)
	if allocs := testing.AllocsPerRun(200, func() { s.Exchange(req, resp) }); allocs != 0 {
		t.Errorf("%v allocs per poll, want 0", allocs)
	}
	if got := s.Collector.Kind(event.KindFirmwareOverHTTP); len(got) != 0 {
		t.Errorf("findings %v for JSON answers", evidences(got))
	}
}

// TestFirmwareURLMasksHostIDs: a download host named after the device
// (its MAC, serial or IMEI as a label) shows the label as "...", as a
// path segment would, in the url evidence and the summary.
func TestFirmwareURLMasksHostIDs(t *testing.T) {
	tests := []struct{ host, url, id string }{
		{"a4cf129b3e01.dl.vendor.example", "....dl.vendor.example/fw/cam_5.7.3.bin", "a4cf129b3e01"},
		{"sn-357938035643809.dl.vendor.example", "....dl.vendor.example/fw/cam_5.7.3.bin", "357938035643809"},
		{"dl.A4CF129B3E01.vendor.example:8080", "dl.....vendor.example:8080/fw/cam_5.7.3.bin", "A4CF129B3E01"},
		// Names a CDN or a vendor gives its own hosts stay.
		{"d3rlzbr8ymv9u5.cloudfront.net", "d3rlzbr8ymv9u5.cloudfront.net/fw/cam_5.7.3.bin", ""},
		{"fw-2024.vendor.example", "fw-2024.vendor.example/fw/cam_5.7.3.bin", ""},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			got := firmwareFindings(t, lanClient, wanServer,
				"GET /fw/cam_5.7.3.bin HTTP/1.1\r\nHost: "+tt.host+"\r\nUser-Agent: camd/1.2\r\n\r\n", imageAnswer)
			if len(got) != 1 {
				t.Fatalf("%d findings, want one", len(got))
			}
			if u := got[0].Evidence["url"]; u != tt.url {
				t.Errorf("url %q, want %q", u, tt.url)
			}
			if tt.id != "" && strings.Contains(got[0].Summary, tt.id) {
				t.Errorf("summary %q names %q", got[0].Summary, tt.id)
			}
		})
	}
}

// TestMaskFirmwareURLHost: a finding an earlier version filed is masked
// as a new one would be, its host too.
func TestMaskFirmwareURLHost(t *testing.T) {
	tests := []struct{ url, want string }{
		{"a4cf129b3e01.dl.vendor.example/fw/cam.bin", "....dl.vendor.example/fw/cam.bin"},
		{"sn-357938035643809.dl.vendor.example", "....dl.vendor.example"},
		{"dl.vendor.example/fota/357938035643809.bin", "dl.vendor.example/fota/..."},
		{"admin:pw@dl.vendor.example/fw.bin", ".../fw.bin"},
	}
	for _, tt := range tests {
		if got := MaskFirmwareURL(tt.url, true); got != tt.want {
			t.Errorf("MaskFirmwareURL(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}
