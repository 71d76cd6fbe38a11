package creds

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/inspect"
)

const miraiSource = "Mirai scanner.c (jgamblin/Mirai-Source-Code)"

// miraiCalls are the 62 add_auth_entry() calls of Mirai's scanner.c, in
// order, as the encoded bytes decode (XOR 0x22). Call 27's comment says
// "Administrator admin" and call 58's says "admin 1234"; the bytes say
// meinsm and 4321. Calls 31 and 32 are the same pair.
var miraiCalls = [62][2]string{
	{"root", "xc3511"}, {"root", "vizxv"}, {"root", "admin"}, {"admin", "admin"},
	{"root", "888888"}, {"root", "xmhdipc"}, {"root", "default"}, {"root", "juantech"},
	{"root", "123456"}, {"root", "54321"}, {"support", "support"}, {"root", ""},
	{"admin", "password"}, {"root", "root"}, {"root", "12345"}, {"user", "user"},
	{"admin", ""}, {"root", "pass"}, {"admin", "admin1234"}, {"root", "1111"},
	{"admin", "smcadmin"}, {"admin", "1111"}, {"root", "666666"}, {"root", "password"},
	{"root", "1234"}, {"root", "klv123"}, {"Administrator", "meinsm"}, {"service", "service"},
	{"supervisor", "supervisor"}, {"guest", "guest"}, {"guest", "12345"}, {"guest", "12345"},
	{"admin1", "password"}, {"administrator", "1234"}, {"666666", "666666"}, {"888888", "888888"},
	{"ubnt", "ubnt"}, {"root", "klv1234"}, {"root", "Zte521"}, {"root", "hi3518"},
	{"root", "jvbzd"}, {"root", "anko"}, {"root", "zlxx."}, {"root", "7ujMko0vizxv"},
	{"root", "7ujMko0admin"}, {"root", "system"}, {"root", "ikwb"}, {"root", "dreambox"},
	{"root", "user"}, {"root", "realtek"}, {"root", "00000000"}, {"admin", "1111111"},
	{"admin", "1234"}, {"admin", "12345"}, {"admin", "54321"}, {"admin", "123456"},
	{"admin", "7ujMko0admin"}, {"admin", "4321"}, {"admin", "pass"}, {"admin", "meinsm"},
	{"tech", "tech"}, {"mother", "fucker"},
}

func newClassifier(tb testing.TB) *Classifier {
	tb.Helper()
	c, err := New()
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func login(proto, user, secret string) *inspect.Login {
	return &inspect.Login{Protocol: proto, User: []byte(user), Secret: []byte(secret), Kind: inspect.SecretPassword}
}

func community(s string) *inspect.Login {
	return &inspect.Login{Protocol: "snmp", Mechanism: "v2c", Secret: []byte(s), Kind: inspect.SecretCommunity}
}

func TestMiraiList(t *testing.T) {
	c := newClassifier(t)
	distinct := map[[2]string]bool{}
	for i, p := range miraiCalls {
		distinct[p] = true
		found := false
		for _, e := range c.entries {
			if e.user == p[0] && e.password == p[1] && e.source == miraiSource {
				found = true
				if e.scope != pTelnet || e.vendor != "" {
					t.Errorf("call %d %s/%s: scope %b vendor %q, want telnet, generic", i+1, p[0], p[1], e.scope, e.vendor)
				}
			}
		}
		if !found {
			t.Errorf("call %d %s/%s: not in %s", i+1, p[0], p[1], defaultsFile)
		}
		for _, proto := range []string{"telnet", "ssh", "ftp", "http", "rtsp", "pop3", "mqtt"} {
			if class, _ := c.Classify(login(proto, p[0], p[1])); class != inspect.ClassDefault {
				t.Errorf("call %d %s/%s over %s: %q, want default", i+1, p[0], p[1], proto, class)
			}
		}
	}
	n := 0
	for _, e := range c.entries {
		if e.source == miraiSource {
			n++
		}
	}
	if len(distinct) != 61 || n != 61 {
		t.Errorf("Mirai pairs: %d distinct calls, %d entries; want 61 and 61", len(distinct), n)
	}
}

func TestClassify(t *testing.T) {
	c := newClassifier(t)
	tests := []struct {
		name   string
		login  *inspect.Login
		class  inspect.PasswordClass
		vendor string
		source string // substring; "" = don't care
	}{
		// Mirai pairs, generic even where a vendor shares them.
		{"mirai_telnet", login("telnet", "root", "xc3511"), inspect.ClassDefault, "", miraiSource},
		{"mirai_ssh", login("ssh", "root", "vizxv"), inspect.ClassDefault, "", miraiSource},
		{"mirai_http_admin_admin", login("http", "admin", "admin"), inspect.ClassDefault, "", miraiSource},
		{"mirai_unscoped_protocol", login("pop3", "support", "support"), inspect.ClassDefault, "", miraiSource},
		{"mirai_not_snmp", login("snmp", "root", "xc3511"), inspect.ClassWeak, "", ""},

		// Vendor defaults.
		{"hikvision_shared_pair", login("rtsp", "admin", "12345"), inspect.ClassDefault, "", miraiSource},
		{"mobotix_http", login("http", "admin", "meinsm"), inspect.ClassDefault, "Mobotix", "SecLists"},
		{"mobotix_telnet_is_mirai", login("telnet", "admin", "meinsm"), inspect.ClassDefault, "", miraiSource},
		{"axis_rtsp", login("rtsp", "root", "pass"), inspect.ClassDefault, "Axis", "Axis"},
		{"dahua_console", login("http", "888888", "888888"), inspect.ClassDefault, "Dahua", "Dahua"},
		{"foscam_empty", login("http", "admin", ""), inspect.ClassDefault, "", ""},
		{"raspberry_pi_ssh", login("ssh", "pi", "raspberry"), inspect.ClassDefault, "Raspberry Pi", "Raspberry"},
		{"raspberry_pi_any", login("vnc", "pi", "raspberry"), inspect.ClassDefault, "Raspberry Pi", ""},
		{"netgear_http", login("http", "admin", "password"), inspect.ClassDefault, "", ""},
		{"huawei_ont", login("telnet", "telecomadmin", "admintelecom"), inspect.ClassDefault, "Huawei", "HG8245"},
		{"teltonika", login("http", "admin", "admin01"), inspect.ClassDefault, "Teltonika", ""},
		{"dell_idrac", login("ssh", "root", "calvin"), inspect.ClassDefault, "Dell", ""},
		{"openwrt_empty_root_ssh", login("ssh", "root", ""), inspect.ClassDefault, "OpenWrt", "OpenWrt"},
		{"empty_root_telnet_shared", login("telnet", "root", ""), inspect.ClassDefault, "", miraiSource},
		{"linksys_password_only", login("http", "", "admin"), inspect.ClassDefault, "Linksys", ""},
		// A password-only entry keeps to the protocols it names: a bare
		// password is no device account shared across the group.
		{"password_only_unify_http", login("http", "", "123456"), inspect.ClassDefault, "Unify", "Unify"},
		{"password_only_not_vnc", login("vnc", "", "123456"), inspect.ClassWeak, "", ""},
		{"password_only_not_telnet", login("telnet", "", "admin"), inspect.ClassWeak, "", ""},
		{"rabbitmq_mqtt", login("mqtt", "guest", "guest"), inspect.ClassDefault, "RabbitMQ", "RabbitMQ"},
		{"activemq_mqtt_only", login("mqtt", "system", "manager"), inspect.ClassDefault, "ActiveMQ", ""},
		{"activemq_mqtt_only_not_telnet", login("telnet", "system", "manager"), inspect.ClassWeak, "", ""},
		{"dlink_alphanetworks_telnet", login("telnet", "Alphanetworks", "wrgn22_dlwbr_dir615"), inspect.ClassDefault, "D-Link", "telnet-betterdefaultpasslist"},
		{"dlink_alphanetworks_dir645_v1", login("telnet", "Alphanetworks", "wrgn39_dlob.hans_dir645_V1"), inspect.ClassDefault, "D-Link", "telnet-betterdefaultpasslist"},
		{"dlink_alphanetworks_other_model", login("telnet", "Alphanetworks", "wrgn22_dlwbr_dir999"), "", "", ""},
		{"adsl_epicrouter", login("telnet", "admin", "epicrouter"), inspect.ClassDefault, "", "telnet-betterdefaultpasslist"},
		{"brother_access_password_only", login("http", "", "access"), inspect.ClassDefault, "Brother", "SecLists"},
		{"brother_initpass", login("http", "", "initpass"), inspect.ClassDefault, "Brother", "Brother support FAQ"},
		{"brother_initpass_not_vnc", login("vnc", "", "initpass"), "", "", ""},
		{"canon_pixma", login("http", "ADMIN", "canon"), inspect.ClassDefault, "Canon", "ART171716"},
		{"canon_pixma_user_folds", login("http", "admin", "canon"), inspect.ClassDefault, "Canon", "ART171716"},
		{"canon_pixma_password_kept", login("http", "ADMIN", "Canon"), inspect.ClassWeak, "", ""},
		{"openhabian_ssh", login("ssh", "openhabian", "openhabian"), inspect.ClassDefault, "openHABian", "openHABian documentation"},
		{"openhabian_any", login("smb", "openhabian", "openhabian"), inspect.ClassDefault, "openHABian", ""},

		// Case rules: user names fold, passwords do not.
		{"user_case_folds", login("telnet", "ROOT", "xc3511"), inspect.ClassDefault, "", miraiSource},
		{"password_case_kept", login("telnet", "root", "XC3511"), inspect.ClassWeak, "", ""},
		{"kyocera_Admin", login("http", "admin", "Admin"), inspect.ClassDefault, "Kyocera", "Kyocera"},
		{"supermicro_user_folds", login("http", "admin", "ADMIN"), inspect.ClassDefault, "Supermicro", ""},
		{"supermicro_password_kept", login("http", "ADMIN", "Admin"), inspect.ClassDefault, "Kyocera", ""},
		{"no_password_folding", login("http", "ADMIN", "aDmIn"), inspect.ClassWeak, "", ""},

		// Empty passwords.
		{"empty_default", login("telnet", "root", ""), inspect.ClassDefault, "", miraiSource},
		{"empty_not_default", login("ftp", "nobody", ""), "", "", ""},

		// Unique passwords: no opinion.
		{"strong", login("ftp", "alice", "correct-horse-battery-staple"), "", "", ""},
		{"strong_mixed", login("http", "admin", "Tr0ub4dor&3x9"), "", "", ""},
		{"strong_digits_not_run", login("telnet", "root", "31415926535"), "", "", ""},

		// Weak.
		{"short", login("ftp", "alice", "abc12"), inspect.ClassWeak, "", ""},
		{"seven_bytes", login("ftp", "alice", "k8#Lq2z"), inspect.ClassWeak, "", ""},
		{"same_as_user", login("ftp", "alexander", "Alexander"), inspect.ClassWeak, "", ""},
		{"user_reversed", login("ftp", "johnsmith", "HTIMSNHOJ"), inspect.ClassWeak, "", ""},
		{"common", login("ftp", "alice", "sunshine"), inspect.ClassWeak, "", ""},
		{"common_case", login("ftp", "alice", "BaseBall"), inspect.ClassWeak, "", ""},
		{"common_nordpass", login("http", "bob", "P@ssw0rd"), inspect.ClassWeak, "", ""},
		{"repeated_char", login("ftp", "alice", "zzzzzzzzzz"), inspect.ClassWeak, "", ""},
		{"repeated_unit", login("ftp", "alice", "xyxyxyxyxy"), inspect.ClassWeak, "", ""},
		{"digit_run_up", login("ftp", "alice", "34567890"), inspect.ClassWeak, "", ""},
		{"digit_run_down", login("ftp", "alice", "9876543210"), inspect.ClassWeak, "", ""},

		// SNMP.
		{"snmp_public", community("public"), inspect.ClassDefault, "", "common-snmp"},
		{"snmp_private", community("private"), inspect.ClassDefault, "", "common-snmp"},
		{"snmp_cisco", community("ILMI"), inspect.ClassDefault, "Cisco", ""},
		{"snmp_case_kept", community("Public"), inspect.ClassWeak, "", ""},
		{"snmp_user_ignored", &inspect.Login{Protocol: "snmp", User: []byte("v2c"), Secret: []byte("public"), Kind: inspect.SecretCommunity}, inspect.ClassDefault, "", ""},
		{"snmp_kind_wins", &inspect.Login{Protocol: "udp", Secret: []byte("private"), Kind: inspect.SecretCommunity}, inspect.ClassDefault, "", ""},
		{"snmp_strong", community("c0mmun1ty-Str1ng-Xq"), "", "", ""},
		{"snmp_short", community("zorro"), inspect.ClassWeak, "", ""},
		{"snmp_pair_not_http", login("http", "", "public"), inspect.ClassWeak, "", ""},

		// Tokens and odd input.
		{"token", &inspect.Login{Protocol: "http", Secret: []byte("admin"), Kind: inspect.SecretToken}, "", "", ""},
		{"hashed_without_verify", &inspect.Login{Protocol: "http", User: []byte("admin"), Kind: inspect.SecretHashed}, "", "", ""},
		{"unknown_kind", &inspect.Login{Protocol: "ftp", User: []byte("root"), Secret: []byte("root"), Kind: 99}, "", "", ""},
		{"nil_login", nil, "", "", ""},
		{"long_user", login("ftp", strings.Repeat("u", 300), "admin"), inspect.ClassWeak, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			class, m := c.Classify(tt.login)
			if class != tt.class {
				t.Fatalf("class %q, want %q (match %+v)", class, tt.class, m)
			}
			if class != inspect.ClassDefault {
				if m != (inspect.DefaultMatch{}) {
					t.Errorf("match %+v for a %q verdict", m, class)
				}
				return
			}
			if m.Vendor != tt.vendor {
				t.Errorf("vendor %q, want %q (source %q)", m.Vendor, tt.vendor, m.Source)
			}
			if m.Source == "" || !strings.Contains(m.Source, tt.source) {
				t.Errorf("source %q, want one containing %q", m.Source, tt.source)
			}
		})
	}
}

// digest is an HTTP Digest-like response: MD5(user:realm:password) mixed
// with a nonce, the way an analyzer's Verify would recompute it.
func digest(user, realm, password, nonce string) string {
	ha1 := md5.Sum([]byte(user + ":" + realm + ":" + password))
	r := md5.Sum([]byte(hex.EncodeToString(ha1[:]) + ":" + nonce))
	return hex.EncodeToString(r[:])
}

func hashedLogin(user, password string, calls *int) *inspect.Login {
	const realm, nonce = "IP Camera", "5f1d3c"
	want := digest(user, realm, password, nonce)
	return &inspect.Login{
		Protocol:  "http",
		Mechanism: "Digest",
		User:      []byte(user),
		Kind:      inspect.SecretHashed,
		Verify: func(cand []byte) bool {
			*calls++
			return digest(user, realm, string(cand), nonce) == want
		},
	}
}

func TestClassifyHashed(t *testing.T) {
	c := newClassifier(t)
	tests := []struct {
		name, user, password string
		class                inspect.PasswordClass
		vendor               string
		maxCalls             int
	}{
		{"default_admin_admin", "admin", "admin", inspect.ClassDefault, "", 10},
		{"default_vendor", "pi", "raspberry", inspect.ClassDefault, "Raspberry Pi", 1},
		{"default_empty", "root", "", inspect.ClassDefault, "", MaxVerify},
		{"weak_same_as_user", "operator7", "operator7", inspect.ClassWeak, "", 2},
		{"weak_reversed", "camera", "aremac", inspect.ClassWeak, "", 3},
		{"weak_common", "bob", "sunshine", inspect.ClassWeak, "", MaxVerify},
		{"unique", "admin", "Zq8!vL2#pW0m", "", "", MaxVerify},
		{"unique_unknown_user", "nobody", "Zq8!vL2#pW0m", "", "", MaxVerify},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			class, m := c.Classify(hashedLogin(tt.user, tt.password, &calls))
			if class != tt.class || m.Vendor != tt.vendor {
				t.Fatalf("%q %+v, want %q vendor %q", class, m, tt.class, tt.vendor)
			}
			if class == inspect.ClassDefault && m.Source == "" {
				t.Error("default without a source")
			}
			if calls > tt.maxCalls {
				t.Errorf("%d Verify calls, want at most %d", calls, tt.maxCalls)
			}
		})
	}
}

func TestVerifyBudget(t *testing.T) {
	c := newClassifier(t)
	for _, user := range []string{"admin", "root", "nobody", ""} {
		calls := 0
		l := &inspect.Login{Protocol: "http", User: []byte(user), Kind: inspect.SecretHashed,
			Verify: func([]byte) bool { calls++; return false }}
		if class, _ := c.Classify(l); class != "" {
			t.Errorf("user %q: %q, want no opinion", user, class)
		}
		// The lists are longer than the budget, so it is spent exactly.
		if calls != MaxVerify {
			t.Errorf("user %q: %d Verify calls, want %d", user, calls, MaxVerify)
		}
	}
}

func TestVerifyGetsACopy(t *testing.T) {
	c := newClassifier(t)
	var seen [][]byte
	l := &inspect.Login{Protocol: "http", User: []byte("admin"), Kind: inspect.SecretHashed,
		Verify: func(cand []byte) bool {
			seen = append(seen, cand)
			for i := range cand {
				cand[i] = 'X' // a hostile or buggy Verify
			}
			return false
		}}
	c.Classify(l)
	if class, _ := c.Classify(login("telnet", "admin", "admin")); class != inspect.ClassDefault {
		t.Fatalf("tables corrupted by Verify: admin/admin is %q", class)
	}
	if class, _ := c.Classify(login("ftp", "alice", "sunshine")); class != inspect.ClassWeak {
		t.Fatalf("common list corrupted by Verify: sunshine is %q", class)
	}
	// The scratch buffer is wiped when Classify returns.
	for _, b := range seen {
		for _, x := range b[:cap(b)] {
			if x != 0 {
				t.Fatalf("scratch buffer not wiped: %q", b[:cap(b)])
			}
		}
	}
}

func TestCandidates(t *testing.T) {
	c := newClassifier(t)
	check := func(name string, got []Candidate) {
		t.Helper()
		seen := map[[2]string]bool{}
		for _, g := range got {
			k := [2]string{strings.ToLower(g.User), g.Password}
			if seen[k] {
				t.Errorf("%s: %s/%s listed twice", name, g.User, g.Password)
			}
			seen[k] = true
			if g.Source == "" {
				t.Errorf("%s: %s/%s without a source", name, g.User, g.Password)
			}
		}
	}

	hik := c.Candidates("rtsp", "hikvision")
	check("hikvision", hik)
	if len(hik) < 10 || hik[0] != (Candidate{"admin", "12345", "Hikvision", hik[0].Source}) {
		t.Fatalf("Hikvision rtsp: first %+v of %d", hik[0], len(hik))
	}
	for i, g := range hik[1:] {
		if g.Vendor != "" {
			t.Errorf("Hikvision rtsp: #%d %+v: another vendor's entry", i+1, g)
		}
	}
	// admin/12345 is also a Mirai pair: listed once, under the vendor.
	if hik[1].User != "root" || hik[1].Password != "xc3511" {
		t.Errorf("Hikvision rtsp: generic entries should follow in file order, got %+v", hik[1])
	}

	dahua := c.Candidates("telnet", "Dahua")
	check("dahua", dahua)
	var vendorDone bool
	for _, g := range dahua {
		if g.Vendor == "" {
			vendorDone = true
		} else if vendorDone {
			t.Errorf("Dahua telnet: vendor entry %+v after generic ones", g)
		}
	}
	// Entries scoped to telnet come before those reached through the group.
	if dahua[0].Password != "888888" && dahua[0].Password != "vizxv" {
		t.Errorf("Dahua telnet: first %+v, want a telnet-scoped Dahua entry", dahua[0])
	}

	// One model's accounts (seen-only) are matched in traffic but not
	// tried: they would spend the audit's ten attempts before D-Link's
	// common pairs and the botnets'.
	dlink := c.Candidates("telnet", "D-Link")
	check("dlink", dlink)
	for _, g := range dlink {
		if g.User == "Alphanetworks" {
			t.Errorf("D-Link telnet: one model's account %+v offered", g)
		}
	}
	if len(dlink) < 5 || dlink[0] != (Candidate{"admin", "", "D-Link", dlink[0].Source}) || dlink[4].Vendor != "" {
		t.Errorf("D-Link telnet: first %+v, want admin/(none), D-Link's other pairs, then the generic ones", dlink[:min(5, len(dlink))])
	}
	if class, m := c.Classify(login("telnet", "Alphanetworks", "wrgn49_dlob_dir600b")); class != inspect.ClassDefault || m.Vendor != "D-Link" {
		t.Errorf("an Alphanetworks login in traffic: %s (%+v), want a D-Link default", class, m)
	}

	snmp := c.Candidates("snmp", "")
	check("snmp", snmp)
	if len(snmp) < 2 || snmp[0].Password != "public" || snmp[1].Password != "private" {
		t.Errorf("snmp: %+v, want public, private first", snmp)
	}
	for _, g := range snmp {
		if g.User != "" {
			t.Errorf("snmp: %+v has a user", g)
		}
	}

	all := c.Candidates("telnet", "")
	check("telnet", all)
	if all[0] != (Candidate{"root", "xc3511", "", miraiSource}) {
		t.Errorf("telnet: first %+v, want Mirai's root/xc3511", all[0])
	}
	for _, g := range all {
		if g.User == "system" && g.Password == "manager" {
			t.Errorf("telnet: MQTT-only entry %+v", g)
		}
		if g.User == "" {
			t.Errorf("telnet: password-only entry %+v of another protocol", g)
		}
	}
	if len(all) <= len(c.Candidates("telnet", "no such vendor")) {
		t.Error("an empty vendor should list every vendor's entries too")
	}

	mqtt := c.Candidates("mqtt", "ActiveMQ")
	if len(mqtt) < 2 || mqtt[0].Vendor != "ActiveMQ" || mqtt[1].Vendor != "ActiveMQ" {
		t.Errorf("mqtt ActiveMQ: %+v", mqtt[:2])
	}
}

// TestDataFiles checks the embedded files as a whole: New parses them (so
// every line is well formed, no pair is listed twice for a vendor, every
// entry has a source), and the counts stay in a sane range.
func TestDataFiles(t *testing.T) {
	c := newClassifier(t)
	vendors := map[string]bool{}
	var snmp, generic int
	for _, e := range c.entries {
		if e.source == "" {
			t.Errorf("%s:%d: no source", defaultsFile, e.line)
		}
		if e.scope&pSNMP != 0 {
			snmp++
			if e.user != "" {
				t.Errorf("%s:%d: SNMP community with a user", defaultsFile, e.line)
			}
		}
		if e.vendor == "" {
			generic++
		} else {
			vendors[e.vendor] = true
		}
		if string(e.pw) != e.password {
			t.Errorf("%s:%d: password bytes differ", defaultsFile, e.line)
		}
	}
	t.Logf("%d default entries (%d generic, %d vendors, %d SNMP), %d common passwords",
		len(c.entries), generic, len(vendors), snmp, len(c.commonList))
	if len(c.entries) < 150 || len(vendors) < 60 || snmp < 2 {
		t.Errorf("default list too small: %d entries, %d vendors, %d SNMP", len(c.entries), len(vendors), snmp)
	}
	// The common list is held in memory on the router and walked by
	// challenge-response checks: keep it to the most common passwords.
	if len(c.commonList) < 300 || len(c.commonList) > 1000 {
		t.Errorf("common list: %d passwords, want 300 to 1000", len(c.commonList))
	}
	// README.md states the counts; keep it true.
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(readme)), " ")
	for _, want := range []string{
		fmt.Sprintf("%d entries: %d generic", len(c.entries), generic),
		fmt.Sprintf("%d of %d named vendors", len(c.entries)-generic, len(vendors)),
		fmt.Sprintf("%d of them are SNMP communities", snmp),
		fmt.Sprintf("%d passwords, one per line", len(c.commonList)),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("README.md does not say %q", want)
		}
	}
	for _, v := range []string{"Hikvision", "Dahua", "Axis", "Foscam", "Amcrest", "Ubiquiti", "TP-Link",
		"D-Link", "Netgear", "Linksys", "ASUS", "Zyxel", "Synology", "QNAP", "HP", "Raspberry Pi",
		"MikroTik", "Huawei", "GeoVision", "Vivotek", "Reolink", "Mobotix", "Brother", "Canon", "Xerox"} {
		if !vendors[v] {
			t.Errorf("no entry for %s", v)
		}
	}
	for _, p := range c.commonList {
		if len(p) > maxCommon {
			t.Errorf("common password %q too long", p)
		}
	}
}

// TestDefaultsFile reads defaults.tsv line by line, apart from the
// parser: no pair is listed twice, in any case of the user name, for one
// vendor, and every entry's source is one of the lists the header names or
// a named document, so that each pair can be traced to where it was
// published.
func TestDefaultsFile(t *testing.T) {
	lists := []string{"Mirai scanner.c (jgamblin/Mirai-Source-Code)", "SecLists default-passwords.csv",
		"SecLists telnet-betterdefaultpasslist.txt", "SecLists common-snmp-community-strings.txt",
		"Krebs on Security, Who Makes the IoT Things Under Attack? (2016)"}
	documents := []string{"manual", "guide", "documentation", "wiki", "FAQ", "knowledge base",
		"support article", "write-up", "advisory", "tutorial", "instructions"}
	for _, l := range lists {
		if !strings.Contains(defaultsTSV, "#   "+strings.FieldsFunc(l, func(r rune) bool { return r == '(' || r == ',' })[0]) {
			t.Errorf("source list %q is not described in the header", l)
		}
	}
	seen := map[[3]string]int{}
	n := 0
	for i, line := range strings.Split(defaultsTSV, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		n++
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("line %d: %d fields", i+1, len(f))
		}
		k := [3]string{strings.ToLower(f[1]), strings.ToLower(f[2]), f[3]}
		if prev, dup := seen[k]; dup {
			t.Errorf("line %d: %s/%s for %s already on line %d", i+1, f[2], f[3], f[1], prev)
		}
		seen[k] = i + 1
		src := f[4]
		named := false
		for _, l := range lists {
			named = named || strings.Contains(src, l)
		}
		for _, d := range documents {
			named = named || strings.Contains(strings.ToLower(src), strings.ToLower(d))
		}
		if !named {
			t.Errorf("line %d: source %q names neither a list of the header nor a document", i+1, src)
		}
	}
	if c := newClassifier(t); n != len(c.entries) {
		t.Errorf("%d lines, %d entries", n, len(c.entries))
	}
}

func TestParseErrors(t *testing.T) {
	const good = "telnet\t(none)\troot\txc3511\tsrc\n"
	tests := []struct {
		name, data, want string
	}{
		{"fields", "# c\ntelnet\troot\txc3511\tsrc\n", "defaults.tsv:2: want 5 tab-separated fields, got 4"},
		{"empty_field", "telnet\t\troot\tpw\tsrc\n", "defaults.tsv:1: field 2: empty"},
		{"space", good + "telnet\t(none)\troot \tpw\tsrc\n", "defaults.tsv:2: field 3: leading or trailing space"},
		{"scope", "telnets\t(none)\troot\tpw\tsrc\n", `defaults.tsv:1: scope: unknown protocol "telnets"`},
		{"scope_case", "Telnet\t(none)\troot\tpw\tsrc\n", `unknown protocol "Telnet"`},
		{"scope_twice", "ssh,ssh\t(none)\troot\tpw\tsrc\n", `"ssh" listed twice`},
		{"seen_only_alone", "seen-only\t(none)\troot\tpw\tsrc\n", "scope: no protocol"},
		{"seen_only_twice", "telnet,seen-only,seen-only\t(none)\troot\tpw\tsrc\n", `"seen-only" listed twice`},
		{"no_source", "ssh\t(none)\troot\tpw\t(none)\n", "defaults.tsv:1: no source"},
		{"duplicate", good + "\nhttp\t(none)\tROOT\txc3511\tother\n", "defaults.tsv:3: duplicate of line 1"},
		{"control", "ssh\t(none)\troot\tp\x01w\tsrc\n", "control character"},
		{"crlf", "ssh\t(none)\troot\tpw\tsrc\r\n", "field 5: leading or trailing space"},
		{"non_ascii_user", "ssh\t(none)\trööt\tpw\tsrc\n", "user is not ASCII"},
		{"long_user", "ssh\t(none)\t" + strings.Repeat("u", maxUser+1) + "\tpw\tsrc\n", "user longer"},
		{"empty_file", "# nothing\n", "defaults.tsv: no entries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build(tt.data, "x\n")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "creds: ") {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}

	commonTests := []struct {
		name, data, want string
	}{
		{"duplicate", "# c\nabc\nxyz\nabc\n", "common-passwords.txt:4: duplicate of line 2"},
		{"case_variants_allowed", "Password\npassword\n", ""},
		{"space", "abc \n", "common-passwords.txt:1: leading or trailing space"},
		{"non_ascii", "pässword\n", "not printable ASCII"},
		{"too_long", strings.Repeat("p", maxCommon+1) + "\n", "longer than"},
		{"empty", "\n\n", "common-passwords.txt: no entries"},
	}
	for _, tt := range commonTests {
		t.Run("common_"+tt.name, func(t *testing.T) {
			_, err := build(good, tt.data)
			if tt.want == "" {
				if err != nil {
					t.Errorf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestWeakHelpers(t *testing.T) {
	tests := []struct {
		s            string
		repeats, run bool
	}{
		{"aaaaaaaa", true, false},
		{"abcabcabc", true, false},
		{"12341234", true, false},
		{"abcdeabcde", false, false},
		{"12345678", false, true},
		{"7890123456", false, true},
		{"3210987", false, true},
		{"11111111", true, false},
		{"13579135", false, false},
		{"1234567a", false, false},
	}
	for _, tt := range tests {
		if got := repeats([]byte(tt.s)); got != tt.repeats {
			t.Errorf("repeats(%q) = %v", tt.s, got)
		}
		if got := digitRun([]byte(tt.s)); got != tt.run {
			t.Errorf("digitRun(%q) = %v", tt.s, got)
		}
	}
}

// TestClassifyNoAlloc proves the cleartext path allocates nothing.
func TestClassifyNoAlloc(t *testing.T) {
	c := newClassifier(t)
	logins := []*inspect.Login{
		login("telnet", "Root", "xc3511"),
		login("http", "admin", "admin"),
		login("ftp", "alice", "Sunshine"),
		login("ftp", "alice", "correct-horse-battery-staple"),
		community("public"),
	}
	for _, l := range logins {
		if n := testing.AllocsPerRun(100, func() { c.Classify(l) }); n != 0 {
			t.Errorf("%s %s: %v allocs per Classify, want 0", l.Protocol, l.User, n)
		}
	}
}

func BenchmarkClassify(b *testing.B) {
	c := newClassifier(b)
	cases := []struct {
		name  string
		login *inspect.Login
	}{
		{"default", login("telnet", "root", "xc3511")},
		{"default_shared", login("http", "admin", "admin")},
		{"weak_common", login("ftp", "alice", "sunshine")},
		{"unique", login("ftp", "admin", "correct-horse-battery-staple")},
		{"community", community("public")},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Classify(bc.login)
			}
		})
	}
}

// TestIsCommonWipesCopy: the lower-case copy isCommon looks the password
// up with is wiped before it returns, found in the list or not.
func TestIsCommonWipesCopy(t *testing.T) {
	c := newClassifier(t)
	for _, tt := range []struct {
		secret string
		common bool
	}{{"SunShine", true}, {"Correct-Horse-42", false}} {
		var buf [maxCommon]byte
		if got := c.isCommonIn(&buf, []byte(tt.secret)); got != tt.common {
			t.Errorf("isCommon(%q) = %v, want %v", tt.secret, got, tt.common)
		}
		if buf != [maxCommon]byte{} {
			t.Errorf("isCommon(%q) left %q behind", tt.secret, buf[:len(tt.secret)])
		}
	}
}
