package http

import "testing"

func TestQuietHeader(t *testing.T) {
	tests := []struct {
		name, header, value string
		want                bool
	}{
		{"host", "Host", "www.example.com", true},
		{"host_port", "host", "192.168.1.1:8443", true},
		{"host_ipv6", "Host", "[2001:db8::1]:8080", true},
		{"host_cdn_label", "Host", "d3rlzbr8ymv9u5.cloudfront.net", true},
		{"host_imei_label", "Host", "357938035643809.devices.vendor.example", false},
		{"host_mac_label", "Host", "a4cf129b3e01.devices.vendor.example", false},
		{"host_serial_label", "Host", "sn-357938035643809.dl.vendor.example:80", false},
		{"browser_agent", "User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", true},
		{"android_agent", "User-Agent", "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP1A.240305.019.A1)", true},
		{"firefox_agent", "User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", true},
		{"apple_check_agent", "User-Agent", "CaptiveNetworkSupport-481.0.1 wispr", true},
		{"agent_serial", "User-Agent", "Cam/2.1 (SN 357938035643809)", false},
		{"agent_mac", "User-Agent", "Cam/2.1 (MAC A4:CF:12:9B:3E:01)", false},
		{"agent_token", "User-Agent", "app/3.0 id=Xk9fQ2mL7pR4tZ8w", false},
		{"accept", "Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true},
		{"accept_language", "Accept-Language", "de-DE,de;q=0.9,en;q=0.8", true},
		{"accept_with_key", "Accept", "application/json; key=0123456789abcdef0123", false},
		{"client_hints", "Sec-CH-UA", `"Not_A Brand";v="8", "Chromium";v="120"`, true},
		{"fetch_metadata", "Sec-Fetch-User", "?1", true},
		{"conditional", "If-Modified-Since", "Tue, 02 Jan 2024 10:00:00 GMT", true},
		{"etag", "If-None-Match", `W/"65a1b2c3-264"`, true},
		{"hash_etag", "If-None-Match", `"0123456789abcdef0123456789abcdef"`, false},
		{"referer", "Referer", "http://www.example.com/news/", true},
		{"referer_query", "Referer", "http://www.example.com/?q=flights", false},
		{"connection", "Connection", "keep-alive", true},
		{"upgrade_insecure", "Upgrade-Insecure-Requests", "1", true},
		{"cookie", "Cookie", "theme=dark", false},
		{"basic", "Authorization", "Basic YWRtaW46c2VjcmV0", false},
		{"token_scheme", "Authorization", "Token 0123456789abcdef", false},
		{"proxy_authorization", "Proxy-Authorization", "Negotiate 0123456789abcdef", false},
		{"api_key", "X-Api-Key", "0123456789abcdef01234567", false},
		{"short_custom", "X-Region", "eu", false},
		{"websocket_protocol", "Sec-WebSocket-Protocol", "token.0123456789abcdef", false},
		{"origin", "Origin", "http://www.example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := quietHeader([]byte(tt.header), []byte(tt.value)); got != tt.want {
				t.Errorf("quietHeader(%s: %s) = %v, want %v", tt.header, tt.value, got, tt.want)
			}
		})
	}
}
