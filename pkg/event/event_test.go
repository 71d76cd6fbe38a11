package event

import (
	"maps"
	"testing"
)

// TestDedupKey: what makes two findings of one kind on one device the same.
func TestDedupKey(t *testing.T) {
	const camera, phone = "c0:56:e3:1a:2b:3c", "f0:99:bf:00:00:01"
	login := func(device Endpoint, client, server Endpoint) *Event {
		return &Event{Kind: KindDefaultCredentials, Device: device,
			Flow:     &Flow{Transport: "tcp", App: "telnet", Client: client, Server: server},
			Evidence: Evidence{"protocol": "telnet", "user": "ro***", "password_class": "default"}}
	}
	cam := func(ip string) Endpoint { return Endpoint{MAC: camera, IP: ip, Port: 23, Local: true} }
	ph := Endpoint{MAC: phone, IP: "192.168.1.50", Port: 40000, Local: true}
	cloud := func(ip string) Endpoint { return Endpoint{IP: ip, Port: 21} }
	tests := []struct {
		name      string
		a, b      *Event
		wantEqual bool
	}{
		{"server_after_dhcp_moved_it",
			login(cam("192.168.1.101"), ph, cam("192.168.1.101")), login(cam("192.168.1.120"), ph, cam("192.168.1.120")), true},
		{"server_other_port",
			login(cam("192.168.1.101"), ph, cam("192.168.1.101")),
			login(cam("192.168.1.101"), ph, Endpoint{MAC: camera, IP: "192.168.1.101", Port: 2323, Local: true}), false},
		{"server_logged_in_from_elsewhere",
			login(cam("192.168.1.101"), ph, cam("192.168.1.101")),
			login(cam("192.168.1.101"), Endpoint{IP: "198.51.100.9", Port: 5000}, cam("192.168.1.101")), true},
		{"client_to_a_cloud_at_two_addresses",
			login(ph, ph, cloud("198.51.100.4")), login(ph, ph, cloud("198.51.100.5")), true},
		{"client_to_two_lan_servers",
			login(ph, ph, Endpoint{MAC: camera, IP: "192.168.1.101", Port: 21, Local: true}),
			login(ph, ph, Endpoint{MAC: "02:00:00:00:00:09", IP: "192.168.1.109", Port: 21, Local: true}), false},
		{"plaintext_protocol_to_two_destinations",
			&Event{Kind: KindPlaintextProtocol, Device: ph, Flow: &Flow{App: "http", Client: ph, Server: cloud("198.51.100.4")}},
			&Event{Kind: KindPlaintextProtocol, Device: ph, Flow: &Flow{App: "http", Client: ph, Server: cloud("198.51.100.5")}}, false},
		// The active audit files the default login it verified with the
		// port and no keyed hash; the passive finding has the hash.
		{"server_audit_and_passive_default_login",
			withEvidence(login(cam("192.168.1.101"), ph, cam("192.168.1.101")), "password_hash", "3f2a9c1d8e7b6a5f"),
			withEvidence(login(cam("192.168.1.101"), Endpoint{IP: "192.168.1.1", Port: 41000, Local: true}, cam("192.168.1.101")), "port", "23"), true},
		{"client_weak_passwords_differ",
			withEvidence(withEvidence(login(ph, ph, cloud("198.51.100.4")), "password_class", "weak"), "password_hash", "3f2a9c1d8e7b6a5f"),
			withEvidence(withEvidence(login(ph, ph, cloud("198.51.100.4")), "password_class", "weak"), "password_hash", "0011223344556677"), false},
		{"plaintext_protocol_on_two_ports",
			withEvidence(&Event{Kind: KindPlaintextProtocol, Device: ph, Flow: &Flow{App: "http", Client: ph, Server: cloud("198.51.100.4")}}, "port", "80"),
			withEvidence(&Event{Kind: KindPlaintextProtocol, Device: ph, Flow: &Flow{App: "http", Client: ph, Server: cloud("198.51.100.4")}}, "port", "8080"), false},
		// One service over a CDN's addresses, known by the name the
		// device looked it up by, is one finding; two names are two.
		{"plaintext_protocol_to_one_named_service",
			withEvidence(&Event{Kind: KindPlaintextProtocol, Device: ph, Flow: &Flow{App: "http", Client: ph, Server: cloud("198.51.100.4")}}, "server_name", "api.cloud.example"),
			withEvidence(&Event{Kind: KindPlaintextProtocol, Device: ph, Flow: &Flow{App: "http", Client: ph, Server: cloud("198.51.100.5")}}, "server_name", "api.cloud.example"), true},
		// A server negotiating two different weak key exchanges, the
		// cipher alike, is two findings.
		{"weak_ssh_two_key_exchanges",
			withEvidence(&Event{Kind: KindWeakSSH, Device: cam("192.168.1.101"), Flow: &Flow{App: "ssh", Client: ph, Server: cam("192.168.1.101")}}, "kex", "diffie-hellman-group1-sha1"),
			withEvidence(&Event{Kind: KindWeakSSH, Device: cam("192.168.1.101"), Flow: &Flow{App: "ssh", Client: ph, Server: cam("192.168.1.101")}}, "kex", "diffie-hellman-group-exchange-sha1"), false},
		{"plaintext_protocol_to_two_named_services",
			withEvidence(&Event{Kind: KindPlaintextProtocol, Device: ph, Flow: &Flow{App: "http", Client: ph, Server: cloud("198.51.100.4")}}, "server_name", "api.cloud.example"),
			withEvidence(&Event{Kind: KindPlaintextProtocol, Device: ph, Flow: &Flow{App: "http", Client: ph, Server: cloud("198.51.100.4")}}, "server_name", "ota.cloud.example"), false},
		// A default login seen accepted is not the same one tried
		// unanswered, refused or on a joined connection; the audit's
		// verification is the one seen accepted.
		{"client_default_login_refused_then_accepted",
			withEvidence(login(ph, ph, cloud("198.51.100.4")), "accepted", "no"),
			withEvidence(login(ph, ph, cloud("198.51.100.4")), "accepted", "yes"), false},
		{"client_default_login_joined_then_seen_from_start",
			withFlowJoined(withEvidence(login(ph, ph, cloud("198.51.100.4")), "accepted", "yes")),
			withEvidence(login(ph, ph, cloud("198.51.100.4")), "accepted", "yes"), false},
		{"server_default_login_joined_then_verified",
			withFlowJoined(withEvidence(login(cam("192.168.1.101"), ph, cam("192.168.1.101")), "accepted", "yes")),
			withVerified(withEvidence(login(cam("192.168.1.101"), Endpoint{IP: "192.168.1.1", Port: 41000, Local: true}, cam("192.168.1.101")), "port", "23")), false},
		{"server_default_login_accepted_then_verified",
			withEvidence(login(cam("192.168.1.101"), ph, cam("192.168.1.101")), "accepted", "yes"),
			withVerified(withEvidence(login(cam("192.168.1.101"), Endpoint{IP: "192.168.1.1", Port: 41000, Local: true}, cam("192.168.1.101")), "port", "23")), true},
		{"server_known_by_address_only",
			login(Endpoint{IP: "192.168.1.101"}, ph, Endpoint{IP: "192.168.1.101", Port: 23}),
			login(Endpoint{IP: "192.168.1.101"}, ph, Endpoint{IP: "192.168.1.101", Port: 2323}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := tt.a.DedupKey(), tt.b.DedupKey()
			if (ka == kb) != tt.wantEqual {
				t.Errorf("keys %q and %q: equal %v, want %v", ka, kb, ka == kb, tt.wantEqual)
			}
		})
	}
}

func withEvidence(e *Event, key, value string) *Event {
	e.Evidence = maps.Clone(e.Evidence)
	if e.Evidence == nil {
		e.Evidence = Evidence{}
	}
	e.Evidence[key] = value
	return e
}

func withFlowJoined(e *Event) *Event {
	f := *e.Flow
	f.Joined = true
	e.Flow = &f
	return e
}

func withVerified(e *Event) *Event {
	e.Verified = true
	return e
}

// TestDedupKeyIndex keeps the switch and the list of key fields in step.
func TestDedupKeyIndex(t *testing.T) {
	for i, k := range dedupEvidenceKeys {
		if got := dedupKeyIndex(k); got != i {
			t.Errorf("dedupKeyIndex(%q) = %d, want %d", k, got, i)
		}
	}
	for _, k := range []string{"", "summary", "Protocol", "users", "accepted"} {
		if got := dedupKeyIndex(k); got != -1 {
			t.Errorf("dedupKeyIndex(%q) = %d, want -1", k, got)
		}
	}
}

// TestDedupKeyFieldOrder: the key lists evidence in dedupEvidenceKeys'
// order, leaves other fields out, and is the same for every build of
// the map.
func TestDedupKeyFieldOrder(t *testing.T) {
	ev := &Event{Kind: KindWeakTLS, Device: Endpoint{MAC: "02:00:00:00:00:01"},
		Evidence: Evidence{"cipher": "RC4", "accepted": "yes", "tls_version": "1.0", "protocol": "tls", "url": "/x"}}
	const want = "weak_tls|02:00:00:00:00:01|tls|1.0|RC4|/x"
	for range 20 {
		ev.Evidence = maps.Clone(ev.Evidence)
		if got := ev.DedupKey(); got != want {
			t.Fatalf("DedupKey() = %q, want %q", got, want)
		}
	}
}

func BenchmarkAppendDedupKey(b *testing.B) {
	ev := &Event{Kind: KindDefaultCredentials, Device: Endpoint{MAC: "02:00:00:00:00:01", IP: "192.168.1.20", Port: 21, Local: true},
		Flow: &Flow{Transport: "tcp", App: "ftp", Client: Endpoint{IP: "192.168.1.50", Port: 40000, Local: true},
			Server: Endpoint{MAC: "02:00:00:00:00:01", IP: "192.168.1.20", Port: 21, Local: true}},
		Evidence: Evidence{"protocol": "ftp", "user": "ad***", "password": "ad***", "password_class": "default",
			"password_hash": "3f2a9c1d8e7b6a5f", "accepted": "yes", "vendor": "generic"}}
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = ev.AppendDedupKey(buf[:0])
	}
}
