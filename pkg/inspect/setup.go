package inspect

// SetupPage is a device firmware's page that takes the Wi-Fi network
// and key in a form or query: the HTTP analyzer passes a form posted to
// one on with its path, and the personal-data scanner reads the page's
// short field names (s, p) there only.
type SetupPage uint8

// The setup pages known, by the firmware's own whole paths.
const (
	NoSetupPage     SetupPage = iota
	WiFiManagerSave           // ESP WiFiManager's /wifisave: s, p
	TasmotaWiFi               // Tasmota's /wi: s1, p1, s2, p2
	TasmotaConsole            // Tasmota's web console /cs: c1, a command
)

// SetupPageAt says which setup page path is.
func SetupPageAt(path []byte) SetupPage {
	for p := WiFiManagerSave; p <= TasmotaConsole; p++ {
		if string(path) == p.Path() {
			return p
		}
	}
	return NoSetupPage
}

// Path is p's path; "" for NoSetupPage.
func (p SetupPage) Path() string {
	switch p {
	case WiFiManagerSave:
		return "/wifisave"
	case TasmotaWiFi:
		return "/wi"
	case TasmotaConsole:
		return "/cs"
	}
	return ""
}
