package web

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

func TestListenRefuses(t *testing.T) {
	for _, tc := range []struct {
		name      string
		addrs     []string
		forbidden []string
		want      string
	}{
		{"none", nil, nil, "no address"},
		{"ipv4_any", []string{"0.0.0.0:8443"}, nil, "refusing"},
		{"ipv6_any", []string{"[::]:8443"}, nil, "refusing"},
		{"mapped_any", []string{"[::ffff:0.0.0.0]:8443"}, nil, "refusing"},
		{"wan", []string{"127.0.0.1:0", "203.0.113.7:8443"}, []string{"203.0.113.7"}, "WAN address"},
		{"wan_mapped", []string{"[::ffff:203.0.113.7]:8443"}, []string{"203.0.113.7"}, "WAN address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var addrs []netip.AddrPort
			for _, a := range tc.addrs {
				addrs = append(addrs, netip.MustParseAddrPort(a))
			}
			var forbidden []netip.Addr
			for _, a := range tc.forbidden {
				forbidden = append(forbidden, netip.MustParseAddr(a))
			}
			lns, err := Listen(addrs, forbidden)
			for _, ln := range lns {
				ln.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Listen(%v): %v, want an error with %q", tc.addrs, err, tc.want)
			}
		})
	}
}

// TestListenOnlyOnGivenAddress listens on 127.0.0.1 and checks that
// another loopback address (127.0.0.2, the same interface) is refused.
func TestListenOnlyOnGivenAddress(t *testing.T) {
	lns, err := Listen([]netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lns[0].Close()
	port := lns[0].Addr().(*net.TCPAddr).Port
	if got := lns[0].Addr().(*net.TCPAddr).IP.String(); got != "127.0.0.1" {
		t.Fatalf("listening on %s", got)
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(port)), 2*time.Second)
	if err == nil {
		c.Close()
		t.Fatal("a connection to 127.0.0.2 was accepted: the listener is not bound to its address")
	}
}

// TestListenAddressNotUpYet: a LAN address not usable yet (IPv6 in
// duplicate address detection at boot) does not fail the page. Nothing
// is sent to it.
func TestListenAddressNotUpYet(t *testing.T) {
	lns, err := Listen([]netip.AddrPort{netip.MustParseAddrPort("192.0.2.80:0"), netip.MustParseAddrPort("[2001:db8::80]:0")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ln := range lns {
		ln.Close()
	}
}

func TestCertificateCreatedAndReused(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	lan := netip.MustParseAddr("192.168.50.1")
	first, err := LoadOrCreateCertificate(dir, []netip.Addr{lan}, []string{"router.lan"}, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf := first.Leaf
	key, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		t.Fatalf("key %T, want ECDSA P-256", leaf.PublicKey)
	}
	if err := leaf.VerifyHostname("192.168.50.1"); err != nil {
		t.Errorf("address SAN: %v", err)
	}
	if err := leaf.VerifyHostname("router.lan"); err != nil {
		t.Errorf("router.lan SAN: %v", err)
	}
	// No name the owner did not configure: a LAN device could claim it.
	if len(leaf.DNSNames) != 1 {
		t.Errorf("DNS names %v, want router.lan alone", leaf.DNSNames)
	}
	for _, name := range []string{CertFileName, KeyFileName} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v mode %v, want 0600", name, err, fi.Mode().Perm())
		}
	}
	again, err := LoadOrCreateCertificate(dir, []netip.Addr{lan}, []string{"router.lan"}, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if again.Leaf.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Fatal("a second start made a new certificate")
	}
	// A new address is a new certificate (the browser would refuse the old one).
	moved, err := LoadOrCreateCertificate(dir, []netip.Addr{netip.MustParseAddr("10.0.0.1")}, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if moved.Leaf.SerialNumber.Cmp(leaf.SerialNumber) == 0 || moved.Leaf.VerifyHostname("10.0.0.1") != nil {
		t.Fatal("the certificate was not renewed for a new address")
	}
	// Expired: renewed.
	expired, err := LoadOrCreateCertificate(dir, []netip.Addr{netip.MustParseAddr("10.0.0.1")}, nil, now.Add(certLifetime+time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if expired.Leaf.SerialNumber.Cmp(moved.Leaf.SerialNumber) == 0 {
		t.Fatal("an expired certificate was reused")
	}
	// A corrupt file is an error, not a silent new key.
	if err := os.WriteFile(filepath.Join(dir, CertFileName), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCertificate(dir, []netip.Addr{lan}, nil, now); err == nil {
		t.Fatal("a corrupt certificate file was accepted")
	}
}

// TestCertificateBeforeNTP: a router boots with its clock at 1970 (or its
// firmware's build date) and NTP sets it minutes later. A certificate
// made before that must still be valid once the clock is right, and one
// made with a right clock is kept at a boot before NTP: a new one would
// change the fingerprint the owner accepted.
func TestCertificateBeforeNTP(t *testing.T) {
	lan := netip.MustParseAddr("192.168.50.1")
	boot := time.Date(1970, 1, 1, 0, 0, 42, 0, time.UTC)
	set := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		made    time.Time // when the certificate on disk was made; zero: none
		start   time.Time // the clock at the start that loads it
		validAt []time.Time
		kept    bool
	}{
		{name: "made_at_1970", start: boot, validAt: []time.Time{boot, set, set.Add(365 * 24 * time.Hour)}},
		{name: "made_at_1970_kept_after_ntp", made: boot, start: set, validAt: []time.Time{set}, kept: true},
		{name: "made_right_kept_at_1970", made: set, start: boot, validAt: []time.Time{set}, kept: true},
		// OpenWrt boots at its build date or its newest file under /etc:
		// a set clock, days or months behind, until NTP.
		{name: "made_right_kept_at_build_date", made: set, start: set.AddDate(0, -2, 0), validAt: []time.Time{set}, kept: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var before *x509.Certificate
			if !tc.made.IsZero() {
				c, err := LoadOrCreateCertificate(dir, []netip.Addr{lan}, nil, tc.made)
				if err != nil {
					t.Fatal(err)
				}
				before = c.Leaf
			}
			c, err := LoadOrCreateCertificate(dir, []netip.Addr{lan}, nil, tc.start)
			if err != nil {
				t.Fatal(err)
			}
			if before != nil && (c.Leaf.SerialNumber.Cmp(before.SerialNumber) == 0) != tc.kept {
				t.Errorf("certificate kept: %v, want %v", !tc.kept, tc.kept)
			}
			for _, at := range tc.validAt {
				if at.Before(c.Leaf.NotBefore) || at.After(c.Leaf.NotAfter) {
					t.Errorf("certificate valid %s to %s: a browser at %s refuses it", c.Leaf.NotBefore, c.Leaf.NotAfter, at)
				}
			}
		})
	}
}

// TestServeHTTPS serves the page over TLS on loopback and talks to it with
// a client that trusts only the generated certificate.
func TestServeHTTPS(t *testing.T) {
	dir := t.TempDir()
	lo := netip.MustParseAddr("127.0.0.1")
	cert, err := LoadOrCreateCertificate(dir, []netip.Addr{lo}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	addr := serveLoopback(t, &cert)
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	hc := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       5 * time.Second,
	}
	url := "https://" + addr
	resp, err := hc.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/setup" {
		t.Fatalf("GET / over HTTPS: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	resp, err = hc.Get(url + "/setup")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if !c.Secure || !strings.HasPrefix(c.Name, "__Host-") {
			t.Errorf("cookie %s over HTTPS: Secure %v", c.Name, c.Secure)
		}
	}
	// A browser offers h2 first; the page answers in HTTP/1.1, the only
	// version the binary has.
	tc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("ALPN chose %q, want http/1.1", p)
	}
	tc.Close()
	// Plain HTTP to the TLS port (a browser given "address:port") is sent
	// to the same page over HTTPS, at the host it named if the page
	// answers to it, else at the address it came to.
	plain := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct{ host, path, want string }{
		{"", "/devices?x=1", "https://" + addr + "/devices?x=1"},
		{"evil.example", "/setup", "https://" + addr + "/setup"},
		{"", "//evil.example/x", "https://" + addr + "/"},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+tc.path, nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		resp, err := plain.Do(req)
		if err != nil {
			t.Fatalf("plain HTTP on the HTTPS port: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != tc.want || strings.Contains(string(body), "csrf") {
			t.Errorf("plain HTTP (Host %q) %s: %s to %q, want 308 to %q", tc.host, tc.path, resp.Status, resp.Header.Get("Location"), tc.want)
		}
	}
	// And the redirect's target works.
	resp, err = hc.Get(url + "/setup")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTPS after the redirect: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestFileStoreSeesAnotherWriter: the daemon's cached state follows a
// write by another process (`iotgw setup-code --reset`) of the same size
// within the same second, as on a file system that keeps whole seconds.
func TestFileStoreSeesAnotherWriter(t *testing.T) {
	dir := t.TempDir()
	daemon, cli := NewFileStore(dir), NewFileStore(dir)
	path := filepath.Join(dir, authFileName)
	stamp := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, epoch := range []string{"epoch-aaaa", "epoch-bbbb"} {
		if err := cli.SaveAuth(AuthState{SetupCodeHash: "h", Epoch: epoch}, "code"); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, stamp, stamp); err != nil {
			t.Fatal(err)
		}
		st, err := daemon.LoadAuth()
		if err != nil || st.Epoch != epoch {
			t.Fatalf("the daemon read epoch %q (%v), want %q", st.Epoch, err, epoch)
		}
	}
}

func TestFileStore(t *testing.T) {
	dir := t.TempDir()
	fs := NewFileStore(dir)
	if pending, err := EnsureSetupCode(fs); err != nil || !pending {
		t.Fatalf("first start: pending %v, %v", pending, err)
	}
	code, err := ReadSetupCode(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(normaliseSetupCode(code)) != setupCodeChars {
		t.Fatalf("code %q", code)
	}
	// Idempotent: the same code until it is used.
	if again, err := ReadSetupCode(dir); err != nil || again != code {
		t.Fatalf("second read %q, %v; want %q", again, err, code)
	}
	if pending, err := EnsureSetupCode(fs); err != nil || !pending {
		t.Fatalf("restart: pending %v, %v", pending, err)
	}
	if again, _ := ReadSetupCode(dir); again != code {
		t.Fatal("a restart changed the pending code")
	}
	for _, name := range []string{authFileName, SetupCodeFileName} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v mode %v, want 0600", name, err, fi.Mode().Perm())
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, authFileName))
	if strings.Contains(string(data), normaliseSetupCode(code)) {
		t.Fatal("the auth state holds the code in clear")
	}
	// A lost code file: a new code.
	os.Remove(filepath.Join(dir, SetupCodeFileName))
	lost, err := ReadSetupCode(dir)
	if err != nil || lost == code {
		t.Fatalf("after losing the code file: %q, %v", lost, err)
	}
	// Setting the password removes the code file; setup-code then refuses.
	st, _ := fs.LoadAuth()
	st.PasswordHash, st.SetupCodeHash = "$argon2id$x", ""
	if err := fs.SaveAuth(st, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, SetupCodeFileName)); !os.IsNotExist(err) {
		t.Fatalf("code file after setup: %v", err)
	}
	if _, err := ReadSetupCode(dir); err == nil || !strings.Contains(err.Error(), "--reset") {
		t.Fatalf("setup-code after setup: %v", err)
	}
	// Reset: a new code, the password forgotten, a new epoch.
	fresh, err := ResetSetupCode(fs)
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := fs.LoadAuth()
	if st2.PasswordHash != "" || st2.Epoch == st.Epoch || !setupCodeMatches(fresh, st2.SetupCodeHash) {
		t.Fatalf("after reset: %+v", st2)
	}
	// Corrupt state is an error, not an open door.
	if err := os.WriteFile(filepath.Join(dir, authFileName), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.LoadAuth(); err == nil {
		t.Fatal("a corrupt auth file was read as empty")
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword(goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := hashPassword(goodPassword)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if ok, err := verifyPassword(h, goodPassword); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, err := verifyPassword(h, goodPassword+"x"); ok || err != nil {
		t.Fatalf("wrong password: %v %v", ok, err)
	}
	for _, tc := range []struct{ name, stored string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuv"},
		{"huge_memory", "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5"},
		{"huge_time", "$argon2id$v=19$m=19456,t=100000,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5"},
		{"zero_threads", "$argon2id$v=19$m=19456,t=2,p=0$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5"},
		{"old_version", "$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5"},
		{"bad_base64", "$argon2id$v=19$m=19456,t=2,p=1$!!!$a2V5"},
		{"short_key", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5"},
	} {
		if ok, err := verifyPassword(tc.stored, goodPassword); ok || err == nil {
			t.Errorf("%s: ok %v err %v, want an error", tc.name, ok, err)
		}
	}
}

// BenchmarkPasswordVerify is what one login costs the router (argon2id,
// 19 MiB); -benchmem shows the memory.
func BenchmarkPasswordVerify(b *testing.B) {
	h, err := hashPassword(goodPassword)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := verifyPassword(h, goodPassword); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// The page serves at most MaxConns connections per listener; more wait in
// the backlog until one closes.
func TestServeCapsConnections(t *testing.T) {
	addr := serveLoopback(t, nil)
	get := func(timeout time.Duration) error {
		hc := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := hc.Get("http://" + addr + "/setup")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	idle := testenv.HoldConns(t, addr, MaxConns, MaxConnsPerSource)
	if get(500*time.Millisecond) == nil {
		t.Fatalf("request %d served while %d connections were open", MaxConns+1, MaxConns)
	}
	idle[0].Close()
	// Well within the 10 s header timeout that frees slots by itself.
	if err := get(2 * time.Second); err != nil {
		t.Fatalf("a freed slot did not serve the next request: %v", err)
	}
}

// One device holding its share of connections open is refused more, and
// the owner's browser on another address is still served.
func TestServeSharesPerSource(t *testing.T) {
	addr := serveLoopback(t, nil)
	held := testenv.HoldConns(t, addr, MaxConnsPerSource+1, MaxConnsPerSource+1) // all from one address
	testenv.ExpectRefused(t, held[MaxConnsPerSource], []byte("GET /setup HTTP/1.0\r\n\r\n"), "a connection beyond one address's share")
	hc := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get("http://" + addr + "/setup")
	if err != nil {
		t.Fatalf("another address was not served: %v", err)
	}
	resp.Body.Close()
}

// Each address holds its own share, and a device's addresses together
// half the connections: with the neighbour table saying 192.168.1.2, .3
// and .4 (the loopback sources 127.0.0.2, .3 and .4 seen as LAN clients)
// are one device, it holds a share from each of two addresses, and a
// connection beyond the share of one, or from its third address, is
// refused, while a client without a MAC is still served.
func TestServeSharesPerDevice(t *testing.T) {
	device := mustMAC(t, "02:00:00:00:00:0a")
	holder := func(a netip.Addr) (hwaddr.MAC, bool) {
		switch a.String() {
		case "192.168.1.2", "192.168.1.3", "192.168.1.4":
			return device, true
		}
		return hwaddr.MAC{}, false
	}
	addr := serveWrapped(t, loopbackServer(t, Options{HolderOf: holder}, &memStore{}), testenv.LANView)
	testenv.HoldConns(t, addr, MaxConns/2, MaxConnsPerSource) // a share from each of two addresses
	for _, src := range []struct {
		ip   net.IP
		what string
	}{
		{net.IPv4(127, 0, 0, 3), "a connection beyond one address's share"},
		{net.IPv4(127, 0, 0, 4), "a connection from a device's third address, beyond its half"},
	} {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.ip}}
		extra, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer extra.Close()
		testenv.ExpectRefused(t, extra, []byte("GET /setup HTTP/1.0\r\n\r\n"), src.what)
	}
	hc := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get("http://" + addr + "/setup")
	if err != nil {
		t.Fatalf("a client without a MAC was not served: %v", err)
	}
	resp.Body.Close()
}

// A connection that has carried no logged-in session is closed after the
// guest idle timeout; one that has stays open for the owner's next
// request. Over HTTP and HTTPS.
func TestServeGuestIdleTimeout(t *testing.T) {
	for _, https := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[https], func(t *testing.T) {
			testGuestIdleTimeout(t, https)
		})
	}
}

func testGuestIdleTimeout(t *testing.T, https bool) {
	const epoch = "e1"
	store := &memStore{st: AuthState{PasswordHash: "$argon2id$stand-in", Epoch: epoch}}
	var opt Options
	cookie := sessionCookie
	if https {
		cert, err := LoadOrCreateCertificate(t.TempDir(), []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		opt.TLS = &cert
		cookie = "__Host-" + sessionCookie
	}
	srv := loopbackServer(t, opt, store)
	srv.guestIdle = 300 * time.Millisecond
	addr := serve(t, srv)
	id, _, err := srv.sessions.create(epoch)
	if err != nil {
		t.Fatal(err)
	}
	dial := func() (net.Conn, error) {
		if https {
			return tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		}
		return net.Dial("tcp", addr)
	}
	for _, tc := range []struct {
		name, path, cookie string
		status             int
		closed             bool
	}{
		{"login page", "/login", "", http.StatusOK, true},
		{"unknown session", "/session", cookie + "=" + strings.Repeat("A", 43), http.StatusUnauthorized, true},
		{"logged in", "/session", cookie + "=" + id, http.StatusOK, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dial()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			get := func() {
				t.Helper()
				req := "GET " + tc.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				if tc.cookie != "" {
					req += "Cookie: " + tc.cookie + "\r\n"
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.WriteString(c, req+"\r\n"); err != nil {
					t.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.status {
					t.Fatalf("GET %s: %s, want %d", tc.path, resp.Status, tc.status)
				}
			}
			get()
			idleFrom := time.Now()
			if tc.closed {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if n, err := br.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
					t.Fatalf("read on the idle connection: %d bytes, %v; want it closed", n, err)
				}
				if idle := time.Since(idleFrom); idle < srv.guestIdle/2 {
					t.Errorf("closed after %v idle, before the guest timeout %v", idle, srv.guestIdle)
				}
				return
			}
			c.SetReadDeadline(time.Now().Add(4 * srv.guestIdle))
			var ne net.Error
			if _, err := br.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("read on the owner's idle connection: %v; want it open", err)
			}
			get() // the next request on the same connection is served
		})
	}
}

// A client that stops reading (its receive window stays shut) has its
// connection closed once a write has waited writeStall, as one holding
// it idle is after the idle timeout: otherwise a device on the LAN holds
// its share of the page's connections for as long as it likes, without
// sending a byte. Over HTTP and HTTPS.
func TestServeWriteStall(t *testing.T) {
	for _, https := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[https], func(t *testing.T) {
			var opt Options
			if https {
				cert, err := LoadOrCreateCertificate(t.TempDir(), []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				opt.TLS = &cert
			}
			srv := loopbackServer(t, opt, &memStore{})
			srv.writeStall = 300 * time.Millisecond
			addr := serve(t, srv)
			// A small receive buffer, so the server's writes stall soon.
			d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
				var err error
				if cerr := rc.Control(func(fd uintptr) {
					err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
				}); cerr != nil {
					return cerr
				}
				return err
			}}
			raw, err := d.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			c := raw
			if https {
				tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
				tc.SetDeadline(time.Now().Add(5 * time.Second))
				if err := tc.Handshake(); err != nil {
					t.Fatal(err)
				}
				tc.SetDeadline(time.Time{})
				c = tc
			}
			// Far more answers than the sockets' buffers hold: some 12 MB.
			const requests = 2000
			go func() {
				_, _ = io.WriteString(c, strings.Repeat("GET /static/style.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", requests))
			}()
			time.Sleep(10 * srv.writeStall) // not reading
			var got int
			buf := make([]byte, 64<<10)
			for {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := c.Read(buf)
				got += n
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("the connection is still open after its writes stalled (%d bytes read, all the answers)", got)
				}
				if err != nil {
					return // closed, mid-answer
				}
			}
		})
	}
}

// serveLoopback serves a page with a fake backend on a loopback port
// (HTTPS with cert) until the test ends, and returns its address.
func serveLoopback(t *testing.T, cert *tls.Certificate) string {
	t.Helper()
	return serve(t, loopbackServer(t, Options{TLS: cert}, &memStore{}))
}

// loopbackServer is a page with a fake backend, opt and store for a
// loopback port.
func loopbackServer(t *testing.T, opt Options, store AuthStore) *Server {
	t.Helper()
	opt.Addrs = []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0)}
	opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := New(opt, newFakeBackend(time.Now()), store, nil)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// serve serves srv until the test ends and returns its address.
func serve(t *testing.T, srv *Server) string {
	t.Helper()
	return serveWrapped(t, srv, nil)
}

// serveWrapped is serve with each of srv's listeners wrapped by wrap
// (unless nil).
func serveWrapped(t *testing.T, srv *Server, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	lns, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		for i, ln := range lns {
			lns[i] = wrap(ln)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lns) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return lns[0].Addr().String()
}

// TestPasswordRules: the passwords a guesser tries early are refused,
// dressed up or not; long or random ones pass.
func TestPasswordRules(t *testing.T) {
	pc, err := newPasswordChecker()
	if err != nil {
		t.Fatal(err)
	}
	refused := []string{
		"short1!",                                  // under the minimum
		"password123", "Password1!", "P@ssw0rd123", // listed words dressed up
		"welcome123", "letmein123", "iloveyou12", "changeme12", "Summer2024!",
		"iotgw12345", "openwrt123", "ROUTER2026!", // this page's own words
		"0penwrt123", "!otgw12345", "@dministrator", "$ecret12345", "1nternet123", // a look-alike first
		"2026secre7",                                           // ... or last
		"abcdefghij", "0123456789", "qwertyuiop", "zyxwvutsrq", // runs
		"passwordpassword", "hunter2hunter2", "ababababab", // repeats
	}
	for _, p := range refused {
		if err := pc.check(p, p); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
	accepted := []string{
		"correct horse battery staple", "Tr0ub4dor&3-kettle", "vX9#mK2$pL7q",
		"ich-mag-kaese-42", "password is long and fine", "4711 Köln am Rhein",
		"0scar-w1lde-reads", "1nterlaken!peaks",
	}
	for _, p := range accepted {
		if err := pc.check(p, p); err != nil {
			t.Errorf("%q refused: %v", p, err)
		}
	}
}
