package telnet

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// seg is one segment of a scripted conversation.
type seg struct {
	dir  inspect.Dir
	data string
}

func srv(s string) []seg { return []seg{{inspect.ToClient, s}} }
func cli(s string) []seg { return []seg{{inspect.ToServer, s}} }

// typed sends s from the client one byte per segment, as a person typing
// in character mode with the server not echoing (a password).
func typed(s string) []seg {
	var out []seg
	for i := 0; i < len(s); i++ {
		out = append(out, seg{inspect.ToServer, s[i : i+1]})
	}
	return out
}

// echoed types s one byte per segment, each echoed by the server.
func echoed(s string) []seg {
	var out []seg
	for i := 0; i < len(s); i++ {
		out = append(out, seg{inspect.ToServer, s[i : i+1]}, seg{inspect.ToClient, s[i : i+1]})
	}
	return out
}

func join(parts ...[]seg) []seg {
	var out []seg
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Negotiation as busybox telnetd and a Linux client exchange it.
const (
	busyboxOffer = "\xff\xfd\x01\xff\xfd\x1f\xff\xfb\x01\xff\xfb\x03"                                     // DO ECHO, DO NAWS, WILL ECHO, WILL SGA
	clientAnswer = "\xff\xfc\x01\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0\xff\xfd\x01\xff\xfd\x03" // WONT ECHO, WILL NAWS, SB NAWS 80x24 SE, DO ECHO, DO SGA
	busyboxShell = "\r\n\r\nBusyBox v1.19.4 (2014-03-26 11:30:51 CST) built-in shell (ash)\r\nEnter 'help' for a list of built-in commands.\r\n\r\n# "
	busyboxLine  = "BusyBox v1.19.4 (2014-03-26 11:30:51 CST) built-in shell (ash)"
)

// busyboxAttempt is one login at a busybox telnetd: the user echoed, the
// password not.
func busyboxAttempt(user, password string) []seg {
	return join(echoed(user), cli("\r\n"), srv("\r\nPassword: "), typed(password), cli("\r\n"))
}

func busyboxSession() []seg {
	return join(srv(busyboxOffer), cli(clientAnswer), srv("\r\n(none) login: "),
		busyboxAttempt("root", "xc3511"), srv(busyboxShell))
}

func busyboxFailThenSuccess() []seg {
	return join(srv(busyboxOffer), cli(clientAnswer), srv("\r\n(none) login: "),
		busyboxAttempt("root", "wrongpw1"), srv("\r\nLogin incorrect\r\n(none) login: "),
		busyboxAttempt("root", "xc3511"), srv(busyboxShell))
}

// subneg builds IAC SB option params IAC SE.
func subneg(option byte, params string) string {
	return "\xff\xfa" + string(option) + params + "\xff\xf0"
}

// run plays segments between a LAN client and a LAN telnet server.
func run(t testing.TB, segs []seg) *inspecttest.Collector {
	t.Helper()
	return runWith(t, nil, segs)
}

// runWith is run with cl classifying the logins.
func runWith(t testing.TB, cl inspect.Classifier, segs []seg) *inspecttest.Collector {
	t.Helper()
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, cl, New())
	c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:23")
	for _, s := range segs {
		if s.dir == inspect.ToServer {
			c.Client(s.data)
		} else {
			c.Server(s.data)
		}
	}
	c.Close()
	e.Flush()
	return col
}

// summary lists the logins and banners reported, for comparing runs.
func summary(col *inspecttest.Collector) []string {
	var out []string
	for _, ev := range col.Events {
		switch ev.Kind {
		case event.KindBanner:
			out = append(out, fmt.Sprintf("banner %s %q", ev.Evidence["stage"], ev.Evidence["banner"]))
		default:
			ev := ev.Evidence
			out = append(out, fmt.Sprintf("login user=%s class=%s hash=%s accepted=%s", ev["user"], ev["password_class"], ev["password_hash"], ev["accepted"]))
		}
	}
	return out
}

// hashOf returns the password_hash the analyzer reports for a password
// typed as a plain line, to check edited and escaped input against.
func hashOf(t *testing.T, password string) string {
	t.Helper()
	escaped := strings.ReplaceAll(password, "\xff", "\xff\xff")
	col := run(t, join(srv("login: "), cli("u\r\n"), srv("Password: "), cli(escaped+"\r\n"), srv("\r\n$ ")))
	logins := col.Findings()
	if len(logins) != 1 {
		t.Fatalf("reference login for hash: %d findings", len(logins))
	}
	return logins[0].Evidence["password_hash"]
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name    string
		tcp     bool
		port    uint16
		payload string
		want    inspect.Confidence
	}{
		{"iac_do_any_port", true, 8080, "\xff\xfd\x01", inspect.ContentMatch},
		{"iac_will_any_port", true, 12323, "\xff\xfb\x25", inspect.ContentMatch},
		{"iac_sb_any_port", true, 21, "\xff\xfa\x25\x02\x02\xff\xf0", inspect.ContentMatch},
		{"iac_dont", true, 9999, "\xff\xfe\x18", inspect.ContentMatch},
		{"text_port_23", true, 23, "login: ", inspect.PortMatch},
		{"text_port_2323", true, 2323, "\r\nlogin: ", inspect.PortMatch},
		{"text_other_port", true, 8080, "GET / HTTP/1.1\r\n", inspect.NoMatch},
		{"iac_iac_is_data", true, 8080, "\xff\xff", inspect.NoMatch},
		{"iac_nop_not_negotiation", true, 8080, "\xff\xf1", inspect.NoMatch},
		{"lone_iac", true, 8080, "\xff", inspect.NoMatch},
		{"empty_on_23", true, 23, "", inspect.PortMatch},
		{"udp_port_23", false, 23, "\xff\xfd\x01", inspect.NoMatch},
	}
	p := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proto := inspect.IPProtocolUDP
			if tt.tcp {
				proto = inspect.IPProtocolTCP
			}
			f := inspect.NewFlow(netip.MustParseAddrPort("192.168.1.10:40000"), netip.AddrPortFrom(netip.MustParseAddr("192.168.1.20"), tt.port), proto)
			if got := p.Match(f, inspect.ToClient, []byte(tt.payload)); got != tt.want {
				t.Errorf("Match = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCorpus(t *testing.T) {
	tests := []struct {
		name string
		path func(t *testing.T) string
		want func(t *testing.T) []string
	}{
		// Malformed AUTHENTICATION suboption, no login: nothing to report.
		{"zeek-telnet-auth-missing-name.pcap", corpus("zeek-telnet-auth-missing-name.pcap"), nil},
		// 65535 bytes of IAC with a bad checksum: nothing to report.
		{"tcpdump-telnet-iac-check-oobr.pcap", corpus("tcpdump-telnet-iac-check-oobr.pcap"), nil},
		// Recorded for this package: a real telnetd running a BusyBox-style
		// login program and the real busybox telnet client; one wrong
		// password, then the Mirai-list default.
		{"busybox-login.pcap", func(*testing.T) string { return "testdata/busybox-login.pcap" }, func(t *testing.T) []string {
			return []string{
				`banner pre_login "(none) login:"`,
				"login user=r*** class=unique hash=" + hashOf(t, "wrongpw") + " accepted=no",
				"login user=r*** class=unique hash=" + hashOf(t, "xc3511") + " accepted=yes",
				`banner after_login "` + busyboxLine + `"`,
			}
		}},
		// Recorded the same way: the client names the user with
		// NEW-ENVIRON (busybox telnet -l admin), so the first prompt asks
		// only for the password.
		{"busybox-environ-user.pcap", func(*testing.T) string { return "testdata/busybox-environ-user.pcap" }, func(t *testing.T) []string {
			return []string{
				`banner pre_login "Password:"`,
				"login user=a*** class=unique hash=" + hashOf(t, "wrongpw") + " accepted=no",
				"login user=a*** class=unique hash=" + hashOf(t, "hunter22") + " accepted=yes",
				`banner after_login "BusyBox v1.22.1 (2017-05-10 09:12:44 CST) built-in shell (ash)"`,
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col, err := inspecttest.RunFile(t, tt.path(t), nil, New())
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if tt.want != nil {
				want = tt.want(t)
			}
			if got := summary(col); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for _, secret := range []string{"wrongpw", "xc3511", "hunter22"} {
				if inspecttest.Leaks(t, col.Events, secret) {
					t.Errorf("%s leaked into an event", secret)
				}
			}
		})
	}
}

func corpus(name string) func(t *testing.T) string {
	return func(t *testing.T) string { return inspecttest.CorpusFile(t, name) }
}

// login is what one reported login must show.
type login struct {
	accepted string
	user     string // redacted; "" when no user was given
	password string // "" for an empty password
}

// strongPassword is no default and no weak password.
const strongPassword = "Vq7#pL9!zR2m"

func TestSyntheticLogins(t *testing.T) {
	const iac = "\xff"
	tests := []struct {
		name    string
		segs    []seg
		want    []login
		banners []string // "stage banner"
		secrets []string // must not appear in any event
		noLogin bool     // a shell without a login: one default_credentials finding
	}{
		{
			name:    "busybox_one_char_per_segment",
			segs:    busyboxSession(),
			want:    []login{{"yes", "r***", "xc3511"}},
			banners: []string{"pre_login (none) login:", "after_login " + busyboxLine},
			secrets: []string{"xc3511"},
		},
		{
			name:    "failed_then_success",
			segs:    busyboxFailThenSuccess(),
			want:    []login{{"no", "r***", "wrongpw1"}, {"yes", "r***", "xc3511"}},
			banners: []string{"pre_login (none) login:", "after_login " + busyboxLine},
			secrets: []string{"wrongpw1", "xc3511"},
		},
		{
			name: "three_failures_then_close",
			segs: join(srv("login: "), cli("admin\r\n"), srv("Password: "), cli("pass-one\r\n"), srv("\r\nLogin incorrect\r\n\r\nlogin: "),
				cli("admin\r\n"), srv("Password: "), cli("pass-two\r\n"), srv("\r\nLogin incorrect\r\n\r\nlogin: "),
				cli("admin\r\n"), srv("Password: "), cli("pass-three\r\n"), srv("\r\nLogin incorrect\r\n")),
			want:    []login{{"no", "a***", "pass-one"}, {"no", "a***", "pass-two"}, {"no", "a***", "pass-three"}},
			secrets: []string{"pass-one", "pass-two", "pass-three"},
		},
		{
			// After the login, words that elsewhere mean refusal: the
			// shell prompt that follows decides.
			name: "banner_last_failed_then_shell",
			segs: join(srv("login: "), cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"),
				srv("\r\nLast failed login: Tue Nov 24 10:02:11 from 192.168.1.7 on pts/0\r\n"),
				srv("WARNING: access denied to unauthorized users\r\n"), srv("root@cam:~# ")),
			want:    []login{{"yes", "r***", "xc3511"}},
			secrets: []string{"xc3511"},
		},
		{
			// After a refusal the greeting and banner come again: the
			// server starts over, nobody is logged in.
			name: "refused_then_welcome_again",
			segs: join(srv("Welcome to ZXHN H108N\r\nLogin: "), cli("admin\r\n"), srv("Password: "), cli("admin\r\n"),
				srv("\r\nLogin incorrect\r\n\r\nWelcome to ZXHN H108N\r\nLogin: "), cli("admin\r\n"), srv("Password: "),
				cli("Zte521\r\n"), srv("\r\nLogin incorrect\r\n")),
			want:    []login{{"no", "a***", "admin"}, {"no", "a***", "Zte521"}},
			secrets: []string{"Zte521"},
		},
		{
			name: "refused_then_busybox_issue_again",
			segs: join(srv("(none) login: "), cli("admin\r\n"), srv("Password: "), cli("admin\r\n"),
				srv("\r\nLogin incorrect\r\n\r\nBusyBox v1.19.4 (2014-03-26) IPCam\r\n(none) login: "), cli("root\r\n"), srv("Password: "),
				cli("xc3511\r\n"), srv("\r\n# ")),
			want:    []login{{"no", "a***", "admin"}, {"yes", "r***", "xc3511"}},
			secrets: []string{"xc3511"},
		},
		{
			name: "refused_then_typed_ahead",
			segs: join(srv("login: "), cli("admin\r\n"), srv("Password: "), cli("pass-one\r\n"), srv("\r\nLogin incorrect\r\n"),
				cli("admin\r\npass-two\r\n"), srv("\r\nlogin: "), srv("admin\r\nPassword: "), srv("\r\n$ ")),
			want:    []login{{"no", "a***", "pass-one"}, {"yes", "a***", "pass-two"}},
			secrets: []string{"pass-one", "pass-two"},
		},
		{
			// The greeting comes before every login prompt: a prompt
			// after it means the password was refused, whatever words
			// the device chose (none here).
			name: "welcome_before_each_prompt",
			segs: join(srv("Welcome to ZXHN H108N\r\nLogin: "), cli("admin\r\n"), srv("Password: "), cli("admin\r\n"),
				srv("\r\nWelcome to ZXHN H108N\r\nLogin: "), cli("admin\r\n"), srv("Password: "), cli("Zte521\r\n"), srv("\r\n# ")),
			want:    []login{{"no", "a***", "admin"}, {"yes", "a***", "Zte521"}},
			secrets: []string{"Zte521"},
		},
		{
			// A device that makes the owner change the factory password
			// at the first login: the default was accepted, and the new
			// one typed twice is no login.
			name: "forced_password_change",
			segs: join(srv("login: "), cli("admin\r\n"), srv("Password: "), cli("admin\r\n"),
				srv("\r\nFirst login: please set a new password\r\nNew password: "), cli("Str0ngPass!\r\n"),
				srv("\r\nRetype new password: "), cli("Str0ngPass!\r\n"), srv("\r\n# ")),
			want:    []login{{"yes", "a***", "admin"}},
			secrets: []string{"Str0ngPass!"},
		},
		{
			name: "expired_password_current",
			segs: join(srv("login: "), cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"),
				srv("\r\nYou are required to change your password immediately\r\n(current) UNIX password: "), cli("xc3511\r\n")),
			want:    []login{{"yes", "r***", "xc3511"}},
			secrets: []string{"xc3511"},
		},
		{
			name:    "wrong_password_words",
			segs:    join(srv("login: "), cli("admin\r\n"), srv("Password: "), cli("guess-one\r\n"), srv("\r\nWrong password\r\n")),
			want:    []login{{"no", "a***", "guess-one"}},
			secrets: []string{"guess-one"},
		},
		{
			name: "whole_lines_welcome",
			segs: join(srv("\r\nlogin: "), cli("admin\r\n"), srv("Password: "), cli("hunter22\r\n"), srv("\r\nWelcome!\r\n"), srv("$ ")),
			want: []login{{"yes", "a***", "hunter22"}},
		},
		{
			name: "pipelined_user_and_password",
			segs: join(srv("login: "), cli("admin\r\nhunter22\r\n"), srv("admin\r\nPassword: "), srv("\r\n$ ")),
			want: []login{{"yes", "a***", "hunter22"}},
		},
		{
			name: "typed_before_any_prompt",
			segs: join(cli("admin\r\nhunter22\r\n"), srv("login: "), srv("\r\nPassword: "), srv("\r\n# ")),
			want: []login{{"yes", "a***", "hunter22"}},
		},
		{
			name: "cr_nul_line_ends",
			segs: join(srv("login: "), typed("root\r\x00"), srv("\r\nPassword: "), typed("xc3511\r\x00"), srv("\r\n# ")),
			want: []login{{"yes", "r***", "xc3511"}},
		},
		{
			name: "bare_lf_line_ends",
			segs: join(srv("login: "), cli("root\n"), srv("\nPassword: "), cli("xc3511\n"), srv("\n# ")),
			want: []login{{"yes", "r***", "xc3511"}},
		},
		{
			name: "backspace_and_del_editing",
			segs: join(srv("login: "), echoed("roox\x7ft"), cli("\r\n"), srv("\r\nPassword: "), typed("xc3z\b511"), cli("\r\n"), srv("\r\n# ")),
			want: []login{{"yes", "r***", "xc3511"}},
		},
		{
			name: "iac_erase_line_and_char",
			segs: join(srv("login: "), cli("root\r\n"), srv("Password: "), cli("junk"+iac+"\xf8xc3q"+iac+"\xf7511\r\n"), srv("\r\n# ")),
			want: []login{{"yes", "r***", "xc3511"}},
		},
		{
			name: "ctrl_u_erases_line",
			segs: join(srv("login: "), cli("root\r\n"), srv("Password: "), typed("oops\x15xc3511\r\n"), srv("\r\n# ")),
			want: []login{{"yes", "r***", "xc3511"}},
		},
		{
			name: "iac_iac_is_literal_ff_in_password",
			segs: join(srv("login: "), cli("root\r\n"), srv("Password: "), cli("pa"+iac+iac+"ss\r\n"), srv("\r\n# ")),
			want: []login{{"yes", "r***", "pa\xffss"}},
		},
		{
			name: "cisco_username_prompt",
			segs: join(srv("\r\n\r\nUser Access Verification\r\n\r\nUsername: "), echoed("cisco"), cli("\r\n"), srv("\r\nPassword: "),
				cli("cisco123\r\n"), srv("\r\nrouter>")),
			want:    []login{{"yes", "c***", "cisco123"}},
			banners: []string{"pre_login User Access Verification | Username:"},
		},
		{
			name: "windows_telnet_service",
			segs: join(srv("\xff\xfd\x25\xff\xfb\x01\xff\xfb\x03\xff\xfd\x27\xff\xfd\x1f\xff\xfd\x00\xff\xfb\x00"),
				srv("Welcome to Microsoft Telnet Service \r\n\n\rlogin: "), cli("Administrator\r\n"), srv("\r\npassword: "),
				cli("Winter2024\r\n"), srv("\r\n*===============================================================\r\nMicrosoft Telnet Server.\r\n*===============================================================\r\nC:\\Users\\Administrator>")),
			want:    []login{{"yes", "Ad***", "Winter2024"}},
			banners: []string{"pre_login Welcome to Microsoft Telnet Service | login:"},
		},
		{
			name: "new_environ_user_then_password_prompt",
			segs: join(srv("\xff\xfd\x27"), cli("\xff\xfb\x27"), srv(subneg(optNewEnviron, "\x01")),
				cli(subneg(optNewEnviron, "\x00\x03DISPLAY\x01host:0\x00USER\x01admin")), srv("Password: "), cli("hunter22\r\n"), srv("\r\n$ ")),
			want: []login{{"yes", "a***", "hunter22"}},
		},
		{
			name: "new_environ_escaped_value_split",
			segs: join(cli("\xff\xfa\x27\x00\x00US"), cli("ER\x01ad\x02\x01min"+iac), cli("\xf0"), srv("Password: "), cli("hunter22\r\n"), srv("\r\n$ ")),
			want: []login{{"yes", "ad***", "hunter22"}},
		},
		{
			name: "authentication_name",
			segs: join(cli(subneg(optAuthentication, "\x03admin")), srv("Password: "), cli("hunter22\r\n"), srv("\r\nLogin incorrect\r\n")),
			want: []login{{"no", "a***", "hunter22"}},
		},
		{
			name: "typed_user_wins_over_environ",
			segs: join(cli(subneg(optNewEnviron, "\x00\x00USER\x01guest")), srv("login: "), cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"), srv("\r\n# ")),
			want: []login{{"yes", "r***", "xc3511"}},
		},
		{
			name: "coloured_prompt_and_cursor_request_after_login",
			segs: join(srv("login: "), cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"), srv("\r\n\x1b[1;32mroot@cam\x1b[0m:~# \x1b[6n")),
			want: []login{{"yes", "r***", "xc3511"}},
		},
		{
			name: "no_verdict_before_close",
			segs: join(srv("login: "), cli("root\r\n"), srv("Password: "), cli("xc3511\r\n")),
			want: []login{{"unknown", "r***", "xc3511"}},
		},
		{
			name: "new_prompt_means_rejected",
			segs: join(srv("login: "), cli("root\r\n"), srv("Password: "), cli("guess1\r\n"), srv("\r\n\r\nlogin: "),
				cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"), srv("\r\n# ")),
			want: []login{{"no", "r***", "guess1"}, {"yes", "r***", "xc3511"}},
		},
		{
			name: "password_only_prompts",
			segs: join(srv("\r\nPassword: "), cli("1234\r\n"), srv("\r\nPassword: "), cli("admin\r\n"), srv("\r\nrouter> ")),
			want: []login{{"no", "", "1234"}, {"yes", "", "admin"}},
		},
		{
			name: "no_password_asked",
			segs: join(srv("(none) login: "), echoed("root"), cli("\r\n"), srv(busyboxShell)),
			want: []login{{"yes", "r***", ""}},
		},
		{
			name: "password_for_user_prompt",
			segs: join(srv("\r\nlogin: "), echoed("admin"), cli("\r\n"), srv("\r\nPassword for admin: "), typed(strongPassword), cli("\r\n"), srv(busyboxShell)),
			want: []login{{"yes", "a***", strongPassword}},
		},
		{
			name: "space_before_colon_prompt",
			segs: join(srv("\r\nlogin: "), echoed("admin"), cli("\r\n"), srv("\r\nPassword : "), typed(strongPassword), cli("\r\n"), srv(busyboxShell)),
			want: []login{{"yes", "a***", strongPassword}},
		},
		{
			name: "angle_password_prompt",
			segs: join(srv("\r\nlogin: "), echoed("admin"), cli("\r\n"), srv("\r\nEnter the password> "), typed(strongPassword), cli("\r\n"), srv(busyboxShell)),
			want: []login{{"yes", "a***", strongPassword}},
		},
		{
			// The prompt asked again is a refusal, not a CLI's '>' prompt.
			name: "angle_password_prompt_asked_again",
			segs: join(srv("login: "), cli("admin\r\n"), srv("Enter the password> "), cli("guess-one\r\n"), srv("\r\nEnter the password> "),
				cli("guess-two\r\n"), srv("\r\nEnter the password> ")),
			want: []login{{"no", "a***", "guess-one"}, {"no", "a***", "guess-two"}},
		},
		{
			// A CLI's prompt after the password, named with a user word:
			// the login went through, the prompt asks for a command.
			name: "cli_prompt_user_word_after_password",
			segs: join(srv("login: "), cli("admin\r\n"), srv("Password: "), cli("admin\r\n"), srv("\r\nUser> ")),
			want: []login{{"yes", "a***", "admin"}},
		},
		{
			name: "cli_prompt_host_named_user_after_password",
			segs: join(srv("login: "), cli("admin\r\n"), srv("Password: "), cli("admin\r\n"), srv("\r\ncam-user>")),
			want: []login{{"yes", "a***", "admin"}},
		},
		{
			name: "cli_prompt_admin_after_password",
			segs: join(srv("Username: "), cli("admin\r\n"), srv("Password: "), cli("admin\r\n"), srv("\r\nadmin> ")),
			want: []login{{"yes", "a***", "admin"}},
		},
		{
			// The command typed at the CLI is no user name, its
			// output and the prompt again no refusal.
			name:    "cli_prompt_then_command",
			segs:    join(srv("login: "), cli("admin\r\n"), srv("Password: "), cli("admin\r\n"), srv("\r\nUser>"), cli("show secret\r\n"), srv("show secret\r\nsecret-value\r\nUser>"), cli("exit\r\n")),
			want:    []login{{"yes", "a***", "admin"}},
			secrets: []string{"show secret", "secret-value"},
		},
		{
			// No password asked: the CLI's prompt after the user name
			// is the login, with an empty password.
			name: "cli_prompt_user_word_after_user_name",
			segs: join(srv("login: "), cli("admin\r\n"), srv("admin\r\nUser> ")),
			want: []login{{"yes", "a***", ""}},
		},
		{
			// The device's own login prompt asked again, with no
			// words of refusal, is still a refusal.
			name: "angle_user_prompt_asked_again",
			segs: join(srv("User> "), cli("admin\r\n"), srv("Password: "), cli("guess-one\r\n"), srv("\r\nUser> "),
				cli("admin\r\n"), srv("Password: "), cli("guess-two\r\n"), srv("\r\nLogin incorrect\r\n")),
			want: []login{{"no", "a***", "guess-one"}, {"no", "a***", "guess-two"}},
		},
		{
			// A prompt of more than one word is no CLI's.
			name: "user_name_angle_prompt_after_password",
			segs: join(srv("login: "), cli("admin\r\n"), srv("Password: "), cli("guess-one\r\n"), srv("\r\nUser Name> "),
				cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"), srv("\r\n# ")),
			want: []login{{"no", "a***", "guess-one"}, {"yes", "r***", "xc3511"}},
		},
		{
			// After a refusal a user prompt is one, however it ends.
			name: "angle_user_prompt_after_refusal",
			segs: join(srv("login: "), cli("admin\r\n"), srv("Password: "), cli("guess-one\r\n"), srv("\r\nLogin incorrect\r\nUser> "),
				cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"), srv("\r\n# ")),
			want: []login{{"no", "a***", "guess-one"}, {"yes", "r***", "xc3511"}},
		},
		{
			// "new" in whose password it is makes no password change.
			name: "password_for_newuser_asked_again",
			segs: join(srv("login: "), cli("newadmin\r\n"), srv("Password for newadmin: "), cli("guess-one\r\n"),
				srv("\r\nPassword for newadmin: "), cli("guess-two\r\n"), srv("\r\nLogin incorrect\r\n")),
			want: []login{{"no", "ne***", "guess-one"}, {"no", "ne***", "guess-two"}},
		},
		{
			name: "login_as_prompt",
			segs: join(srv("\r\nlogin as: "), echoed("root"), cli("\r\n"), srv("\r\nroot@cam's password: "), typed("xc3511"), cli("\r\n"), srv("\r\n# ")),
			want: []login{{"yes", "r***", "xc3511"}},
		},
		{
			name: "login_name_prompt",
			segs: join(srv("\r\nLogin Name: "), echoed("admin"), cli("\r\n"), srv("\r\nPassword: "), typed(strongPassword), cli("\r\n"), srv(busyboxShell)),
			want: []login{{"yes", "a***", strongPassword}},
		},
		{
			name: "username_space_before_colon_prompt",
			segs: join(srv("\r\nUsername : "), echoed("admin"), cli("\r\n"), srv("\r\nPassword : "), typed(strongPassword), cli("\r\n"), srv(busyboxShell)),
			want: []login{{"yes", "a***", strongPassword}},
		},
		{
			name: "account_prompt",
			segs: join(srv("\r\nAccount: "), echoed("admin"), cli("\r\n"), srv("\r\nPassword: "), typed(strongPassword), cli("\r\n"), srv(busyboxShell)),
			want: []login{{"yes", "a***", strongPassword}},
		},
		{
			// A user prompt in words PromptOf does not know: the line
			// typed after the password prompt is the password, the one
			// before it the user.
			name: "unrecognised_user_prompt_password_typed_after_prompt",
			segs: join(srv("\r\nUsuario: "), echoed("admin"), cli("\r\n"), srv("\r\nPassword: "), typed(strongPassword), cli("\r\n"), srv(busyboxShell)),
			want: []login{{"yes", "a***", strongPassword}},
		},
		{
			// The password echoed as it is typed, on the line after the
			// prompt, is not the server going on without it.
			name: "unrecognised_user_prompt_password_echoed",
			segs: join(srv("\r\nUsuario: "), echoed("admin"), cli("\r\n"), srv("\r\nPassword:\r\n"), echoed(strongPassword), cli("\r\n"), srv("\r\n# ")),
			want: []login{{"yes", "a***", strongPassword}},
		},
		{
			name: "unrecognised_user_prompt_empty_password",
			segs: join(srv("\r\nUsuario: "), echoed("admin"), cli("\r\n"), srv("\r\nPassword: "), cli("\r\n"), srv(busyboxShell)),
			want: []login{{"yes", "a***", ""}},
		},
		{
			name: "unrecognised_user_prompt_refused",
			segs: join(srv("\r\nUsuario: "), cli("admin\r\n"), srv("admin\r\nPassword: "), cli("guess-one\r\n"), srv("\r\nLogin incorrect\r\n")),
			want: []login{{"no", "a***", "guess-one"}},
		},
		{
			// Two lines typed ahead with no user prompt recognised: the
			// first is the user, not the password.
			name: "unrecognised_user_prompt_two_lines_typed_ahead",
			segs: join(srv("\r\nUsuario: "), cli("admin\r\n"+strongPassword+"\r\n"), srv("admin\r\nPassword: "), srv("\r\n# ")),
			want: []login{{"yes", "a***", strongPassword}},
		},
		{
			// After a refusal, lines typed with no user prompt recognised
			// at the next password prompt may answer a user prompt not
			// recognised, or the password asked again alone: which line
			// answers which prompt is uncertain. They are read as in a
			// first attempt, never paired with the last attempt's user,
			// and the verdict is unknown.
			name: "refused_then_user_at_unrecognised_prompt_password_typed_after_prompt",
			segs: join(srv("\r\nUsuario: "), cli("admin\r\n"), srv("admin\r\nPassword: "), cli("guess-one\r\n"),
				srv("\r\nLogin incorrect\r\n\r\nUsuario: "), cli("root\r\n"), srv("root\r\nPassword: "), cli("xc3511\r\n"), srv("\r\n# ")),
			want:    []login{{"no", "a***", "guess-one"}, {"unknown", "r***", "xc3511"}},
			secrets: []string{"guess-one", "xc3511"},
		},
		{
			name: "refused_then_user_and_password_typed_ahead_of_unrecognised_prompt",
			segs: join(srv("\r\nUsuario: "), cli("admin\r\n"), srv("admin\r\nPassword: "), cli("guess-one\r\n"),
				srv("\r\nLogin incorrect\r\n"), cli("root\r\n"+strongPassword+"\r\n"), srv("\r\nUsuario: "), srv("root\r\nPassword: "), srv("\r\n# ")),
			want:    []login{{"no", "a***", "guess-one"}, {"unknown", "r***", strongPassword}},
			secrets: []string{"guess-one", strongPassword},
		},
		{
			// The line typed ahead answered the password prompt, but
			// whose password it is cannot be told: a user typed before
			// the refusal may have answered a user prompt not
			// recognised.
			name: "refused_then_one_line_typed_ahead_of_password_prompt",
			segs: join(srv("login: "), cli("admin\r\n"), srv("Password: "), cli("guess-one\r\n"), srv("\r\nLogin incorrect\r\n"),
				cli("xc3511\r\n"), srv("\r\nPassword: "), srv("\r\n# ")),
			want:    []login{{"no", "a***", "guess-one"}, {"unknown", "", "xc3511"}},
			secrets: []string{"guess-one", "xc3511"},
		},
		{
			name: "refused_then_typed_ahead_refused_again",
			segs: join(srv("\r\nUsuario: "), cli("admin\r\n"), srv("admin\r\nPassword: "), cli("guess-one\r\n"),
				srv("\r\nLogin incorrect\r\n"), cli("root\r\nguess-two\r\n"), srv("\r\nUsuario: "), srv("root\r\nPassword: "), srv("\r\nLogin incorrect\r\n")),
			want:    []login{{"no", "a***", "guess-one"}, {"unknown", "r***", "guess-two"}},
			secrets: []string{"guess-one", "guess-two"},
		},
		{
			// One line typed ahead of a password-only prompt is the
			// password.
			name: "password_typed_ahead_of_password_only_prompt",
			segs: join(cli("1234\r\n"), srv("\r\nPassword: "), srv("\r\nrouter> ")),
			want: []login{{"yes", "", "1234"}},
		},
		{
			name: "password_typed_ahead_refused",
			segs: join(cli("1234\r\n"), srv("\r\nPassword: "), srv("\r\nLogin incorrect\r\n")),
			want: []login{{"no", "", "1234"}},
		},
		{
			name: "password_typed_ahead_then_closed",
			segs: join(cli("1234\r\n"), srv("\r\nPassword: ")),
			want: []login{{"unknown", "", "1234"}},
		},
		{
			// A server that echoes the password: the echo is no greeting.
			name: "echoed_password_is_no_greeting",
			segs: join(srv("login: "), cli("admin\r\n"), srv("admin\r\nPassword: "), cli("welcome\r\n"), srv("welcome\r\n"),
				srv("\r\nLogin incorrect\r\n"), cli("x"), srv("login: ")),
			want: []login{{"no", "a***", "welcome"}},
		},
		{
			name: "echoed_password_refused",
			segs: join(srv("login: "), echoed("root"), cli("\r\n"), srv("\r\nPassword: "), echoed("wrong"), cli("\r\n"), srv("\r\nLogin incorrect\r\nlogin: ")),
			want: []login{{"no", "r***", "wrong"}},
		},
		{
			// A password prompt in words PromptOf does not know: the
			// line typed after the user name is no empty password.
			name: "unrecognised_password_prompt_line_is_no_empty_password",
			segs: join(srv("\r\nlogin: "), echoed("admin"), cli("\r\n"), srv("\r\nKennwort: "), typed(strongPassword), cli("\r\n"),
				srv("\r\n\r\nBusyBox v1.31.1 built-in shell (ash)\r\n# ")),
			want:    []login{{"unknown", "a***", strongPassword}},
			secrets: []string{strongPassword},
		},
		{
			// Refused: the line typed is not the next attempt's user.
			name: "unrecognised_password_prompt_refused_then_next_attempt",
			segs: join(srv("login: "), cli("admin\r\n"), srv("Kennwort: "), cli("guess-one\r\n"), srv("\r\nLogin incorrect\r\nlogin: "),
				cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"), srv("\r\n# ")),
			want:    []login{{"unknown", "a***", "guess-one"}, {"yes", "r***", "xc3511"}},
			secrets: []string{"guess-one", "xc3511"},
		},
		{
			name: "unrecognised_password_prompt_then_login_prompt_again",
			segs: join(srv("login: "), cli("admin\r\n"), srv("Kennwort: "), cli("guess-one\r\n"), srv("\r\nlogin: "),
				cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"), srv("\r\n# ")),
			want:    []login{{"unknown", "a***", "guess-one"}, {"yes", "r***", "xc3511"}},
			secrets: []string{"guess-one", "xc3511"},
		},
		{
			// Typed ahead before a shell that asked for no password: the
			// empty password is not concluded, the line is no verdict.
			name: "line_typed_ahead_of_a_shell_is_no_empty_password",
			segs: join(srv("(none) login: "), cli("root\r\nxc3511\r\n"), srv("root\r\n"+busyboxShell)),
			want: []login{{"unknown", "r***", "xc3511"}},
		},
		{
			name: "last_login_split_is_not_a_prompt",
			segs: join(srv("login: "), cli("pi\r\n"), srv("Password: "), cli("raspberry\r\n"), srv("\r\nLast login:"), srv(" Mon Jan  1 10:00:00 2024 from 192.168.1.5\r\n"), srv("pi@raspberrypi:~ $ ")),
			want: []login{{"yes", "***", "raspberry"}},
		},
		{
			name: "failed_attempts_notice_after_success",
			segs: join(srv("login: "), cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"), srv("\r\nThere were 3 failed login attempts since the last successful login.\r\n# ")),
			want: []login{{"yes", "r***", "xc3511"}},
		},
		{
			name: "long_garbage_user_line_is_bounded",
			segs: join(srv("login: "), cli(strings.Repeat("A", 5000)), cli(strings.Repeat("\x01B", 2000)+"\r\n"), srv("\r\nlogin: "),
				cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"), srv("\r\n# ")),
			want: []login{{"yes", "r***", "xc3511"}},
		},
		{
			name: "long_garbage_password_line_is_no_password",
			segs: join(srv("login: "), cli("root\r\n"), srv("Password: "), cli(strings.Repeat("Z", 4000)+"\r\n"), srv("\r\nLogin incorrect\r\n")),
		},
		{
			name: "long_server_line_keeps_its_prompt",
			segs: join(srv(strings.Repeat("=", 3000)+" gateway login: "), cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"), srv("\r\n# ")),
			want: []login{{"yes", "r***", "xc3511"}},
		},
		{
			name:    "open_shell_without_login",
			segs:    join(srv(busyboxOffer), srv(busyboxShell[4:]), cli("cat /etc/passwd\r\n"), srv("cat /etc/passwd\r\nroot:x:0:0:root:/root:/bin/sh\r\n# "), cli("passwd\r\n"), srv("New password: "), cli("hunter22\r\n"), srv("\r\n# ")),
			banners: []string{"pre_login " + busyboxLine + " | Enter 'help' for a list of built-in commands. | #"},
			secrets: []string{"root:x", "hunter22"},
			noLogin: true,
		},
		{
			// A script types ahead and the pty echoes it before the first
			// prompt: the echo is no banner.
			name:    "type_ahead_echo_not_in_banner",
			segs:    join(cli("root\r\nxc3511\r\n"), srv("root\r\nxc3511\r\n(none) login: "), srv("\r\nPassword: "), srv("\r\n# ")),
			want:    []login{{"yes", "r***", "xc3511"}},
			banners: []string{"pre_login (none) login:"},
		},
		{
			name: "type_ahead_echo_beyond_queue_not_in_banner",
			segs: join(srv("Welcome\r\n"), cli("root\r\nxc3511\r\nenable\r\nsystem\r\n"), srv("root\r\n xc3511 \r\nenable\r\nsystem\r\nlogin: "),
				srv("\r\nPassword: "), srv("\r\n# ")),
			want:    []login{{"yes", "r***", "xc3511"}},
			banners: []string{"pre_login Welcome | login:"},
			secrets: []string{"enable", "system"},
		},
		{
			name: "type_ahead_echo_after_a_late_banner",
			segs: join(cli("admin\r\n"), cli("Zte521\r\n"), srv("\r\nadmin\r\nZte521\r\nZXHN H108N\r\n"), srv("Login: "), srv("\r\nPassword: "), srv("\r\n$ ")),
			want: []login{{"yes", "a***", "Zte521"}},
			// Lines after the client typed may be echo: only the prompt,
			// the server's own words, is kept.
			banners: []string{"pre_login Login:"},
		},
		{
			// The echo of a line edited while typed is not the line: it
			// must not reach the banner either.
			name:    "edited_type_ahead_echo_not_in_banner",
			segs:    join(cli("root\r\nxc3512\x7f1\r\n"), srv("root\r\nxc3512^?1\r\n(none) login: "), srv("\r\nPassword: "), srv("\r\n# ")),
			want:    []login{{"yes", "r***", "xc3511"}},
			banners: []string{"pre_login (none) login:"},
			secrets: []string{"xc3512"},
		},
		{
			name: "typing_without_prompts",
			segs: join(srv("Hello\r\n"), cli("root\r\n"), cli("xc3511\r\n"), srv("bye\r\n")),
			// The banner has no prompt; nothing was asked, so nothing is a
			// password; what came after the typing may be its echo.
			banners: []string{"pre_login Hello"},
		},
		{
			name:    "shell_output_after_login_is_ignored",
			segs:    join(srv("login: "), cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"), srv("\r\n# "), cli("su admin\r\n"), srv("su admin\r\nPassword: "), cli("other-secret\r\n"), srv("\r\n$ ")),
			want:    []login{{"yes", "r***", "xc3511"}},
			secrets: []string{"other-secret"},
		},
		{
			name: "script_commands_after_rejected_password_are_no_login",
			segs: join(srv("login: "), cli("root\r\n"), srv("Password: "), cli("xc3511\r\nenable\r\nsystem\r\nshell\r\n"),
				srv("\r\nLogin incorrect\r\nlogin: "), srv("\r\nPassword: "), srv("\r\nLogin incorrect\r\n")),
			want: []login{{"no", "r***", "xc3511"}},
		},
		{
			name: "type_ahead_keeps_the_first_lines",
			segs: join(cli("root\r\nxc3511\r\nenable\r\nsystem\r\n"), srv("login: "), srv("\r\nPassword: "), srv("\r\n# ")),
			want: []login{{"yes", "r***", "xc3511"}},
		},
		{
			name: "unterminated_subnegotiation_swallows_rest",
			segs: join(srv("login: "), cli("root\r\n"), srv("Password: "), cli("\xff\xfa\x18\x00xterm"), cli("xc3511\r\n"), srv("\r\n# ")),
		},
		{
			name: "subnegotiation_ended_by_other_command",
			segs: join(srv("login: "), cli("\xff\xfa\x18\x00xterm\xff\xfb\x01root\r\n"), srv("Password: "), cli("xc3511\r\n"), srv("\r\n# ")),
			want: []login{{"yes", "r***", "xc3511"}},
		},
		{
			name: "nvt_commands_inside_password",
			segs: join(srv("login: "), cli("root\r\n"), srv("Password: "), cli("xc\xff\xf1\xff\xfb\x1f35\xff\xfe\x01"), cli("11\r\n"), srv("\r\n# ")),
			want: []login{{"yes", "r***", "xc3511"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := run(t, tt.segs)
			logins := col.Kind(event.KindPlaintextCredentials)
			findings := len(tt.want)
			if tt.noLogin {
				findings++
				if open := col.Kind(event.KindDefaultCredentials); len(open) != 1 || open[0].Evidence["password_class"] != string(inspect.ClassNone) {
					t.Errorf("open shell findings %s, want one of class none", summary(col))
				}
			}
			if len(logins) != len(tt.want) || len(col.Findings()) != findings {
				t.Fatalf("got %d logins (%d findings), want %d:\n%s", len(logins), len(col.Findings()), len(tt.want), strings.Join(summary(col), "\n"))
			}
			for i, w := range tt.want {
				ev := logins[i].Evidence
				user := ev["user"]
				if w.user == "" && user == "***" {
					user = "" // an unknown user is shown as nothing, or redacted nothing
				}
				if ev["accepted"] != w.accepted || user != w.user || ev["protocol"] != "telnet" || ev["mechanism"] != "login prompt" {
					t.Errorf("login %d: evidence %v, want accepted %s user %s", i, ev, w.accepted, w.user)
				}
				if w.password == "" {
					if ev["password_class"] != string(inspect.ClassEmpty) {
						t.Errorf("login %d: class %s, want empty", i, ev["password_class"])
					}
				} else if want := hashOf(t, w.password); ev["password_hash"] != want {
					t.Errorf("login %d: password_hash %s, want that of %q (%s)", i, ev["password_hash"], w.password, want)
				}
				if logins[i].Device.IP != "192.168.1.20" {
					t.Errorf("login %d: device %v, want the LAN server", i, logins[i].Device)
				}
				if len(w.password) >= 4 && inspecttest.Leaks(t, col.Events, w.password) {
					t.Errorf("password %q leaked into an event", w.password)
				}
			}
			for _, s := range tt.secrets {
				if inspecttest.Leaks(t, col.Events, s) {
					t.Errorf("%q leaked into an event", s)
				}
			}
			if tt.banners != nil {
				var got []string
				for _, b := range col.Kind(event.KindBanner) {
					got = append(got, b.Evidence["stage"]+" "+b.Evidence["banner"])
					if b.Evidence["protocol"] != "telnet" || b.Type != event.TypeObservation || b.Device.IP != "192.168.1.20" {
						t.Errorf("banner event %+v", b)
					}
				}
				if strings.Join(got, "\n") != strings.Join(tt.banners, "\n") {
					t.Errorf("banners\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.banners, "\n"))
				}
			}
		})
	}
}

// TestDefaultVerdicts runs logins past the real default list: a strong
// password typed at a prompt must never make a factory default accepted
// (admin with an empty password, or the user name taken for the
// password), while a default typed at a prompt the analyzer knows is one.
// want lists each credential finding as "kind accepted".
func TestDefaultVerdicts(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	shell := srv("\r\n\r\nBusyBox v1.31.1 built-in shell (ash)\r\n# ")
	// attempt logs in as admin at userPrompt, password at passPrompt.
	attempt := func(userPrompt, passPrompt, password string) []seg {
		return join(srv("\r\n"+userPrompt), echoed("admin"), cli("\r\n"), srv("\r\n"+passPrompt), typed(password), cli("\r\n"), shell)
	}
	const (
		defaultYes     = "default_credentials yes"
		defaultUnknown = "default_credentials unknown"
		plainYes       = "plaintext_credentials yes"
		plainUnknown   = "plaintext_credentials unknown"
		plainNo        = "plaintext_credentials no"
	)
	tests := []struct {
		name string
		segs []seg
		want []string
	}{
		{"known_prompts_default", attempt("login: ", "Password: ", "admin"), []string{defaultYes}},
		{"known_prompts_strong", attempt("login: ", "Password: ", strongPassword), []string{plainYes}},
		{"no_password_asked_is_the_empty_default", join(srv("\r\nlogin: "), echoed("admin"), cli("\r\n"), shell), []string{defaultYes}},
		{"password_for_user_default", attempt("login: ", "Password for admin: ", "admin"), []string{defaultYes}},
		{"password_for_user_strong", attempt("login: ", "Password for admin: ", strongPassword), []string{plainYes}},
		{"space_before_colon_default", attempt("login: ", "Password : ", "admin"), []string{defaultYes}},
		{"space_before_colon_strong", attempt("login: ", "Password : ", strongPassword), []string{plainYes}},
		{"angle_password_prompt_default", attempt("login: ", "Enter the password> ", "admin"), []string{defaultYes}},
		{"angle_password_prompt_strong", attempt("login: ", "Enter the password> ", strongPassword), []string{plainYes}},
		{"login_as_default", attempt("login as: ", "Password: ", "admin"), []string{defaultYes}},
		{"login_as_strong", attempt("login as: ", "Password: ", strongPassword), []string{plainYes}},
		{"login_name_default", attempt("Login Name: ", "Password: ", "admin"), []string{defaultYes}},
		{"login_name_strong", attempt("Login Name: ", "Password: ", strongPassword), []string{plainYes}},
		{"username_space_before_colon_default", attempt("Username : ", "Password: ", "admin"), []string{defaultYes}},
		{"username_space_before_colon_strong", attempt("Username : ", "Password: ", strongPassword), []string{plainYes}},
		{"account_default", attempt("Account: ", "Password: ", "admin"), []string{defaultYes}},
		{"account_strong", attempt("Account: ", "Password: ", strongPassword), []string{plainYes}},
		{"unrecognised_user_prompt_default", attempt("Usuario: ", "Password: ", "admin"), []string{defaultYes}},
		{"unrecognised_user_prompt_strong", attempt("Usuario: ", "Password: ", strongPassword), []string{plainYes}},
		{"unrecognised_password_prompt_strong", attempt("login: ", "Kennwort: ", strongPassword), []string{plainUnknown}},
		{"unrecognised_password_prompt_default", attempt("login: ", "Kennwort: ", "admin"), []string{defaultUnknown}},
		// A CLI's prompt after the default password is its acceptance,
		// not the login prompt asked again.
		{"cli_prompt_user_word_after_default", join(srv("\r\nlogin: "), echoed("admin"), cli("\r\n"), srv("\r\nPassword: "), typed("admin"), cli("\r\n"), srv("\r\nUser> ")),
			[]string{defaultYes}},
		{"cli_prompt_host_named_user_after_default", join(srv("\r\nlogin: "), echoed("admin"), cli("\r\n"), srv("\r\nPassword: "), typed("admin"), cli("\r\n"), srv("\r\ncam-user> ")),
			[]string{defaultYes}},
		// After a refusal, the next user typed ahead of a user prompt
		// not recognised must not be taken for the password of the
		// last attempt's user (admin/admin accepted), nor the next
		// password paired with that user (admin/xc3511 accepted): the
		// pairing is uncertain, the verdict unknown.
		{"refused_then_pair_typed_ahead_is_no_default_accepted", join(srv("\r\nUsuario: "), cli("admin\r\n"), srv("admin\r\nPassword: "), cli("guess-one\r\n"),
			srv("\r\nLogin incorrect\r\n"), cli("admin\r\n"+strongPassword+"\r\n"), srv("\r\nUsuario: "), srv("admin\r\nPassword: "), shell),
			[]string{plainNo, plainUnknown}},
		{"refused_then_default_typed_at_unrecognised_prompt", join(srv("\r\nUsuario: "), cli("admin\r\n"), srv("admin\r\nPassword: "), cli("guess-one\r\n"),
			srv("\r\nLogin incorrect\r\n\r\nUsuario: "), cli("root\r\n"), srv("root\r\nPassword: "), typed("xc3511"), cli("\r\n"), shell),
			[]string{plainNo, defaultUnknown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := runWith(t, cl, tt.segs)
			var got []string
			for _, f := range col.Findings() {
				got = append(got, string(f.Kind)+" "+f.Evidence["accepted"])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings %q, want %q:\n%s", got, tt.want, strings.Join(summary(col), "\n"))
			}
			if inspecttest.Leaks(t, col.Events, strongPassword) {
				t.Error("the password leaked into an event")
			}
		})
	}
}

// TestNoBannerFromJoinedSession: a capture that joins a connection after
// its start may be in the middle of the owner's session; nothing the
// server shows there is a banner.
func TestNoBannerFromJoinedSession(t *testing.T) {
	tests := []struct {
		name    string
		play    func(c *inspecttest.Conv)
		secrets []string
	}{
		{"shell_output_then_typing", func(c *inspecttest.Conv) {
			c.Server("wireless.default_radio0.key='Sup3rS3cretWifi'\r\nwireless.default_radio0.ssid='AnnaHome'\r\nroot@OpenWrt:~# ").Client("ls\r\n")
		}, []string{"Sup3rS3cretWifi", "AnnaHome", "root@OpenWrt"}},
		{"mail_then_close", func(c *inspecttest.Conv) {
			c.Server("From: alice.smith@example.com\r\nSubject: hello\r\n")
		}, []string{"alice.smith", "hello"}},
		{"output_then_a_login_prompt", func(c *inspecttest.Conv) {
			c.Server("exit\r\nlogout\r\nConnection to 10.0.0.7 closed by Anna\r\nlogin: ")
		}, []string{"Anna", "logout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.JoinTCP(e, "192.168.1.10:40000", "192.168.1.20:23")
			tt.play(c)
			c.Close()
			e.Flush()
			for _, s := range tt.secrets {
				if inspecttest.Leaks(t, col.Events, s) {
					t.Errorf("%q reached an event: %s", s, summary(col))
				}
			}
			for _, b := range col.Kind(event.KindBanner) {
				if b.Evidence["banner"] != "login:" {
					t.Errorf("banner %q from a joined connection", b.Evidence["banner"])
				}
			}
		})
	}
}

// TestOpenShell: a LAN telnet server that shows a shell prompt before any
// login prompt gives a shell to anyone, which is filed as
// default_credentials of class none about the server — but only when the
// capture saw the connection from its start and lost none of it, and the
// client typed nothing a missed prompt could have asked for.
func TestOpenShell(t *testing.T) {
	shell := srv(busyboxOffer + busyboxShell[4:])
	tests := []struct {
		name   string
		join   bool   // the capture joins after the handshake
		server string // default: a LAN server
		play   func(c *inspecttest.Conv)
		want   bool
		logins int // credential findings besides
	}{
		{name: "lan_server_from_the_start", play: func(c *inspecttest.Conv) { c.Server(shell[0].data).Client("id\r\n") }, want: true},
		{name: "prompt_split_across_segments", play: func(c *inspecttest.Conv) {
			c.Server(busyboxOffer + busyboxShell[4:20]).Server(busyboxShell[20:]).ClientChars("ls\r")
		}, want: true},
		{name: "busybox_ash_asks_the_cursor_position", play: func(c *inspecttest.Conv) {
			c.Server(busyboxOffer + "\r\n\x1b[1;32m/ #\x1b[0m \x1b[6n").Client("\x1b[24;80R").Client("ls\r\n")
		}, want: true},
		{name: "prompt_never_answered", play: func(c *inspecttest.Conv) { c.Server(shell[0].data) }},
		{name: "prompt_like_menu_then_login_prompt", play: func(c *inspecttest.Conv) {
			c.Server("Main menu#").Server("\r\nlogin: ").Client("root\r\n").Server("Password: ").Client("xc3511\r\n").Server("\r\n# ")
		}, logins: 1},
		{name: "banner_rule_cut_at_a_segment", play: func(c *inspecttest.Conv) {
			c.Server("\r\n##########").Server("##########\r\nlogin: ").Client("root\r\n")
		}},
		{name: "server_went_on_after_the_prompt", play: func(c *inspecttest.Conv) { c.Server("\r\nWelcome #").Server("\r\n").Client("ls\r\n") }},
		{name: "prompt_erased_by_the_server", play: func(c *inspecttest.Conv) { c.Server("\r\n# ").Server("\xff\xf7\xff\xf7").Client("ls\r\n") }},
		{name: "cli_prompt_is_not_a_shell", play: func(c *inspecttest.Conv) { c.Server("\r\nSelect> ").Client("1\r\n") }},
		{name: "logged_in_by_authentication_option", play: func(c *inspecttest.Conv) {
			c.Client(subneg(optAuthentication, "\x03alice")).Server("Last login: Mon Jan  1 10:00:00 2024\r\nalice@nas:~$ ").Client("ls\r\n")
		}},
		{name: "last_login_line_before_the_prompt", play: func(c *inspecttest.Conv) {
			c.Server("Last login: Mon Jan  1 10:00:00 2024 from 192.168.1.5\r\n# ").Client("ls\r\n")
		}},
		{name: "server_asks_for_authentication", play: func(c *inspecttest.Conv) {
			c.Server(subneg(optAuthentication, "\x01\x00\x00")).Server("\r\n$ ").Client("ls\r\n")
		}},
		{name: "server_syn_ack_lost", join: true, play: func(c *inspecttest.Conv) {
			// Only the client's SYN: the server's first bytes may be gone.
			c.SYN(inspect.ToServer).Server("\r\n# ").Client("ls\r\n")
		}},
		{name: "capture_joined_mid_session", join: true, play: func(c *inspecttest.Conv) { c.Server("\r\n# ").Client("ls\r\n").Server("bin etc\r\n# ") }},
		{name: "wan_server", server: "203.0.113.9:23", play: func(c *inspecttest.Conv) { c.Server(shell[0].data) }},
		{name: "client_typed_before_the_prompt", play: func(c *inspecttest.Conv) { c.Client("root\r\nxc3511\r\n").Server("\r\n# ") }},
		{name: "server_bytes_lost_before_the_prompt", play: func(c *inspecttest.Conv) { c.Server(busyboxOffer).Lose(inspect.ToClient, 40).Server("\r\n# ") }},
		{name: "login_prompt_first", play: func(c *inspecttest.Conv) { c.Server("login: ").Client("root\r\n").Server("\r\n# ") }, logins: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			server := tt.server
			if server == "" {
				server = "192.168.1.20:23"
			}
			c := inspecttest.OpenTCP(e, tt.join, "192.168.1.10:40000", server)
			tt.play(c)
			c.Close()
			e.Flush()
			var shells []*event.Event
			logins := 0
			for _, ev := range col.Findings() {
				if ev.Evidence["password_class"] == string(inspect.ClassNone) {
					shells = append(shells, ev)
				} else if ev.Evidence["password_class"] != "" {
					logins++
				}
			}
			if logins != tt.logins {
				t.Errorf("%d other logins reported, want %d: %s", logins, tt.logins, summary(col))
			}
			if !tt.want {
				if len(shells) != 0 {
					t.Fatalf("open shell reported: %s", summary(col))
				}
				return
			}
			if len(shells) != 1 {
				t.Fatalf("open shell findings: %s, want one", summary(col))
			}
			ev := shells[0]
			if ev.Device.IP != "192.168.1.20" || ev.Severity != event.SeverityHigh || ev.Provision != "5.1-1" ||
				ev.Evidence["accepted"] != "yes" || ev.Evidence["protocol"] != "telnet" || ev.Evidence["mechanism"] != "no login" {
				t.Errorf("finding %+v evidence %v", ev, ev.Evidence)
			}
		})
	}
}

// TestSplitAtEveryByte cuts each segment of whole sessions in two at
// every offset, and also sends every byte alone: the logins, their
// verdicts and the banners must not change.
func TestSplitAtEveryByte(t *testing.T) {
	sessions := []struct {
		name string
		segs []seg
	}{
		{"busybox_fail_then_success", busyboxFailThenSuccess()},
		// A refusal, then a user at a prompt not recognised and the
		// password typed after the next one: the pairing stays a guess.
		{"refused_then_unrecognised_user_prompt", join(srv("\r\nUsuario: "), cli("admin\r\n"), srv("admin\r\nPassword: "), cli("guess-one\r\n"),
			srv("\r\nLogin incorrect\r\n\r\nUsuario: "), cli("root\r\n"), srv("root\r\nPassword: "), cli("xc3511\r\n"), srv(busyboxShell))},
		// Refused, then in at a CLI whose prompt ends in a user word.
		{"refused_then_cli_prompt", join(srv("\r\nlogin: "), busyboxAttempt("admin", "wrongpw1"), srv("\r\nLogin incorrect\r\nlogin: "),
			busyboxAttempt("admin", "admin"), srv("\r\nUser> "))},
		{"environ_user", join(srv(busyboxOffer+"\xff\xfd\x27"), cli(clientAnswer+subneg(optNewEnviron, "\x00\x00USER\x01admin")),
			srv("\r\nPassword: "), cli("hunter22\r\x00"), srv("\r\nLogin incorrect\r\n(none) login: "), cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"), srv(busyboxShell))},
		// Lines longer than the kept tail, with escapes, tabs and UTF-8.
		{"long_lines", join(srv(busyboxOffer), cli(clientAnswer),
			srv("\r\n"+strings.Repeat("Welcome\tto the \x1b[1mr\xc3\xa9seau\x1b[0m router. ", 12)+"\r\n\x1b[32m(none) login: \x1b[0m\x1b[6n"),
			busyboxAttempt("root", "wrongpw1"), srv("\r\nLogin incorrect\r\n"+strings.Repeat("-", 700)+"(none) login: "),
			busyboxAttempt("root", "xc3511"), srv(busyboxShell))},
	}
	for _, s := range sessions {
		t.Run(s.name, func(t *testing.T) {
			want := strings.Join(summary(run(t, s.segs)), "\n")
			if strings.Count(want, "login user=") != 2 {
				t.Fatalf("reference run found:\n%s", want)
			}
			for i, sg := range s.segs {
				for k := 1; k < len(sg.data); k++ {
					split := join(s.segs[:i], []seg{{sg.dir, sg.data[:k]}, {sg.dir, sg.data[k:]}}, s.segs[i+1:])
					if got := strings.Join(summary(run(t, split)), "\n"); got != want {
						t.Fatalf("segment %d split at %d (%q|%q):\n%s\nwant\n%s", i, k, sg.data[:k], sg.data[k:], got, want)
					}
				}
			}
			var bytewise []seg
			for _, sg := range s.segs {
				for k := 0; k < len(sg.data); k++ {
					bytewise = append(bytewise, seg{sg.dir, sg.data[k : k+1]})
				}
			}
			if got := strings.Join(summary(run(t, bytewise)), "\n"); got != want {
				t.Fatalf("one byte per segment:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestNVTDecoder(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // data bytes, '|' for a line end, '<' erase char, '_' erase line, '!' subnegotiation
	}{
		{"plain", "ab", "ab"},
		{"cr_lf", "a\r\nb", "a|b"},
		{"cr_nul", "a\r\x00b", "a|b"},
		{"bare_cr", "a\rb", "a|b"},
		{"bare_lf", "a\nb", "a|b"},
		{"cr_cr_lf", "a\r\r\nb", "a||b"},
		{"nul_dropped", "a\x00b", "ab"},
		{"iac_iac", "a\xff\xffb", "a\xffb"},
		{"will_echo", "\xff\xfb\x01ab", "ab"},
		{"option_is_iac", "\xff\xfd\xffab", "ab"},
		{"nop_ga_ayt", "a\xff\xf1\xff\xf9\xff\xf6b", "ab"},
		{"erase", "ab\b\x7f\xff\xf7", "ab<<<"},
		{"erase_line", "ab\x15\xff\xf8", "ab__"},
		{"subneg", "a\xff\xfa\x18\x00xterm\xff\xf0b", "a!b"},
		{"subneg_with_iac_iac", "\xff\xfa\x18\xff\xff\xff\xf0b", "!b"},
		{"subneg_ended_by_will", "\xff\xfa\x18xx\xff\xfb\x01b", "b"},
		{"invalid_after_iac", "\xff\x41b", "b"},
		{"cr_then_iac", "a\r\xff\xfb\x01\nb", "a||b"},
		{"subneg_at_limit", "\xff\xfa\x18" + strings.Repeat("x", maxSub) + "\xff\xf0b", "!b"},
		{"subneg_over_limit", "\xff\xfa\x18" + strings.Repeat("x", maxSub-1) + "\xff\xffyz\xff\xf0b", "!b"},
		{"text_and_controls", "a b\tc\x80\xfe\x1b[0m\x7fd", "a b\tc\x80\xfe\x1b[0m<d"},
	}
	// decode runs in through d; with runs, it takes the runs keepRun and
	// plainRun take as the analyzer does. It returns the events and data
	// as want has them, and each subnegotiation's parameters.
	decode := func(in string, runs bool) (string, []string) {
		var d nvtDecoder
		var got []byte
		var subs []string
		for b := []byte(in); len(b) > 0; {
			if runs && d.state == stSub {
				if n := d.keepRun(b); n > 0 {
					b = b[n:]
					continue
				}
			}
			if n := plainRun(b); runs && d.state == stData && n > 0 {
				got = append(got, b[:n]...)
				b = b[n:]
				continue
			}
			c := b[0]
			b = b[1:]
			switch d.next(c) {
			case evData:
				got = append(got, c)
			case evLineEnd:
				got = append(got, '|')
			case evEraseChar:
				got = append(got, '<')
			case evEraseLine:
				got = append(got, '_')
			case evSubneg:
				got = append(got, '!')
				opt, params, ok := d.subnegotiation()
				subs = append(subs, fmt.Sprintf("%d %q %v", opt, params, ok))
			}
		}
		return string(got), subs
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, subs := decode(tt.in, false)
			if got != tt.want {
				t.Errorf("decoded %q, want %q", got, tt.want)
			}
			if got, runSubs := decode(tt.in, true); got != tt.want || !slices.Equal(runSubs, subs) {
				t.Errorf("decoded by runs %q %q, want %q %q", got, runSubs, tt.want, subs)
			}
		})
	}
}

func TestUserFromSubneg(t *testing.T) {
	tests := []struct {
		name   string
		option byte
		params string
		want   string
		ok     bool
	}{
		{"new_environ_is_user", optNewEnviron, "\x00\x00USER\x01root", "root", true},
		{"new_environ_info_user", optNewEnviron, "\x02\x00USER\x01root", "root", true},
		{"old_environ_user", optEnviron, "\x00\x00USER\x01root", "root", true},
		{"user_after_other_vars", optNewEnviron, "\x00\x00DISPLAY\x01x:0\x03LANG\x01C\x00USER\x01admin", "admin", true},
		{"escaped_value", optNewEnviron, "\x00\x00USER\x01a\x02\x00b", "a\x00b", true},
		{"uservar_user_is_not_user", optNewEnviron, "\x00\x03USER\x01root", "", false},
		{"var_without_value", optNewEnviron, "\x00\x00USER\x00DISPLAY\x01x", "", false},
		{"user_prefix_name", optNewEnviron, "\x00\x00USERNAME\x01root", "", false},
		{"send_is_no_answer", optNewEnviron, "\x01\x00USER", "", false},
		{"garbage_type_byte", optNewEnviron, "\x00\x07USER\x01root", "", false},
		{"escape_at_end", optNewEnviron, "\x00\x00USER\x01ro\x02", "ro", true},
		{"empty", optNewEnviron, "", "", false},
		{"auth_name", optAuthentication, "\x03admin", "admin", true},
		{"auth_name_missing", optAuthentication, "\x03", "", false},
		{"auth_reply", optAuthentication, "\x02\x02", "", false},
		{"ttype_ignored", 24, "\x00USER", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst [maxLine]byte
			n, ok := userFromSubneg(tt.option, []byte(tt.params), dst[:])
			if ok != tt.ok || string(dst[:n]) != tt.want {
				t.Errorf("got %q %v, want %q %v", dst[:n], ok, tt.want, tt.ok)
			}
		})
	}
	var small [3]byte
	if n, ok := userFromSubneg(optNewEnviron, []byte("\x00\x00USER\x01administrator"), small[:]); !ok || n != 3 {
		t.Errorf("long value: n=%d ok=%v, want truncation to 3", n, ok)
	}
}

func TestPromptOf(t *testing.T) {
	tests := []struct {
		text string
		want PromptKind
	}{
		{"(none) login: ", PromptUser},
		{"camera-1 login:", PromptUser},
		{"Login:   ", PromptUser},
		{"Username: ", PromptUser},
		{"User Name:", PromptUser},
		{"user:\t", PromptUser},
		{"Password: ", PromptPassword},
		{"PASSWORD:", PromptPassword},
		{"passwd:", PromptPassword},
		{"Pass: ", PromptPassword},
		{"Password for admin: ", PromptPassword},
		{"Password : ", PromptPassword},
		{"Enter the password> ", PromptPassword},
		{"root@cam's password: ", PromptPassword},
		{">>User password:", PromptPassword},
		{"Enter passcode:", PromptPassword},
		{"Enter passphrase: ", PromptPassword},
		{"Password (8-16 characters): ", PromptPassword},
		{"Enter password for user admin on cam:", PromptPassword},
		{"(current) UNIX password:", PromptPassword},
		{"login as: ", PromptUser},
		{"Login Name: ", PromptUser},
		{"Username : ", PromptUser},
		{"Account: ", PromptUser},
		{"User ID:", PromptUser},
		{"Userid:", PromptUser},
		{"Login ID: ", PromptUser},
		{"Username> ", PromptUser},
		{"User>", PromptUser},
		{"User Name> ", PromptUser},
		{"cam-user>", PromptNone},
		{"cam_user> ", PromptNone},
		{"nvr.user>", PromptNone},
		{"root@user>", PromptNone},
		{"ipcam-password>", PromptNone},
		{"cam-user:", PromptUser},
		{">>User name:", PromptUser},
		{"Last login:", PromptNone},
		{"login", PromptNone},
		{"Date:", PromptNone},
		{"", PromptNone},
		{"   ", PromptNone},
		{":", PromptNone},
		{"Login incorrect", PromptNone},
		{"Password changed successfully", PromptNone},
		{"Password incorrect", PromptNone},
		{"Password incorrect: try again", PromptNone},
		{"Password for admin incorrect:", PromptNone},
		{"Password for the next login will be required from tomorrow:", PromptNone},
		{"Your password has expired:", PromptNone},
		{"Bypass:", PromptNone},
		{"</password>", PromptNone},
		{"router>", PromptNone},
		{"Main menu>", PromptNone},
	}
	for _, tt := range tests {
		if got := PromptOf([]byte(tt.text)); got != tt.want {
			t.Errorf("PromptOf(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}

// wire feeds a TCP conversation into an engine through one reused packet,
// so that allocation counts see only the engine and the analyzer.
type wire struct {
	e              *inspect.Engine
	p              inspect.Packet
	client, server netip.AddrPort
	seq            [2]uint32
	now            time.Time
	sent           [2]int // payload bytes of this connection per direction
	script         []seg  // what play sent on this connection, replayed on a new one
}

func newWire(t testing.TB, col *inspecttest.Collector) *wire {
	cfg := inspect.DefaultConfig()
	cfg.HashKey = []byte("telnet test key")
	cfg.ByteBudget = inspect.MaxByteBudget
	cfg.MaxFlows = 64
	e, err := inspect.NewEngine(cfg, inspect.Options{Protocols: []inspect.Protocol{New()}, Sink: col})
	if err != nil {
		t.Fatal(err)
	}
	w := &wire{
		e:      e,
		client: netip.MustParseAddrPort("192.168.1.10:40000"),
		server: netip.MustParseAddrPort("192.168.1.20:23"),
		seq:    [2]uint32{1000, 5000},
		now:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	w.send(inspect.ToServer, nil, inspect.TCPFlagSYN)
	w.send(inspect.ToClient, nil, inspect.TCPFlagSYN|inspect.TCPFlagACK)
	return w
}

func (w *wire) send(dir inspect.Dir, data []byte, flags uint8) {
	w.now = w.now.Add(time.Millisecond)
	p := &w.p
	*p = inspect.Packet{Timestamp: w.now, Kind: inspect.KindTCP, IPProto: 6, TCPFlags: flags, Payload: data, Seq: w.seq[dir]}
	if flags&inspect.TCPFlagACK != 0 {
		p.Ack = w.seq[1-dir] // all the other side sent, lost bytes too: the peer got them
	}
	src, dst := w.client, w.server
	if dir == inspect.ToClient {
		src, dst = dst, src
	}
	p.Src, p.Dst, p.SrcPort, p.DstPort = src.Addr(), dst.Addr(), src.Port(), dst.Port()
	w.seq[dir] += uint32(len(data))
	if flags&inspect.TCPFlagSYN != 0 {
		w.seq[dir]++
	}
	w.e.HandlePacket(p)
}

func (w *wire) play(segs []seg) {
	w.script = append(w.script, segs...)
	for _, s := range segs {
		w.sendData(s.dir, []byte(s.data))
	}
}

// sendData sends one data segment. Past the byte budget the engine stops
// reading a connection, so a long benchmark goes on with a new one that
// replays what play sent, as a client logging in again would.
func (w *wire) sendData(dir inspect.Dir, data []byte) {
	if w.sent[dir]+len(data) > inspect.MaxByteBudget {
		w.send(inspect.ToServer, nil, inspect.TCPFlagRST)
		w.sent = [2]int{}
		w.send(inspect.ToServer, nil, inspect.TCPFlagSYN)
		w.send(inspect.ToClient, nil, inspect.TCPFlagSYN|inspect.TCPFlagACK)
		for _, s := range w.script {
			w.sendData(s.dir, []byte(s.data))
		}
	}
	w.sent[dir] += len(data)
	w.send(dir, data, inspect.TCPFlagACK|inspect.TCPFlagPSH)
}

// TestGap drops bytes from a stream: a line they interrupt is neither a
// user nor a password, nor a verdict.
func TestGap(t *testing.T) {
	tests := []struct {
		name   string
		before []seg
		lost   seg // counted in the sequence space, never delivered
		after  []seg
		want   []string
	}{
		{
			name:   "client_gap_inside_password",
			before: join(srv("login: "), cli("root\r\n"), srv("Password: "), cli("xc3")),
			lost:   seg{inspect.ToServer, "51"},
			after:  join(cli("1\r\n"), srv("\r\n# ")),
		},
		{
			name:   "client_gap_then_next_attempt",
			before: join(srv("login: "), cli("root\r\n"), srv("Password: "), cli("xc3")),
			lost:   seg{inspect.ToServer, "51"},
			after:  join(cli("1\r\n"), srv("\r\nLogin incorrect\r\nlogin: "), cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"), srv("\r\n# ")),
			want:   []string{"accepted=yes"},
		},
		{
			// The password typed after a deferred prompt is lost: the
			// user name typed before it is no password.
			name:   "client_gap_inside_password_after_unrecognised_user_prompt",
			before: join(srv("Usuario: "), cli("admin\r\n"), srv("admin\r\nPassword: "), cli("Vq7")),
			lost:   seg{inspect.ToServer, "#pL"},
			after:  join(cli("9!zR2m\r\n"), srv("\r\n# ")),
		},
		{
			name:   "server_gap_inside_verdict_line",
			before: join(srv("login: "), cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"), srv("\r\nLogin in")),
			lost:   seg{inspect.ToClient, "correct"},
			after:  join(srv("\r\nlogin: ")),
			want:   []string{"accepted=no"},
		},
		{
			name:   "server_gap_inside_negotiation",
			before: join(srv("\xff\xfa\x18")),
			lost:   seg{inspect.ToClient, "\x01\xff\xf0"},
			after:  join(srv("login: "), cli("root\r\n"), srv("Password: "), cli("xc3511\r\n"), srv("\r\n# ")),
			want:   []string{"accepted=yes"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			w := newWire(t, col)
			w.play(tt.before)
			w.seq[tt.lost.dir] += uint32(len(tt.lost.data))
			w.play(tt.after)
			w.e.Flush()
			var got []string
			for _, ev := range col.Findings() {
				got = append(got, "accepted="+ev.Evidence["accepted"])
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("logins %v, want %v", got, tt.want)
			}
		})
	}
}

// shellTraffic is what a logged-in session looks like: a command typed
// and echoed, its output, the prompt.
var shellTraffic = []seg{
	{inspect.ToServer, "l"}, {inspect.ToClient, "l"}, {inspect.ToServer, "s"}, {inspect.ToClient, "s"},
	{inspect.ToServer, "\r\n"}, {inspect.ToClient, "\r\n"},
	{inspect.ToClient, "bin   dev   etc   home  lib   mnt   proc  root  sbin  sys   tmp   usr   var\r\n"},
	{inspect.ToClient, "drwxr-xr-x    2 root     root          1024 Mar 26  2014 \x1b[1;34mbin\x1b[0m\r\n"},
	{inspect.ToClient, "# "},
}

// preLoginTraffic is a server's notice before its prompt, negotiation
// and a client's keystrokes: the analyzer reads every byte of it.
var preLoginTraffic = []seg{
	{inspect.ToClient, "\xff\xfd\x18\xff\xfd\x20"},
	{inspect.ToServer, "\xff\xfb\x18\xff\xfa\x18\x00xterm-256color\xff\xf0"},
	{inspect.ToClient, "*** Authorized access only. This device is monitored; disconnect now if you are not the owner. ***\r\n"},
	{inspect.ToClient, "Firmware V5.4.0 build 170306\r\n\r\n"},
	{inspect.ToServer, "x"}, {inspect.ToServer, "\x7f"},
}

func loggedInWire(t testing.TB) (*wire, *inspecttest.Collector) {
	col := &inspecttest.Collector{}
	w := newWire(t, col)
	w.play(busyboxSession())
	if n := len(col.Findings()); n != 1 {
		t.Fatalf("setup: %d findings, want the login", n)
	}
	return w, col
}

func TestSteadyStateAllocs(t *testing.T) {
	tests := []struct {
		name    string
		setup   []seg
		traffic []seg
		events  int // what the setup reported; the traffic adds nothing
	}{
		// Logged in: the analyzer has stopped inspection.
		{"shell_after_login", busyboxSession(), shellTraffic, 3},
		// Before any prompt: every byte is decoded and buffered.
		{"before_prompt", preLoginTraffic, preLoginTraffic, 0},
		// At the password prompt, echoed typing that never ends a line.
		{"at_prompt", join(srv("login: "), cli("root\r\n"), srv("Password: ")), echoed("abcdefgh"), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			w := newWire(t, col)
			w.play(tt.setup)
			payloads := make([][]byte, len(tt.traffic))
			for i, s := range tt.traffic {
				payloads[i] = []byte(s.data)
			}
			allocs := testing.AllocsPerRun(200, func() {
				for i, s := range tt.traffic {
					w.send(s.dir, payloads[i], inspect.TCPFlagACK|inspect.TCPFlagPSH)
				}
			})
			if allocs != 0 {
				t.Errorf("%.1f allocations per round of traffic, want 0", allocs)
			}
			if n := len(col.Events); n != tt.events {
				t.Errorf("%d events, want %d:\n%s", n, tt.events, strings.Join(summary(col), "\n"))
			}
		})
	}
}

// BenchmarkShellSession is a session after its login: the analyzer has
// stopped inspection, so this is what the engine pays per segment.
func BenchmarkShellSession(b *testing.B) {
	w, _ := loggedInWire(b)
	out := []byte(shellTraffic[6].data)
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.send(inspect.ToClient, out, inspect.TCPFlagACK|inspect.TCPFlagPSH)
	}
}

// BenchmarkServerLines is server output read line by line before the
// first prompt, the analyzer's busiest steady state.
func BenchmarkServerLines(b *testing.B) {
	col := &inspecttest.Collector{}
	w := newWire(b, col)
	out := []byte(shellTraffic[6].data)
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.sendData(inspect.ToClient, out)
	}
	b.StopTimer()
	// Each connection closed for a new one reports its banner; nothing
	// else may come of output without a prompt.
	if n := len(col.Events) - len(col.Kind(event.KindBanner)); n != 0 || w.e.Stats.BudgetStops != 0 {
		b.Fatalf("%d events other than banners, %d budget stops", n, w.e.Stats.BudgetStops)
	}
}

func BenchmarkLogin(b *testing.B) {
	segs := busyboxFailThenSuccess()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		col := &inspecttest.Collector{}
		w := newWire(b, col)
		w.play(segs)
		w.e.Flush()
	}
}

// FuzzAnalyzer feeds both directions, cut into segments and interleaved
// as cuts says: each byte c of cuts takes the next (c>>2)+1 bytes of the
// client's (c&1 == 0) or the server's stream and sends them, or with c&2
// loses them (a gap). What is left is sent at the end.
func FuzzAnalyzer(f *testing.F) {
	flat := func(segs []seg, dir inspect.Dir) []byte {
		var b []byte
		for _, s := range segs {
			if s.dir == dir {
				b = append(b, s.data...)
			}
		}
		return b
	}
	for _, s := range [][]seg{busyboxSession(), busyboxFailThenSuccess()} {
		f.Add(flat(s, inspect.ToServer), flat(s, inspect.ToClient), []byte{1, 0, 1, 0, 0, 0, 1, 4, 8, 16, 32, 1, 1, 0})
	}
	f.Add([]byte(subneg(optNewEnviron, "\x00\x00USER\x01ad\x02min")+"pw\r\x00"), []byte("Password: \r\nLogin incorrect\r\nlogin: "), []byte{0x40, 0x41, 0, 2, 3})
	f.Add([]byte("\xff\xfa\x25\x03"), []byte("\xff\xfa\x25\x02\x02\xff\xf0"), []byte{})
	f.Add([]byte("ls\r\n"), []byte("\r\n/ # \xff\xf7"), []byte{5, 12, 4})
	f.Fuzz(func(t *testing.T, client, server, cuts []byte) {
		col := &inspecttest.Collector{}
		w := newWire(t, col)
		streams := [2][]byte{client, server}
		next := func(dir inspect.Dir, n int, lose bool) {
			s := streams[dir]
			n = min(n, len(s))
			if n == 0 {
				return
			}
			if lose {
				w.seq[dir] += uint32(n)
			} else {
				w.send(dir, s[:n], inspect.TCPFlagACK|inspect.TCPFlagPSH)
			}
			streams[dir] = s[n:]
		}
		for _, c := range cuts {
			next(inspect.Dir(c&1), int(c>>2)+1, c&2 != 0)
		}
		next(inspect.ToClient, len(streams[inspect.ToClient]), false)
		next(inspect.ToServer, len(streams[inspect.ToServer]), false)
		w.e.Flush()
		// Every login rests on a line the client ended; a shell without a
		// login, on a keystroke, once.
		lines := strings.Count(string(client), "\r") + strings.Count(string(client), "\n")
		logins, shells := 0, 0
		for _, ev := range col.Findings() {
			if ev.Evidence["password_class"] == string(inspect.ClassNone) {
				shells++
			} else {
				logins++
			}
		}
		if logins > lines || shells > 1 || shells > len(client) {
			t.Fatalf("%d logins from %d client line ends, %d shells without a login from %d client bytes", logins, lines, shells, len(client))
		}
		for _, ev := range col.Findings() {
			if p := ev.Evidence["password"]; p != "" && !strings.HasSuffix(p, "***") {
				t.Fatalf("password evidence %q is not redacted", p)
			}
		}
		if n := len(col.Kind(event.KindBanner)); n > 2 {
			t.Fatalf("%d banners, want at most 2", n)
		}
		if n := len(col.Events) - len(col.Findings()) - len(col.Kind(event.KindBanner)); n != 0 {
			t.Fatalf("%d events of other kinds", n)
		}
	})
}

// TestErasedPasswordNotKept checks that what the client erases is wiped at
// once: a password typed, erased and replaced by a shorter one must not
// stay in the line buffer past the line end until a longer line or Close.
func TestErasedPasswordNotKept(t *testing.T) {
	const pw = "Wlan-S3cret"
	want := hashOf(t, "pw")
	tests := []struct {
		name   string
		typed  string
		logins int
	}{
		{"backspace", pw + strings.Repeat("\b", len(pw)) + "pw\r\n", 1},
		{"delete", pw + strings.Repeat("\x7f", len(pw)) + "pw\r\n", 1},
		{"iac_ec", pw + strings.Repeat("\xff\xf7", len(pw)) + "pw\r\n", 1},
		{"ctrl_u", pw + "\x15pw\r\n", 1},
		{"iac_el", pw + "\xff\xf8pw\r\n", 1},
		{"ctrl_u_no_line_end", pw + "\x15", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewSession(t, New(), "192.168.1.20:23")
			for _, sg := range join(srv("login: "), cli("root\r\n"), srv("Password: "), typed(tt.typed)) {
				if sg.dir == inspect.ToServer {
					s.Client(sg.data)
				} else {
					s.Server(sg.data)
				}
			}
			_, an := s.Analyzer(t)
			a := an.(*analyzer)
			if a.proto == nil {
				t.Fatal("the analyzer was closed: nothing checked")
			}
			if a.client.buf != [maxLine]byte{} {
				t.Errorf("client line keeps %q", strings.TrimRight(string(a.client.buf[:]), "\x00"))
			}
			logins := s.End().Findings()
			if len(logins) != tt.logins {
				t.Fatalf("got %d logins, want %d", len(logins), tt.logins)
			}
			if tt.logins > 0 && logins[0].Evidence["password_hash"] != want {
				t.Errorf("hash %s, want that of the password typed last", logins[0].Evidence["password_hash"])
			}
		})
	}
}
