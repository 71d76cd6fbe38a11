package ssh

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// offer is one side's KEXINIT name-lists; the ciphers and MACs are the
// same in both directions unless the S2C fields say otherwise.
type offer struct {
	kex, hostKey, ciphers, macs string
	ciphersS2C, macsS2C         string
}

// What OpenSSH 9 offers by default, more or less.
var modern = offer{
	kex:     "curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com",
	hostKey: "ssh-ed25519,rsa-sha2-512,rsa-sha2-256",
	ciphers: "chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com",
	macs:    "hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
}

// with returns o with fields replaced by non-empty ones of p.
func (o offer) with(p offer) offer {
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&o.kex, p.kex}, {&o.hostKey, p.hostKey}, {&o.ciphers, p.ciphers}, {&o.macs, p.macs},
		{&o.ciphersS2C, p.ciphersS2C}, {&o.macsS2C, p.macsS2C},
	} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
	return o
}

// packet is o's KEXINIT as a binary packet (RFC 4253 sections 6 and 7.1).
func (o offer) packet() []byte {
	cs2c, ms2c := o.ciphersS2C, o.macsS2C
	if cs2c == "" {
		cs2c = o.ciphers
	}
	if ms2c == "" {
		ms2c = o.macs
	}
	payload := []byte{msgKexInit}
	payload = append(payload, "0123456789abcdef"...)
	for _, l := range []string{o.kex, o.hostKey, o.ciphers, cs2c, o.macs, ms2c, "none", "none", "", ""} {
		payload = binary.BigEndian.AppendUint32(payload, uint32(len(l)))
		payload = append(payload, l...)
	}
	payload = append(payload, 0, 0, 0, 0, 0)
	pad := 8 - (5+len(payload))%8
	if pad < 4 {
		pad += 8
	}
	p := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)+pad))
	p = append(p, byte(pad))
	p = append(p, payload...)
	return append(p, make([]byte, pad)...)
}

const (
	clientIdent = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
	serverIdent = "SSH-2.0-dropbear_2014.63\r\n"
)

// exchange runs a connection in which the server speaks first and the
// KEXINITs are sent in chunks of at most chunk bytes (0: whole).
func exchange(c *inspecttest.Conv, server, client []byte, chunk int) {
	c.Server(serverIdent).Client(clientIdent)
	if chunk == 0 {
		c.ServerBytes(server).ClientBytes(client)
		return
	}
	for len(server) > 0 || len(client) > 0 {
		k := min(chunk, len(server))
		c.ServerBytes(server[:k])
		server = server[k:]
		k = min(chunk, len(client))
		c.ClientBytes(client[:k])
		client = client[k:]
	}
}

type finding struct {
	device, severity string
	evidence         string // key=value, sorted
}

func findings(col *inspecttest.Collector) []finding {
	var got []finding
	for _, ev := range col.Kind(event.KindWeakSSH) {
		var kv []string
		for k, v := range ev.Evidence {
			kv = append(kv, k+"="+v)
		}
		slices.Sort(kv)
		if ev.Provision != "5.5-1" || ev.Capability != event.CapSecureCommunication || !ev.IsFinding() {
			panic("weak_ssh without its provision")
		}
		got = append(got, finding{ev.Device.IP, ev.Severity.String(), strings.Join(kv, " ")})
	}
	return got
}

func TestWeakNegotiated(t *testing.T) {
	const lanServer, lanClient, cloud, scanner = "192.168.1.20:22", "192.168.1.10:40000", "198.51.100.7:22", "203.0.113.9:40000"
	tests := []struct {
		name           string
		client, server string // addresses; lanClient and lanServer when empty
		c, s           offer
		chunk          int
		want           []finding
	}{
		{name: "modern", c: modern, s: modern},
		{name: "weak_offered_not_negotiated", c: modern,
			s: modern.with(offer{kex: "diffie-hellman-group1-sha1," + modern.kex, hostKey: "ssh-dss,ssh-rsa," + modern.hostKey, ciphers: "3des-cbc,arcfour," + modern.ciphers, macs: "hmac-md5," + modern.macs})},
		{name: "old_server", // the client added legacy algorithms at the end of its lists
			c:    modern.with(offer{kex: modern.kex + ",diffie-hellman-group1-sha1", hostKey: modern.hostKey + ",ssh-rsa", ciphers: modern.ciphers + ",aes128-cbc", macs: modern.macs + ",hmac-sha1"}),
			s:    offer{kex: "diffie-hellman-group1-sha1,diffie-hellman-group14-sha1", hostKey: "ssh-rsa", ciphers: "aes128-cbc,3des-cbc", macs: "hmac-sha1,hmac-md5"},
			want: []finding{{"192.168.1.20", "medium", "cipher=aes128-cbc host_key=ssh-rsa kex=diffie-hellman-group1-sha1"}}},
		{name: "client_prefers_weak",
			c:    modern.with(offer{ciphers: "3des-cbc," + modern.ciphers}),
			s:    modern.with(offer{ciphers: modern.ciphers + ",3des-cbc"}),
			want: []finding{{"192.168.1.20", "medium", "cipher=3des-cbc"}, {"192.168.1.10", "medium", "cipher=3des-cbc"}}},
		{name: "client_offers_only_weak",
			c:    offer{kex: "diffie-hellman-group-exchange-sha1", hostKey: "ssh-dss", ciphers: "blowfish-cbc", macs: "hmac-md5-96"},
			s:    modern.with(offer{kex: modern.kex + ",diffie-hellman-group-exchange-sha1", hostKey: modern.hostKey + ",ssh-dss", ciphers: modern.ciphers + ",blowfish-cbc", macs: modern.macs + ",hmac-md5-96"}),
			want: []finding{{"192.168.1.20", "medium", "cipher=blowfish-cbc host_key=ssh-dss kex=diffie-hellman-group-exchange-sha1 mac_algorithm=hmac-md5-96"}, {"192.168.1.10", "medium", "cipher=blowfish-cbc host_key=ssh-dss kex=diffie-hellman-group-exchange-sha1 mac_algorithm=hmac-md5-96"}}},
		{name: "weak_mac_unused_with_aead",
			c: modern.with(offer{macs: "hmac-sha1-96,hmac-sha2-256"}), s: modern.with(offer{macs: "hmac-sha1-96,hmac-sha2-256"})},
		{name: "weak_mac_with_rfc5647_gcm", // the MAC is AEAD_AES_128_GCM too
			c: modern.with(offer{ciphers: "AEAD_AES_128_GCM", macs: "hmac-md5,AEAD_AES_128_GCM"}),
			s: modern.with(offer{ciphers: "aes128-ctr,AEAD_AES_128_GCM", macs: "AEAD_AES_128_GCM,hmac-md5"})},
		// Whether the chosen cipher uses a MAC is not known when the
		// cipher is not: the client's list is longer than what is kept.
		{name: "weak_mac_cipher_unknown",
			c: modern.with(offer{ciphers: strings.Repeat("x,", maxNames) + "chacha20-poly1305@openssh.com", macs: "hmac-md5"}),
			s: modern.with(offer{ciphers: "chacha20-poly1305@openssh.com", macs: "hmac-md5"})},
		{name: "weak_mac_with_ctr",
			c:    modern.with(offer{ciphers: "aes128-ctr", macs: "hmac-sha1-96,hmac-sha2-256"}),
			s:    modern.with(offer{ciphers: "aes128-ctr", macs: "hmac-sha2-256,hmac-sha1-96"}),
			want: []finding{{"192.168.1.20", "medium", "mac_algorithm=hmac-sha1-96"}, {"192.168.1.10", "medium", "mac_algorithm=hmac-sha1-96"}}},
		{name: "one_direction_weak",
			c:    modern.with(offer{ciphers: "aes128-ctr", ciphersS2C: "arcfour256,aes128-ctr"}),
			s:    modern.with(offer{ciphers: "aes128-ctr,arcfour256"}),
			want: []finding{{"192.168.1.20", "medium", "cipher=arcfour256"}, {"192.168.1.10", "medium", "cipher=arcfour256"}}},
		{name: "no_encryption",
			c:    modern.with(offer{ciphers: "none", macs: "none"}),
			s:    modern.with(offer{ciphers: "aes128-ctr,none", macs: "hmac-sha2-256,none"}),
			want: []finding{{"192.168.1.20", "high", "cipher=none mac_algorithm=none"}, {"192.168.1.10", "high", "cipher=none mac_algorithm=none"}}},
		{name: "gss_family",
			c:    modern.with(offer{kex: "gss-group1-sha1-toWM5Slw5Ew8Mqkay+al2g==," + modern.kex}),
			s:    modern.with(offer{kex: "gss-group1-sha1-toWM5Slw5Ew8Mqkay+al2g==," + modern.kex}),
			want: []finding{{"192.168.1.20", "medium", "kex=gss-group1-sha1-*"}, {"192.168.1.10", "medium", "kex=gss-group1-sha1-*"}}},
		{name: "ecmqv", // RFC 5656's MQV: RFC 9142 SHOULD NOT
			c:    modern.with(offer{kex: "ecmqv-sha2," + modern.kex}),
			s:    modern.with(offer{kex: modern.kex + ",ecmqv-sha2"}),
			want: []finding{{"192.168.1.20", "medium", "kex=ecmqv-sha2"}, {"192.168.1.10", "medium", "kex=ecmqv-sha2"}}},
		{name: "byte_by_byte", chunk: 1,
			c: modern.with(offer{ciphers: "3des-cbc," + modern.ciphers}),
			s: modern.with(offer{ciphers: "3des-cbc"}),
			// The client's better ciphers are none the server offers.
			want: []finding{{"192.168.1.20", "medium", "cipher=3des-cbc"}}},
		{name: "internet_client_blames_lan_server_only", client: scanner,
			c:    offer{kex: "diffie-hellman-group1-sha1,curve25519-sha256", hostKey: "ssh-rsa,ssh-ed25519", ciphers: "aes128-cbc,aes128-ctr", macs: "hmac-sha1,hmac-sha2-256"},
			s:    modern.with(offer{kex: modern.kex + ",diffie-hellman-group1-sha1"}),
			want: []finding{{"192.168.1.20", "medium", "kex=diffie-hellman-group1-sha1"}}},
		{name: "lan_client_of_internet_server", server: cloud,
			c:    modern.with(offer{hostKey: modern.hostKey + ",ssh-rsa"}),
			s:    modern.with(offer{hostKey: "ssh-rsa"}),
			want: []finding{{"192.168.1.10", "medium", "host_key=ssh-rsa"}}},
		{name: "no_common_algorithm",
			c: modern, s: modern.with(offer{ciphers: "3des-cbc"})},
		// A list without a common name fails the connection: what the
		// others would have chosen was never used.
		{name: "no_common_kex_weak_cipher", // a client that allows CBC but not the old key exchange
			c: modern.with(offer{ciphers: modern.ciphers + ",aes128-cbc"}),
			s: offer{kex: "diffie-hellman-group1-sha1", hostKey: "ssh-rsa,rsa-sha2-256", ciphers: "aes128-cbc", macs: "hmac-sha1"}},
		{name: "no_common_mac_weak_kex",
			c: modern.with(offer{kex: "diffie-hellman-group1-sha1", ciphers: "aes128-ctr"}),
			s: modern.with(offer{kex: "diffie-hellman-group1-sha1", ciphers: "aes128-ctr", macs: "hmac-md5"})},
		{name: "no_common_mac_unused_with_aead",
			c:    modern.with(offer{kex: "diffie-hellman-group1-sha1"}),
			s:    modern.with(offer{kex: "diffie-hellman-group1-sha1", ciphers: "chacha20-poly1305@openssh.com", macs: "hmac-md5"}),
			want: []finding{{"192.168.1.20", "medium", "kex=diffie-hellman-group1-sha1"}, {"192.168.1.10", "medium", "kex=diffie-hellman-group1-sha1"}}},
		// A server list longer than what is kept cannot tell whether a
		// strong name the client prefers is among the names not kept.
		{name: "server_list_cut",
			c: modern.with(offer{kex: "sntrup761x25519-sha512@openssh.com,diffie-hellman-group1-sha1"}),
			s: modern.with(offer{kex: "diffie-hellman-group1-sha1" + strings.Repeat(",x", maxNames) + ",sntrup761x25519-sha512@openssh.com"})},
		{name: "server_list_cut_after_choice",
			c: modern.with(offer{kex: "diffie-hellman-group1-sha1,curve25519-sha256"}),
			s: modern.with(offer{kex: "diffie-hellman-group1-sha1" + strings.Repeat(",x", maxNames)}),
			// Whether the server offers the client's second choice is
			// not known: the client is not blamed.
			want: []finding{{"192.168.1.20", "medium", "kex=diffie-hellman-group1-sha1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := tt.client, tt.server
			if client == "" {
				client = lanClient
			}
			if server == "" {
				server = lanServer
			}
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewTCP(e, client, server)
			exchange(c, tt.s.packet(), tt.c.packet(), tt.chunk)
			c.Close()
			e.Flush()
			if got := findings(col); !slices.Equal(got, tt.want) {
				t.Errorf("findings\n%v\nwant\n%v", got, tt.want)
			}
			if n := len(col.Kind(event.KindBanner)); n != 1 {
				t.Errorf("%d banners, want 1", n)
			}
		})
	}
}

// TestNotRead: what is no SSH 2 key exchange is judged not at all.
func TestNotRead(t *testing.T) {
	weak := offer{kex: "diffie-hellman-group1-sha1", hostKey: "ssh-dss", ciphers: "3des-cbc", macs: "hmac-md5"}
	notKexInit := weak.packet()
	notKexInit[5] = 21 // SSH_MSG_NEWKEYS
	tests := []struct {
		name                     string
		serverIdent, clientIdent string
		server, client           []byte
		lose                     bool // a byte of the client's KEXINIT
	}{
		{"ssh1_server", "SSH-1.5-Cisco-1.25\r\n", clientIdent, weak.packet(), weak.packet(), false},
		{"ssh1_client", serverIdent, "SSH-1.5-PuTTY_Release_0.60\r\n", weak.packet(), weak.packet(), false},
		{"not_kexinit", serverIdent, clientIdent, weak.packet(), notKexInit, false},
		{"gap", serverIdent, clientIdent, weak.packet(), weak.packet(), true},
		{"oversized", serverIdent, clientIdent, weak.packet(), append([]byte{0, 1, 0, 0, 8}, weak.packet()[5:]...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:22")
			c.Server(tt.serverIdent + string(tt.server)).Client(tt.clientIdent)
			if tt.lose {
				c.ClientBytes(tt.client[:20]).Lose(inspect.ToServer, 1).ClientBytes(tt.client[21:])
			} else {
				c.ClientBytes(tt.client)
			}
			c.Close()
			e.Flush()
			if got := findings(col); len(got) != 0 {
				t.Errorf("findings %v, want none", got)
			}
			if n := len(col.Kind(event.KindBanner)); n != 1 {
				t.Errorf("%d banners, want 1", n)
			}
		})
	}
}

// TestKexInitNoAllocs: reading a KEXINIT, split anywhere, allocates
// nothing.
func TestKexInitNoAllocs(t *testing.T) {
	p := modern.with(offer{ciphers: "3des-cbc," + modern.ciphers}).packet()
	var o names
	allocs := testing.AllocsPerRun(200, func() {
		var r kexReader
		o.reset()
		for i := 0; i < len(p); i += 7 {
			r.feed(p[i:min(i+7, len(p))], &o)
		}
		if !r.done {
			t.Fatal("KEXINIT not read")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per KEXINIT, want 0", allocs)
	}
	if o.n[listCipherC2S] != 4 || o.grade[listCipherC2S][0] != cipher3DESCBC || o.hash[listCipherC2S][1] != nameHash("chacha20-poly1305@openssh.com") {
		t.Errorf("ciphers read %d, %v", o.n[listCipherC2S], o.grade[listCipherC2S][:o.n[listCipherC2S]])
	}
}

// TestKexReaderHostileLengths: a length past what the packet holds,
// however large, fails the read. Lengths are 32 bits unsigned and int is
// 32 bits on MIPS and ARM routers (make test-qemu runs this package for
// mips): one past 2^31 must not turn negative and slip past the bounds.
func TestKexReaderHostileLengths(t *testing.T) {
	const kexLen = 5 + 1 + cookieLen // where the key exchange list's length is
	tests := []struct {
		name string
		at   int
		v    uint32
	}{
		{"packet_length_2^31", 0, 1 << 31},
		{"packet_length_max", 0, 1<<32 - 1},
		{"packet_length_below_padding", 0, 3},
		{"list_length_2^31", kexLen, 1 << 31},
		{"list_length_max", kexLen, 1<<32 - 1},
		{"list_length_past_packet", kexLen, 40000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := modern.packet()
			binary.BigEndian.PutUint32(p[tt.at:], tt.v)
			for _, step := range []int{len(p), 1} {
				var r kexReader
				var o names
				for i := 0; i < len(p) && !r.done && !r.failed; i += step {
					r.feed(p[i:min(i+step, len(p))], &o)
				}
				if !r.failed || r.done {
					t.Errorf("in chunks of %d: failed %v, done %v; want failed", step, r.failed, r.done)
				}
			}
		})
	}
}

// TestOfferTableReusedCleared: a connection reads its KEXINITs into a
// table another, closed, gave back: none of that one's names may remain
// (the modern pair after the weak one is no finding).
func TestOfferTableReusedCleared(t *testing.T) {
	weak := offer{kex: "diffie-hellman-group1-sha1", hostKey: "ssh-rsa", ciphers: "aes128-cbc", macs: "hmac-sha1"}
	col := &inspecttest.Collector{}
	p := New()
	e := inspecttest.Engine(t, col, nil, p)
	for i, o := range []offer{weak, modern} {
		c := inspecttest.NewTCP(e, "192.168.1.10:"+strconv.Itoa(40000+i), "192.168.1.20:22")
		exchange(c, o.packet(), o.packet(), 0)
		c.Close()
	}
	e.Flush()
	if got := len(findings(col)); got != 2 { // the weak pair's, one per end
		t.Errorf("%d findings, want the weak connection's 2:\n%v", got, findings(col))
	}
	if p.offers.Lent() != 0 {
		t.Errorf("%d tables still lent", p.offers.Lent())
	}
}

func TestGrade(t *testing.T) {
	tests := []struct {
		l    list
		name string
		want algorithm
	}{
		{listKex, "diffie-hellman-group1-sha1", kexGroup1SHA1},
		{listKex, "diffie-hellman-group14-sha1", algUnknown}, // RFC 9142: MAY
		{listKex, "diffie-hellman-group14-sha256", algUnknown},
		{listKex, "ext-info-c", algPseudo},
		{listKex, "gss-gex-sha1-toWM5Slw5Ew8Mqkay+al2g==", kexGSSGexSHA1},
		{listHostKey, "ssh-rsa", hostKeyRSA},
		{listHostKey, "rsa-sha2-256", algUnknown},
		{listCipherS2C, "none", cipherNone},
		{listMACS2C, "none", macNone},
		{listCipherC2S, "aes256-cbc", cipherAES256CBC},
		{listCipherC2S, "aes256-ctr", algUnknown},
		{listMACC2S, "hmac-sha1", algUnknown},
		{listMACC2S, "hmac-sha1-96-etm@openssh.com", macSHA196ETM},
		{listKex, "hmac-md5", algUnknown}, // a name in the wrong list
	}
	for _, tt := range tests {
		if got := grade(tt.l, []byte(tt.name)); got != tt.want {
			t.Errorf("grade(%d, %q) = %v (%d), want %d", tt.l, tt.name, got, got, tt.want)
		}
	}
	for a := kexGroup1SHA1; a < numAlgorithms; a++ {
		if a.String() == "" {
			t.Errorf("algorithm %d has no name", a)
		}
	}
}

// FuzzKexReader: any bytes, cut anywhere, read into bounded lists.
func FuzzKexReader(f *testing.F) {
	f.Add(modern.packet(), uint8(3))
	f.Add(offer{kex: strings.Repeat("a,", 3*maxNames), hostKey: strings.Repeat("x", 3*maxNameLen)}.packet(), uint8(1))
	huge := modern.packet()
	binary.BigEndian.PutUint32(huge[5+1+cookieLen:], 1<<31) // negative as a 32-bit int
	f.Add(huge, uint8(15))
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8) {
		var r kexReader
		var o names
		step := int(chunk)%16 + 1
		for i := 0; i < len(b); i += step {
			seg := b[i:min(i+step, len(b))]
			if n := r.feed(seg, &o); n > len(seg) || n < len(seg) && !r.done && !r.failed {
				t.Fatalf("read %d of %d bytes, done %v, failed %v", n, len(seg), r.done, r.failed)
			}
		}
		for l := range numLists {
			if o.n[l] > maxNames {
				t.Fatalf("list %d kept %d names", l, o.n[l])
			}
		}
	})
}

// TestWeakKexRecording reads testdata/ssh-weak-kex.pcap, recorded by
// scripts/detection/record-ssh-weak.sh between Debian's OpenSSH 9.2
// server, set up to offer only diffie-hellman-group1-sha1, ssh-rsa and
// aes128-cbc/3des-cbc (a camera, 192.168.54.10), and Debian's OpenSSH
// client with those added at the end of its default lists (a PC,
// 192.168.54.20): the camera is to blame, the PC, which preferred better
// algorithms the camera lacks, is not.
func TestWeakKexRecording(t *testing.T) {
	col, err := inspecttest.RunFile(t, "testdata/ssh-weak-kex.pcap", nil, New())
	if err != nil {
		t.Fatal(err)
	}
	want := []finding{{"192.168.54.10", "medium", "cipher=aes128-cbc host_key=ssh-rsa kex=diffie-hellman-group1-sha1"}}
	if got := findings(col); !slices.Equal(got, want) {
		t.Errorf("findings %v, want %v", got, want)
	}
	if b := col.Kind(event.KindBanner); len(b) != 1 || b[0].Evidence["banner"] != "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10" {
		t.Errorf("banners %v", b)
	}
}
