package httpauth

import (
	"net/netip"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// TestSpacesCover: a challenge to a request protects the directory of
// its path and what is below it, on its server and origin (RFC 7617
// section 2.2), as far as MaxDepth directories down.
func TestSpacesCover(t *testing.T) {
	cam := netip.MustParseAddrPort("192.168.1.64:80")
	other := netip.MustParseAddrPort("192.168.1.65:80")
	deep := "/1/2/3/4/5/6/7/8/9/"
	tests := []struct {
		name                  string
		challenged, requested string
		chalServer, reqServer netip.AddrPort
		chalOrigin, reqOrigin string
		want                  bool
	}{
		{"same_page", "/ISAPI/Security/userCheck", "/ISAPI/Security/userCheck", cam, cam, "cam", "cam", true},
		{"same_directory", "/cgi-bin/a.cgi", "/cgi-bin/b.cgi", cam, cam, "cam", "cam", true},
		{"below", "/cgi-bin/a.cgi", "/cgi-bin/admin/param.cgi", cam, cam, "cam", "cam", true},
		{"root_covers_all", "/", "/doc/page/login.asp", cam, cam, "cam", "cam", true},
		{"no_path_is_root", "*", "/x", cam, cam, "", "", true},
		{"above", "/ISAPI/Security/userCheck", "/", cam, cam, "cam", "cam", false},
		{"beside", "/ISAPI/Security/userCheck", "/ISAPI/System/status", cam, cam, "cam", "cam", false},
		{"the_directory_without_its_slash", "/a/b/c", "/a/b", cam, cam, "cam", "cam", false},
		{"another_origin", "/", "/", cam, cam, "cam", "192.168.1.64", false},
		{"another_server", "/", "/", other, cam, "cam", "cam", false},
		{"deeper_than_kept", deep + "x", deep + "10/y", cam, cam, "cam", "cam", false},
		{"deep_same_directory", deep + "x", deep + "y", cam, cam, "cam", "cam", true},
	}
	m := NewMemory()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := m.spaces(m.serverKey(tt.chalServer), []byte(tt.chalOrigin), []byte(tt.challenged), false)
			r := m.spaces(m.serverKey(tt.reqServer), []byte(tt.reqOrigin), []byte(tt.requested), true)
			got := c.Own == r.Own
			for _, k := range r.Up[:r.NUp] {
				got = got || k == c.Own
			}
			if got != tt.want {
				t.Errorf("a challenge to %s covers %s: %v, want %v", tt.challenged, tt.requested, got, tt.want)
			}
		})
	}
}

func TestMemory(t *testing.T) {
	m := NewMemory()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	k := m.NonceKey(netip.MustParseAddrPort("192.168.1.64:80"), []byte("abc"))
	if m.has(k, now) {
		t.Fatal("an empty memory has a key")
	}
	m.put(k, now)
	if !m.has(k, now+int64(memoryTTL)-1) || m.has(k, now+int64(memoryTTL)) {
		t.Error("a key is not kept for exactly memoryTTL")
	}
	m.put(k^memorySlots, now) // another key in the same slot
	if m.has(k, now) {
		t.Error("a key replaced in its slot is still there")
	}
	if m.NonceKey(netip.MustParseAddrPort("192.168.1.64:80"), nil) != 0 || m.has(0, now) {
		t.Error("no nonce has a key")
	}
}

// TestID: credentials are the same for the verdicts when their scheme,
// user and password are; a Digest response, without a password, is its
// user, realm and what the classifier made of it.
func TestID(t *testing.T) {
	m := NewMemory()
	basic := func(user, hash string) uint64 {
		return m.ID(&inspect.Credential{Mechanism: "Basic", SecretHash: hash, Class: inspect.ClassUnique}, []byte(user), nil)
	}
	digest := func(user, realm string, class inspect.PasswordClass) uint64 {
		return m.ID(&inspect.Credential{Mechanism: "Digest", Class: class}, []byte(user), []byte(realm))
	}
	if a, b := basic("admin", "h1"), basic("admin", "h1"); a != b {
		t.Error("one credential, two identities")
	}
	for name, pair := range map[string][2]uint64{
		"password":      {basic("admin", "h1"), basic("admin", "h2")},
		"user":          {basic("admin", "h1"), basic("alice", "h1")},
		"digest_realm":  {digest("admin", "a", inspect.ClassHashed), digest("admin", "b", inspect.ClassHashed)},
		"digest_class":  {digest("admin", "a", inspect.ClassHashed), digest("admin", "a", inspect.ClassDefault)},
		"digest_vs_bas": {digest("admin", "", inspect.ClassUnique), basic("admin", "")},
	} {
		if pair[0] == pair[1] {
			t.Errorf("%s: two credentials, one identity", name)
		}
	}
}

func TestChallengeNonces(t *testing.T) {
	m := NewMemory()
	server := netip.MustParseAddrPort("192.168.1.64:554")
	var c Challenge
	c.Add(m, server, []byte(`Basic realm="IP Camera"`), false)
	c.Add(m, server, []byte(`Digest realm="IP Camera", nonce="abc123", stale="FALSE"`), false)
	c.Add(m, server, []byte(`Digest realm="IP Camera", nonce="def", stale=TRUE`), true)
	c.Add(m, server, []byte(`Digest realm="IP Camera", nonce="ghi"`), false)
	want := Challenge{Origin: true, Proxy: true, Stale: true,
		Nonces: [2]uint64{m.NonceKey(server, []byte("abc123")), m.NonceKey(server, []byte("def"))}}
	if c != want {
		t.Errorf("challenge %+v, want %+v", c, want)
	}
}

func TestVerdictKeysNoAllocs(t *testing.T) {
	m := NewMemory()
	server := netip.MustParseAddrPort("192.168.1.64:80")
	origin, path := []byte("cam"), []byte("/cgi-bin/admin/param.cgi")
	cred := inspect.Credential{Mechanism: "Basic", SecretHash: "0123456789abcdef", Class: inspect.ClassUnique}
	var sink uint64
	allocs := testing.AllocsPerRun(100, func() {
		sp := m.spaces(m.serverKey(server), origin, path, true)
		sink += sp.Own + m.NonceKey(server, path) + m.ID(&cred, origin, nil) + m.refusedKey(server, sp.Own, true) + m.proxyKey(server)
		var c Challenge
		c.Add(m, server, []byte(`Digest realm="x", nonce="n"`), false)
	})
	if allocs != 0 {
		t.Errorf("%v allocs, want 0", allocs)
	}
	_ = sink
}
