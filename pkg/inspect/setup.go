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

// MaxTasmotaCommand is the longest command name TasmotaCommand accepts;
// Tasmota's are far shorter.
const MaxTasmotaCommand = 32

// TasmotaCommand returns the command a publish to topic gives a Tasmota
// device, or nil: the topic's last level, after a level "cmnd" (the
// command prefix of Tasmota's full topic, "cmnd/<device>/Power" by
// default, "<device>/cmnd/Power" when the prefix goes second). A
// command name is letters and digits.
func TasmotaCommand(topic []byte) []byte {
	last := len(topic)
	for last > 0 && topic[last-1] != '/' {
		last--
	}
	cmd := topic[last:]
	if len(cmd) == 0 || len(cmd) > MaxTasmotaCommand || last == 0 {
		return nil
	}
	for _, c := range cmd {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return nil
		}
	}
	for level := topic[:last-1]; len(level) > 0; {
		i := len(level)
		for i > 0 && level[i-1] != '/' {
			i--
		}
		if string(level[i:]) == "cmnd" {
			return cmd
		}
		level = level[:max(i-1, 0)]
	}
	return nil
}
