package fingerprint

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// ruleCase is a real-world signal value and what one rule must say about
// it. want lists the outputs as "field=value" separated by "|"; fields
// not named must be empty.
type ruleCase struct {
	sig  Signal
	val  string
	rule string
	want string
}

var ruleCases = []ruleCase{
	// OUI registrant names, as in the IEEE registry.
	{SigOUI, "Hangzhou Hikvision Digital Technology Co.,Ltd.", "oui-camera-makers", "type=camera"},
	{SigOUI, "Zhejiang Dahua Technology Co., Ltd.", "oui-camera-makers", "type=camera"},
	{SigOUI, "Synology Incorporated", "oui-nas-makers", "type=nas"},
	{SigOUI, "Raspberry Pi Trading Ltd", "oui-raspberry-pi", "type=computer"},
	{SigOUI, "Grandstream Networks, Inc.", "oui-voip-phone-makers", "type=phone"},
	{SigOUI, "VMware, Inc.", "oui-virtual-machine", "type=computer|vendor=VMware"},
	{SigOUI, "PCS Systemtechnik GmbH", "oui-virtual-machine", "type=computer|vendor=PCS Systemtechnik"},
	{SigOUI, "Xensource, Inc.", "oui-virtual-machine", "type=computer|vendor=Xensource"},
	{SigOUI, "Parallels, Inc.", "oui-virtual-machine", "type=computer|vendor=Parallels"},
	{SigOUI, "Sonos, Inc.", "oui-speaker-makers", "type=speaker"},
	{SigOUI, "Roku, Inc", "oui-roku", "type=media_player"},
	{SigOUI, "Nintendo Co.,Ltd", "oui-game-consoles", "type=game_console"},
	{SigOUI, "Brother Industries, LTD.", "oui-printer-makers", "type=printer"},
	{SigOUI, "KYOCERA Document Solutions Inc.", "oui-printer-makers", "type=printer"},
	{SigOUI, "Arlo Technology", "oui-ring-arlo", "type=camera"},
	{SigOUI, "ecobee inc", "oui-thermostat-makers", "type=thermostat"},
	{SigOUI, "AVM GmbH", "oui-router-makers", "type=router"},
	{SigOUI, "Ring LLC", "oui-ring-arlo", "type=camera"},
	{SigOUI, "Signify Netherlands B.V.", "oui-signify", "vendor=Philips Hue|type=hub"},
	{SigOUI, "Intel Corporate", "oui-intel-type", "type=computer"},
	{SigOUI, "Espressif Inc.", "oui-module-makers", "vendor=Espressif"},
	{SigOUI, "Intel Corporate", "oui-module-makers", "vendor=Intel Corporate"},

	// DHCP.
	{SigDHCPVendorClass, "MSFT 5.0", "dhcp-vc-msft", "os=Windows"},
	{SigDHCPVendorClass, "android-dhcp-13", "dhcp-vc-android", "os=Android"},
	{SigDHCPVendorClass, "dhcpcd-6.11.5:Linux-4.1.18-v7+:armv7l:BCM2709", "dhcp-vc-dhcpcd", "os=Linux|sw=dhcpcd|ver=6.11.5"},
	{SigDHCPVendorClass, "dhcpcd-6.11.5:Linux-4.1.18-v7+:armv7l:BCM2709", "dhcp-vc-dhcpcd-kernel", "sw=linux|ver=4.1.18"},
	{SigDHCPVendorClass, "dhcpcd-6.11.5:Linux-4.1.18-v7+:armv7l:BCM2709", "dhcp-vc-raspberry-pi", "vendor=Raspberry Pi|type=computer"},
	{SigDHCPVendorClass, "udhcp 1.35.0", "dhcp-vc-udhcp", "os=Linux|sw=busybox|ver=1.35.0"},
	{SigDHCPVendorClass, "HIKVISION", "dhcp-vc-brand", "vendor=HIKVISION"},
	{SigDHCPVendorClass, "SAMSUNG-TV", "dhcp-vc-brand", "vendor=SAMSUNG"},
	{SigDHCPVendorClass, "Hewlett-Packard JetDirect", "dhcp-vc-hp-jetdirect", "vendor=HP|type=printer"},
	{SigDHCPv6Enterprise, "311", "dhcpv6-enterprise-microsoft", "os=Windows"},
	{SigDHCPPRL, "1,3,6,12,15,28,42", "prl-busybox-udhcpc", "os=Linux"},
	{SigDHCPPRL, "1,3,6,12,15,17,28,42", "prl-openwrt-udhcpc-1.15", "os=Linux"},
	{SigDHCPPRL, "1,28,2,3,15,6,119,12,44,47,26,121,42", "prl-isc-dhclient-debian", "os=Linux"},
	{SigDHCPPRL, "1,28,2,3,15,6,12", "prl-isc-dhclient-default", "os=Linux"},
	{SigDHCPPRL, "1,28,2,3,15,6,12,40,41,42", "prl-isc-dhclient-centos4", "os=Linux"},
	{SigDHCPPRL, "1,121,33,3,6,12,15,28,42,51,54,58,59,100,101,119", "prl-dhcpcd-raspbian", "os=Linux"},
	{SigDHCPPRL, "1,121,3,6,12,15,26,28,33,51,54,58,59,119", "prl-dhcpcd-debian", "os=Linux"},
	{SigDHCPPRL, "1,28,3,15,6,12", "prl-openbsd-3.8", "os=OpenBSD"},
	{SigDHCPPRL, "1,15,3,6,44,46,47,31,33,121,249,43", "prl-windows-vista-10", "os=Windows"},
	{SigDHCPPRL, "1,15,3,6,44,46,47,31,33,249,43", "prl-windows-xp", "os=Windows"},
	{SigDHCPPRL, "1,3,6,15,31,33,43,44,46,47,119,121,249,252", "prl-windows-10-11", "os=Windows"},
	{SigDHCPPRL, "1,121,3,6,15,119,252,95,44,46", "prl-macos", "os=macOS|vendor=Apple"},
	{SigDHCPPRL, "1,121,3,6,15,108,114,119,162,252,95,44,46", "prl-apple-108-114", "vendor=Apple"},
	{SigDHCPPRL, "1,121,3,6,15,119,252", "prl-ios", "os=iOS|vendor=Apple|type=phone"},
	{SigDHCPPRL, "1,3,6,15,26,28,51,58,59,43", "prl-android", "os=Android"},
	{SigDHCPPRL, "1,3,6,15,26,28,51,58,59", "prl-android-old", "os=Android"},
	{SigDHCPPRL, "1,3,28,6", "prl-lwip", "os=lwIP"},
	{SigDHCPPRL, "1,3,28,6,42", "prl-lwip-ntp", "os=lwIP"},
	{SigDHCPPRL, "1,3,28,6,15,44,46,47,31,33,121,43", "prl-esp8266-nonos", "os=lwIP"},

	// Host names.
	{SigHostname, "ipcam", "host-camera", "type=camera"},
	{SigHostname, "IPC-3A2B", "host-camera", "type=camera"},
	{SigHostname, "cam2", "host-camera", "type=camera"},
	{SigHostname, "cam-03", "host-camera", "type=camera"},
	{SigHostname, "samsung-tv", "host-tv", "type=tv"},
	{SigDHCPVendorClass, "SAMSUNG-TV", "host-tv", "type=tv"},
	{SigHostname, "samsung-tv", "host-brand-prefix", "vendor=samsung"},
	{SigHostname, "HS110", "host-kasa", "vendor=TP-Link|type=plug|model=HS110"},
	{SigMQTTClientID, "HS110-0A1B2C", "host-kasa", "vendor=TP-Link|type=plug|model=HS110"},
	{SigHostname, "alice-laptop", "host-computer", "type=computer"},
	{SigHostname, "DESKTOP-4F2K9QL", "host-windows-default", "os=Windows|type=computer"},
	{SigHostname, "NicksMacBook", "host-mac", "vendor=Apple|type=computer|os=macOS"},
	{SigHostname, "Annas-iMac", "host-mac", "vendor=Apple|type=computer|os=macOS"},
	{SigHostname, "AnnasiMac", "host-mac", "vendor=Apple|type=computer|os=macOS"},
	{SigHostname, "annas-imac", "host-mac", "vendor=Apple|type=computer|os=macOS"},
	{SigHostname, "Annas-Mac-mini", "host-mac", "vendor=Apple|type=computer|os=macOS"},
	{SigHostname, "MacPro", "host-mac", "vendor=Apple|type=computer|os=macOS"},
	{SigHostname, "Annas-iPhone", "host-iphone", "vendor=Apple|type=phone|os=iOS"},
	{SigHostname, "android-3f2a9c0b1d4e5f60", "host-android-default", "os=Android"},
	{SigHostname, "raspberrypi", "host-raspberrypi", "vendor=Raspberry Pi|type=computer|os=Linux"},
	{SigHostname, "nas1", "host-nas", "type=nas"},
	{SigHostname, "DiskStation", "host-nas", "type=nas"},
	{SigHostname, "ESP_3A2B1C", "host-esp-default", "vendor=Espressif|os=lwIP"},
	{SigHostname, "NPI8C1D2E", "host-hp-printer", "vendor=HP|type=printer"},
	{SigHostname, "BRN3C2AF4123456", "host-brother-printer", "vendor=Brother|type=printer"},
	{SigHostname, "EPSON1A2B3C", "host-epson-printer", "vendor=Epson|type=printer"},
	{SigHostname, "LGwebOSTV", "host-lg-webos", "vendor=LG|type=tv|os=webOS"},
	{SigHostname, "PS5-123", "host-playstation", "vendor=Sony|type=game_console"},
	{SigHostname, "johanna-QEMU-Virtual-Machine", "host-virtual-machine", "type=computer"},
	{SigMQTTClientID, "DVES_3A2B1C", "host-tasmota", "os=Tasmota|type=plug"},
	{SigHostname, "tasmota-1A2B3C-0123", "host-tasmota", "os=Tasmota|type=plug"},
	{SigHostname, "shellyplug-s-7C87CE", "host-shelly", "vendor=Shelly|type=plug"},

	// mDNS.
	{SigMDNSService, "_googlecast._tcp", "mdns-googlecast", "vendor=Google|type=media_player"},
	{SigMDNSService, "_airplay._tcp", "mdns-airplay", "type=media_player"},
	{SigMDNSService, "_sonos._tcp", "mdns-sonos", "vendor=Sonos|type=speaker"},
	{SigMDNSService, "_spotify-connect._tcp", "mdns-spotify-connect", "type=speaker"},
	{SigMDNSService, "_ipps._tcp", "mdns-ipp", "type=printer"},
	{SigMDNSService, "_pdl-datastream._tcp", "mdns-printer-only", "type=printer"},
	{SigMDNSService, "_uscan._tcp", "mdns-scanner", "type=printer"},
	{SigMDNSService, "_hue._tcp", "mdns-hue", "vendor=Philips Hue|type=hub"},
	{SigMDNSService, "_axis-video._tcp", "mdns-axis", "vendor=Axis|type=camera"},
	{SigMDNSService, "_androidtvremote2._tcp", "mdns-android-tv", "type=tv|os=Android"},
	{SigMDNSService, "_companion-link._tcp", "mdns-apple-device", "vendor=Apple"},
	{SigMDNSService, "_workstation._tcp", "mdns-workstation", "os=Linux|type=computer"},
	{SigMDNSService, "_adisk._tcp", "mdns-time-machine", "type=nas"},
	{SigMDNSService, "_esphomelib._tcp", "mdns-esphome", "os=ESPHome"},
	{SigMDNSTXT, "model=UE55TU7100", "mdns-txt-model", "model=UE55TU7100"},
	{SigMDNSTXT, "md=Chromecast Ultra", "mdns-txt-model", "model=Chromecast Ultra"},
	{SigMDNSTXT, "manufacturer=Samsung", "mdns-txt-manufacturer", "vendor=Samsung"},
	{SigMDNSTXT, "usb_mfg=HP", "mdns-txt-manufacturer", "vendor=HP"},
	{SigMDNSTXT, "usb_mdl=OfficeJet Pro 9010", "mdns-txt-printer", "type=printer"},
	{SigMDNSTXT, "ty=HP LaserJet Pro M404dn", "mdns-txt-ty-model", "model=HP LaserJet Pro M404dn"},
	{SigMDNSTXT, "fv=p20.T-KTM2AKUC-1234.5", "mdns-txt-firmware", "fw=p20.T-KTM2AKUC-1234.5"},
	{SigMDNSTXT, "model=AppleTV6,2", "mdns-txt-apple-model", "vendor=Apple"},
	{SigMDNSTXT, "model=MacBookPro15,2", "mdns-txt-apple-computer", "type=computer|os=macOS"},
	{SigMDNSTXT, "model=Mac14,2", "mdns-txt-apple-model", "vendor=Apple"},
	{SigMDNSTXT, "model=Mac14,2", "mdns-txt-apple-computer", "type=computer|os=macOS"},
	{SigMDNSTXT, "osxvers=21", "mdns-txt-osxvers", "vendor=Apple|os=macOS"},
	{SigInstance, "[TV] Samsung 7 Series (55)", "instance-samsung-tv", "vendor=Samsung|type=tv"},

	// SSDP and UPnP.
	{SigSSDPType, "roku:ecp", "ssdp-roku-ecp", "vendor=Roku|type=media_player|os=Roku OS"},
	{SigSSDPType, "urn:schemas-upnp-org:device:InternetGatewayDevice:1", "ssdp-igd", "type=router"},
	{SigUPnPDeviceType, "urn:schemas-wifialliance-org:device:WFADevice:1", "ssdp-wps", "type=router"},
	{SigSSDPType, "urn:schemas-upnp-org:device:MediaRenderer:1", "ssdp-media-renderer", "type=media_player"},
	{SigSSDPType, "urn:schemas-upnp-org:device:MediaServer:1", "ssdp-media-server", "type=nas"},
	{SigSSDPType, "urn:dial-multiscreen-org:service:dial:1", "ssdp-dial", "type=media_player"},
	{SigUPnPDeviceType, "urn:schemas-upnp-org:device:ZonePlayer:1", "ssdp-sonos-zoneplayer", "vendor=Sonos|type=speaker"},
	{SigSSDPType, "urn:Belkin:device:controllee:1", "ssdp-wemo", "vendor=Belkin|type=plug"},
	{SigUPnPDeviceType, "urn:schemas-upnp-org:device:Printer:1", "ssdp-printer", "type=printer"},
	{SigUPnPManufacturer, "Samsung Electronics", "upnp-manufacturer", "vendor=Samsung Electronics"},
	{SigUPnPModel, "UE55TU7100", "upnp-model", "model=UE55TU7100"},
	{SigUPnPFirmware, "T-KTM2AKUC-1234.5", "upnp-firmware", "fw=T-KTM2AKUC-1234.5"},
	{SigONVIFManufacturer, "HIKVISION", "onvif-manufacturer", "vendor=HIKVISION"},
	{SigONVIFModel, "DS-2CD2032-I", "onvif-model", "model=DS-2CD2032-I"},
	{SigONVIFFirmware, "V5.4.5 build 170124", "onvif-firmware", "fw=V5.4.5 build 170124"},

	// Server headers.
	{SigServer, "Linux/3.10 UPnP/1.0 MiniUPnPd/1.6", "server-linux-upnp", "os=Linux|sw=linux|ver=3.10"},
	{SigServer, "Linux/3.10 UPnP/1.0 MiniUPnPd/1.6", "server-miniupnpd", "sw=miniupnpd|ver=1.6"},
	{SigServer, "UPnP/Tomato 1.28.7500 MIPSR2Toastman-RT K26 USB Ext UPnP/1.0 MiniUPnPd/1.6", "server-tomato", "type=router|os=Tomato|fw=Tomato 1.28.7500"},
	{SigServer, "Linux/2.6.36, UPnP/1.0, Portable SDK for UPnP devices/1.6.18", "server-libupnp", "sw=libupnp|ver=1.6.18"},
	{SigServer, "Linux/2.4.22-1.2115.nptl, UPnP/1.0, Intel SDK for UPnP devices /1.2", "server-libupnp", "sw=libupnp|ver=1.2"},
	{SigServer, "Microsoft-Windows/10.0 UPnP/1.0 UPnP-Device-Host/1.0", "server-windows-upnp", "os=Windows"},
	{SigServer, "Microsoft-IIS/10.0", "server-windows-upnp", "os=Windows"},
	{SigServer, "Synology/DSM/192.168.1.10", "server-synology", "vendor=Synology|type=nas"},
	{SigServer, "Hue/1.0 UPnP/1.0 IpBridge/1.48.0", "server-hue", "vendor=Philips Hue|type=hub|fw=1.48.0"},
	{SigServer, "Linux UPnP/1.0 Sonos/57.3-77280 (ZPS1)", "server-sonos", "vendor=Sonos|type=speaker|fw=57.3-77280"},
	{SigServer, "SHP, UPnP/1.0, Samsung UPnP SDK/1.0", "server-samsung-tv", "vendor=Samsung|type=tv"},
	{SigServer, "Boa/0.94.14rc21", "server-boa", "sw=boa|ver=0.94.14rc21"},
	{SigServer, "GoAhead-Webs", "server-goahead", "sw=goahead"},
	{SigServer, "GoAhead-http/2.5.0", "server-goahead", "sw=goahead|ver=2.5.0"},
	{SigServer, "lighttpd/1.4.35", "server-lighttpd", "sw=lighttpd|ver=1.4.35"},
	{SigServer, "uhttpd", "server-uhttpd", "sw=uhttpd"},
	{SigServer, "RomPager/4.07 UPnP/1.0", "server-rompager", "sw=rompager|ver=4.07"},
	{SigServer, "mini_httpd/1.19 19dec2003", "server-mini-httpd", "sw=mini_httpd|ver=1.19"},
	// thttpd is another server of ACME Labs, with versions of its own.
	{SigServer, "thttpd/2.25b 29dec2003", "server-thttpd", "sw=thttpd|ver=2.25b"},
	{SigServer, "nginx/1.18.0", "server-nginx", "sw=nginx|ver=1.18.0"},
	{SigServer, "Apache/2.4.10 (Unix) OpenSSL/1.0.1e", "server-apache", "sw=apache|ver=2.4.10"},
	{SigServer, "Apache/2.4.10 (Unix) OpenSSL/1.0.1e", "server-openssl", "sw=openssl|ver=1.0.1e"},
	{SigServer, "Apache/2.4.29 (Unix) OpenSSL/1.0.2zf", "server-openssl", "sw=openssl|ver=1.0.2zf"},
	{SigServer, "Apache/2.2.34 (Unix) OpenSSL/0.9.8zh", "server-openssl", "sw=openssl|ver=0.9.8zh"},
	{SigServer, "Apache/2.4.6 (CentOS) OpenSSL/1.0.2k-fips", "server-openssl", "sw=openssl|ver=1.0.2k"},
	{SigServer, "Apache/2.4.10 (Unix) OpenSSL/1.0.2-beta3", "server-openssl", "sw=openssl|ver=1.0.2-beta3"},
	{SigServer, "nginx OpenSSL/3.0.13", "server-openssl", "sw=openssl|ver=3.0.13"},
	{SigServer, "DNVRS-Webs", "server-hikvision", "vendor=Hikvision|type=camera"},
	{SigHTTPRealm, "NETGEAR R7000", "realm-netgear", "vendor=Netgear|type=router|model=R7000"},
	{SigHTTPRealm, "TP-LINK Wireless N Router WR841N", "realm-tplink", "vendor=TP-Link|type=router|model=WR841N"},

	// User-Agent.
	{SigUserAgent, "curl/7.88.1", "ua-curl", "sw=curl|ver=7.88.1"},
	{SigUserAgent, "Wget/1.21.3", "ua-wget", "sw=wget|ver=1.21.3"},
	{SigUserAgent, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36", "ua-windows", "os=Windows|type=computer"},
	{SigUserAgent, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15", "ua-macos", "vendor=Apple|os=macOS|type=computer"},
	{SigUserAgent, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X)", "ua-ios", "vendor=Apple|os=iOS|type=phone"},
	{SigUserAgent, "Dalvik/2.1.0 (Linux; U; Android 11; Pixel 4a Build/RQ3A)", "ua-android", "os=Android"},
	{SigUserAgent, "com.apple.trustd/2.0 CFNetwork/1408.0.4 Darwin/22.5.0", "ua-darwin", "vendor=Apple"},
	{SigUserAgent, "Mozilla/5.0 (SMART-TV; Linux; Tizen 5.5) AppleWebKit/537.36", "ua-tizen", "vendor=Samsung|type=tv|os=Tizen"},
	{SigUserAgent, "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36", "ua-webos", "vendor=LG|type=tv|os=webOS"},
	{SigUserAgent, "Mozilla/5.0 (X11; Linux armv7l) AppleWebKit/537.36 CrKey/1.56.500000", "ua-chromecast", "vendor=Google|type=media_player|fw=1.56.500000"},
	{SigUserAgent, "Roku/DVP-9.10 (519.10E04111A)", "ua-roku", "vendor=Roku|type=media_player|os=Roku OS|fw=9.10"},
	{SigUserAgent, "Mozilla/5.0 (Nintendo Switch; WifiWebAuthApplet) AppleWebKit/606.4", "ua-game-console", "type=game_console"},

	// Banners.
	{SigBanner, "BusyBox v1.19.3 (2016-05-12 10:11:45 CST) built-in shell (ash)", "banner-busybox", "os=Linux|sw=busybox|ver=1.19.3"},
	{SigBanner, "BusyBox v1.19.4", "banner-busybox", "os=Linux|sw=busybox|ver=1.19.4"},
	{SigBanner, "SSH-2.0-dropbear_2014.63", "banner-dropbear", "os=Linux|sw=dropbear|ver=2014.63"},
	{SigBanner, "SSH-2.0-OpenSSH_7.4", "banner-openssh", "sw=openssh|ver=7.4"},
	{SigBanner, "SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u1", "banner-openssh", "sw=openssh|ver=8.4p1"},
	{SigBanner, "SSH-2.0-Cisco-1.25", "banner-cisco-ssh", "vendor=Cisco|sw=cisco-ssh|ver=1.25"},
	{SigBanner, "SSH-1.99-Cisco-1.25", "banner-cisco-ssh", "vendor=Cisco|sw=cisco-ssh|ver=1.25"},
	{SigBanner, "SSH-2.0-HUAWEI-1.5", "banner-huawei-ssh", "vendor=Huawei|sw=huawei-ssh|ver=1.5"},
	{SigBanner, "SSH-2.0-ROSSSH", "banner-mikrotik-ssh", "vendor=MikroTik|type=router|os=RouterOS|sw=rosssh"},
	{SigBanner, "(vsFTPd 3.0.3)", "banner-vsftpd", "sw=vsftpd|ver=3.0.3"},
	{SigBanner, "ProFTPD 1.3.5e Server (Debian) [::ffff:10.0.0.1]", "banner-proftpd", "sw=proftpd|ver=1.3.5e"},
	{SigBanner, "ProFTPD 1.3.6rc4 Server (Debian) [::ffff:10.0.0.1]", "banner-proftpd", "sw=proftpd|ver=1.3.6rc4"},
	{SigBanner, "ProFTPD 1.3.6 Server (ProFTPD)", "banner-proftpd", "sw=proftpd|ver=1.3.6"},
	{SigBanner, "mosquitto version 2.0.11", "banner-mosquitto", "sw=mosquitto|ver=2.0.11"},
	{SigBanner, "Boa/0.94.14rc21", "server-boa", "sw=boa|ver=0.94.14rc21"},
	{SigBanner, "Grandstream GXP2160 1.0.11.10", "banner-grandstream-sip", "vendor=Grandstream|type=phone|model=GXP2160|fw=1.0.11.10"},
	{SigBanner, "Yealink SIP-T46S 66.86.0.15", "banner-yealink-sip", "vendor=Yealink|type=phone|model=T46S|fw=66.86.0.15"},
	{SigBanner, "AVM FRITZ!Box 7590 154.07.29", "banner-fritzbox", "vendor=AVM|type=router|model=FRITZ!Box 7590|fw=154.07.29"},

	// TLS.
	{SigJA4, "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6", "ja4-curl-openssl3", "os=Linux"},
	{SigJA3, "a3afc2c46ba4a7d7fbe1cfb7a3031c2f", "ja3-openssl3-s-client", "os=Linux"},

	// Domains.
	{SigDomain, "api.hik-connect.com", "dom-hikvision", "vendor=Hikvision|type=camera"},
	{SigDomain, "www.easy4ip.com", "dom-dahua", "vendor=Dahua|type=camera"},
	{SigDomain, "n-devs.tplinkcloud.com", "dom-tplink-cloud", "vendor=TP-Link|type=plug"},
	{SigDomain, "log-config.samsungacr.com", "dom-samsung-tv", "vendor=Samsung|type=tv"},
	{SigDomain, "api.smartthings.com", "dom-smartthings", "vendor=Samsung|type=hub"},
	{SigDomain, "msmgr.ws.sonos.com", "dom-sonos", "vendor=Sonos|type=speaker"},
	{SigDomain, "frontdoor.nest.com", "dom-nest", "vendor=Google"},
	{SigDomain, "avs-alexa-eu.amazon.com", "dom-alexa", "vendor=Amazon|type=voice_assistant"},
	{SigDomain, "scribe.logs.roku.com", "dom-roku", "vendor=Roku|type=media_player"},
	{SigDomain, "diag.meethue.com", "dom-hue", "vendor=Philips Hue|type=hub"},
	{SigDomain, "fw.ring.com", "dom-ring", "vendor=Ring|type=camera"},
	{SigDomain, "api.wyzecam.com", "dom-camera-clouds", "type=camera"},
	{SigDomain, "a1.tuyaeu.com", "dom-tuya", "vendor=Tuya|type=plug"},
	{SigDomain, "api.ecobee.com", "dom-ecobee", "vendor=ecobee|type=thermostat"},
	{SigDomain, "conntest.nintendowifi.net.nintendo.net", "dom-game-consoles", "type=game_console"},
	{SigDomain, "www.msftconnecttest.com", "dom-windows", "os=Windows"},
	{SigDomain, "connectivitycheck.gstatic.com", "dom-android", "os=Android"},
	{SigDomain, "captive.apple.com", "dom-apple-captive", "vendor=Apple"},
	{SigDomain, "global.quickconnect.to", "dom-nas-clouds", "type=nas"},
	{SigDomain, "archive.raspberrypi.org", "dom-raspberry-pi", "vendor=Raspberry Pi|os=Linux"},
	{SigDomain, "de.api.io.mi.com", "dom-xiaomi-iot", "vendor=Xiaomi"},
	{SigDomain, "eu-disp.coolkit.cc", "dom-ewelink", "vendor=Sonoff|type=plug"},
	{SigDomain, "shelly-13-eu.shelly.cloud", "dom-shelly", "vendor=Shelly|type=plug"},
	{SigDomain, "de.lgtvsdp.com", "dom-lg-tv", "vendor=LG|type=tv"},
	{SigDomain, "www.hpeprint.com", "dom-printer-clouds", "type=printer"},
	// A name as events show it, a label holding the device's MAC masked.
	{SigDomain, "....devs.tplinkcloud.com", "dom-tplink-cloud", "vendor=TP-Link|type=plug"},

	// TCP SYN signatures.
	{SigTCPSYN, "64:64240:1460:M,S,T,N,W", "syn-linux", "os=Linux"},
	{SigTCPSYN, "128:64240:1460:M,N,W,N,N,S", "syn-windows", "os=Windows"},
	{SigTCPSYN, "64:65535:1460:M,N,W,N,N,T,S,E,E", "syn-apple", "vendor=Apple|os=Apple OS"},
	{SigTCPSYN, "255:5744:1436:M", "syn-lwip", "os=lwIP"},
	// WS-Discovery Types and ONVIF scopes (pkg/inspect/wsd).
	{SigWSDType, "dn:NetworkVideoTransmitter", "wsd-onvif-nvt", "type=camera"},
	{SigWSDType, "wprt:PrintDeviceType", "wsd-print-device", "type=printer"},
	{SigWSDType, "pub:Computer", "wsd-pub-computer", "type=computer"},
	{SigONVIFScope, "type/video_encoder", "onvif-scope-video-encoder", "type=camera"},
	{SigONVIFScope, "type/Network_Video_Transmitter", "onvif-scope-video-encoder", "type=camera"},
	{SigONVIFScope, "hardware/DS-2CD2142FWD-I", "onvif-scope-hardware", "model=DS-2CD2142FWD-I"},
	{SigONVIFScope, "name/HIKVISION", "onvif-scope-name", "vendor=HIKVISION"},
	{SigONVIFScope, "name/AXIS M3045-V", "onvif-scope-name", "vendor=AXIS"},
	{SigONVIFScope, "name/Tapo C200", "onvif-scope-name", "vendor=Tapo"},
	{SigONVIFScope, "manufacturer/Tiandy", "onvif-scope-manufacturer", "vendor=Tiandy"},
}

// ruleMisses are hostile or look-alike values a rule must not match.
var ruleMisses = []ruleCase{
	// A Windows host's device type is every WSD device's; a PTZ unit
	// or a decoder is no camera of itself.
	{SigWSDType, "wsdp:Device", "wsd-pub-computer", ""},
	{SigWSDType, "wprt:PrintDeviceTypeX", "wsd-print-device", ""},
	{SigONVIFScope, "type/ptz", "onvif-scope-video-encoder", ""},
	{SigONVIFScope, "type/Network_Video_Decoder", "onvif-scope-video-encoder", ""},
	{SigONVIFScope, "location/hardware/x", "onvif-scope-hardware", ""},
	// The name scope names its maker only as shipped: the maker's name,
	// alone or before model numbers; not in what the owner typed.
	{SigONVIFScope, "name/Brother's room", "onvif-scope-name", ""},
	{SigONVIFScope, "name/Ring doorbell", "onvif-scope-name", ""},
	{SigONVIFScope, "name/Front door Axis", "onvif-scope-name", ""},
	{SigONVIFScope, "name/IPC-HDW2431T-AS-S2", "onvif-scope-name", ""},
	// Only Apple's MacN,M identifiers, whole: not any model that begins
	// with Mac.
	{SigMDNSTXT, "model=MacroSystemNAS2,1", "mdns-txt-apple-computer", ""},
	{SigMDNSTXT, "model=Mac14,2-clone", "mdns-txt-apple-model", ""},
	// A version of an unknown form is not cut to one that looks known.
	{SigServer, "Apache OpenSSL/1.0.2zfx", "server-openssl", ""},
	{SigBanner, "ProFTPD 1.3.6rc Server", "banner-proftpd", ""},
	{SigHostname, "webcam-fan-laptop", "host-camera", ""},
	// Cam is a name too: Windows' default <USER>-PC, a laptop.
	{SigHostname, "CAM-PC", "host-camera", ""},
	// Nest Labs' prefixes are its cameras' and smoke alarms' too.
	{SigOUI, "Nest Labs Inc.", "oui-thermostat-makers", ""},
	{SigHostname, "cam-laptop", "host-camera", ""},
	// imac inside a word is no iMac.
	{SigHostname, "Primacom", "host-mac", ""},
	{SigHostname, "climacontrol", "host-mac", ""},
	{SigHostname, "PRIMACOM-GW", "host-mac", ""},
	{SigHostname, "Dimacs-box", "host-mac", ""},
	{SigHostname, "ipcamera.example", "host-tv", ""},
	{SigHostname, "HS1100", "host-kasa", ""},
	{SigHostname, "android-3f2a", "host-android-default", ""},
	{SigHostname, "tasmota-1A2B3C-0123", "host-brand-prefix", ""}, // firmware, not a maker
	{SigDHCPVendorClass, "MSFT 98", "dhcp-vc-msft", ""},
	{SigDHCPVendorClass, "udhcp", "dhcp-vc-udhcp", ""},
	{SigDHCPPRL, "1,3,6,12,15,28,42,43", "prl-busybox-udhcpc", ""},
	{SigDomain, "nothikvision.com", "dom-hikvision", ""},
	{SigDomain, "hikvision.com.evil.example", "dom-hikvision", ""},
	{SigDomain, "sonos.com.", "dom-ring", ""},
	{SigServer, "Boa", "server-boa", ""},
	{SigServer, "GoAheadWebs", "server-goahead", ""},
	{SigBanner, "busybox v", "banner-busybox", ""},
	// A maker's name elsewhere in an identification is no product of theirs.
	{SigBanner, "SSH-2.0-OpenSSH_9.2 Cisco-1.25", "banner-cisco-ssh", ""},
	{SigBanner, "SSH-2.0-ROSSSH_fake", "banner-mikrotik-ssh", ""},
	{SigTCPSYN, "64:64240:1460:M,S,T,N,W,N", "syn-linux", ""},
	{SigTCPSYN, "128:64240:1460:M,S,T,N,W", "syn-windows", ""},
	{SigMDNSService, "_ipp._udp", "mdns-ipp", ""},
	{SigUserAgent, "Mozilla/5.0 (Linux; Android) Tizen-like", "ua-tizen", ""},
	{SigMDNSTXT, "modelx=foo", "mdns-txt-model", ""},
	// Registrants whose names begin like a device maker's: a whole word
	// is the maker, a prefix of another name is not.
	{SigOUI, "ARLOTTO COMNET, INC.", "oui-ring-arlo", ""},
	{SigOUI, "SonoSite, Inc.", "oui-speaker-makers", ""},
	// Kyocera's phones and displays have prefixes of their own.
	{SigOUI, "Kyocera Wireless Corp.", "oui-printer-makers", ""},
	{SigOUI, "KYOCERA CORPORATION", "oui-printer-makers", ""},
	{SigOUI, "KYOCERA Display Corporation", "oui-printer-makers", ""},
}

func describe(m Match) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("vendor", m.Vendor)
	add("type", m.Type)
	add("model", m.Model)
	add("fw", m.Firmware)
	add("os", m.OS)
	add("sw", m.Software)
	add("ver", m.Version)
	sort.Strings(parts)
	return strings.Join(parts, "|")
}

func sortedWant(w string) string {
	if w == "" {
		return ""
	}
	parts := strings.Split(w, "|")
	sort.Strings(parts)
	return strings.Join(parts, "|")
}

func TestRuleCases(t *testing.T) {
	rs, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, tc := range ruleCases {
		t.Run(fmt.Sprintf("%s/%s", tc.rule, tc.val), func(t *testing.T) {
			var got []string
			found := false
			rs.Match(tc.sig, tc.val, func(m Match) {
				got = append(got, m.Rule.ID)
				if m.Rule.ID != tc.rule {
					return
				}
				found = true
				covered[tc.rule] = true
				if d := describe(m); d != sortedWant(tc.want) {
					t.Errorf("%s(%q) = %s, want %s", tc.sig, tc.val, d, sortedWant(tc.want))
				}
			})
			if !found {
				t.Errorf("%s(%q): rule %s did not match (matched %v)", tc.sig, tc.val, tc.rule, got)
			}
		})
	}
	for _, tc := range ruleMisses {
		rs.Match(tc.sig, tc.val, func(m Match) {
			if m.Rule.ID == tc.rule {
				t.Errorf("%s(%q) matched %s, want no match", tc.sig, tc.val, tc.rule)
			}
		})
	}
	for _, r := range rs.All() {
		if !covered[r.ID] {
			t.Errorf("rule %s is exercised by no test case", r.ID)
		}
	}
}

func TestEveryRuleHasSourceAndCompiles(t *testing.T) {
	rs, err := Parse(rulesTOML, prlTOML)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.All()) < 100 {
		t.Fatalf("only %d rules", len(rs.All()))
	}
	for _, r := range rs.All() {
		if len(strings.TrimSpace(r.Source)) < 10 {
			t.Errorf("rule %s: source %q names no source", r.ID, r.Source)
		}
		if r.Regex != "" && r.re == nil {
			t.Errorf("rule %s: regex not compiled", r.ID)
		}
	}
	for _, f := range [][]byte{rulesTOML, prlTOML} {
		head := string(f[:min(len(f), 400)])
		if !strings.HasPrefix(head, "# ") || !strings.Contains(strings.ToLower(head), "source") {
			t.Errorf("data file header names no sources: %q", head[:60])
		}
	}
}

func TestParseRejects(t *testing.T) {
	base := "[[rule]]\nid = \"x\"\nsource = \"a real source\"\nsignals = [\"hostname\"]\n"
	tests := []struct {
		name, rules, want string
	}{
		{"no_source", "[[rule]]\nid = \"x\"\nsignals = [\"hostname\"]\nregex = 'a'\ntype = \"camera\"\nweight = 0.5\n", "no source"},
		{"bad_regex", base + "regex = '(a'\ntype = \"camera\"\nweight = 0.5\n", "missing closing"},
		{"two_matchers", base + "regex = 'a'\nequals = [\"a\"]\ntype = \"camera\"\nweight = 0.5\n", "exactly one"},
		{"unknown_signal", "[[rule]]\nid = \"x\"\nsource = \"a real source\"\nsignals = [\"smell\"]\nregex = 'a'\ntype = \"camera\"\nweight = 0.5\n", "unknown signal"},
		{"unknown_type", base + "regex = 'a'\ntype = \"toaster\"\nweight = 0.5\n", "unknown device type"},
		{"weight_zero", base + "regex = 'a'\ntype = \"camera\"\n", "weight"},
		{"weight_above_one", base + "regex = 'a'\ntype = \"camera\"\nweight = 1.5\n", "weight"},
		{"no_output", base + "regex = 'a'\n", "no output"},
		{"group_out_of_range", base + "regex = '(a)'\nmodel = \"$2\"\nweight = 0.5\n", "group 2"},
		{"suffix_on_hostname", base + "suffixes = [\"example.com\"]\ntype = \"camera\"\nweight = 0.5\n", "domain signal"},
		{"bad_product", base + "regex = 'a'\nsoftware = \"BusyBox\"\n", "product id"},
		{"unknown_key", base + "regex = 'a'\ntype = \"camera\"\nweight = 0.5\ncolour = \"red\"\n", "unknown key"},
		{"duplicate_id", base + "regex = 'a'\ntype = \"camera\"\nweight = 0.5\n" + base + "regex = 'b'\ntype = \"camera\"\nweight = 0.5\n", "duplicate"},
		{"chip_without_vendor", base + "regex = 'a'\nos = \"lwIP\"\nchip = true\nweight = 0.5\n", "chip without vendor"},
		{"known_vendor_without_vendor", base + "regex = 'a'\ntype = \"camera\"\nknown_vendor = true\nweight = 0.5\n", "known_vendor without vendor"},
		{"parent_cycle", "[parents]\na = \"b\"\nb = \"a\"\n", "ancestor"},
		{"software_no_matcher", "[[upnp_software]]\nid = \"x\"\nsource = \"a real source\"\n", "manufacturer or model"},
		{"software_no_source", "[[upnp_software]]\nid = \"x\"\nmanufacturer = [\"X\"]\n", "no source"},
		{"software_bad_regex", "[[upnp_software]]\nid = \"x\"\nsource = \"a real source\"\nmodel = '(a'\n", "missing closing"},
		{"software_empty_manufacturer", "[[upnp_software]]\nid = \"x\"\nsource = \"a real source\"\nmanufacturer = [\" \"]\n", "empty manufacturer"},
		{"software_duplicate_id", strings.Repeat("[[upnp_software]]\nid = \"x\"\nsource = \"a real source\"\nmanufacturer = [\"X\"]\n", 2), "duplicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.rules), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestParentsAndMatchAllocation(t *testing.T) {
	rs, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if rs.Parent("Android") != "Linux" || rs.Parent("Linux") != "" {
		t.Fatalf("parents: Android→%q Linux→%q", rs.Parent("Android"), rs.Parent("Linux"))
	}
	// A value that matches nothing costs no allocation: most DNS names a
	// device resolves are of this kind.
	if n := testing.AllocsPerRun(100, func() {
		rs.Match(SigDomain, "www.example.org", func(Match) {})
	}); n != 0 {
		t.Fatalf("unmatched domain: %v allocations", n)
	}
}

func BenchmarkMatchDomain(b *testing.B) {
	rs, err := Embedded()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rs.Match(SigDomain, "a.b.c.www.example.org", func(Match) {})
	}
}

func BenchmarkMatchServer(b *testing.B) {
	rs, err := Embedded()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rs.Match(SigServer, "Linux/3.10 UPnP/1.0 MiniUPnPd/1.6", func(Match) {})
	}
}
