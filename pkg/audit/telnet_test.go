package audit

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
)

func TestTelnetReader(t *testing.T) {
	tests := []struct {
		name  string
		in    [][]byte // server reads, in order
		text  string
		reply []byte
	}{
		{"plain", [][]byte{[]byte("login: ")}, "login: ", nil},
		{"do_and_will_refused", [][]byte{{tnIAC, tnDO, 24, tnIAC, tnWILL, 1, 'x'}}, "x",
			[]byte{tnIAC, tnWONT, 24, tnIAC, tnDONT, 1}},
		{"wont_dont_unanswered", [][]byte{{tnIAC, tnWONT, 1, tnIAC, tnDONT, 3, 'y'}}, "y", nil},
		{"repeated_request_answered_once", [][]byte{{tnIAC, tnDO, 24, tnIAC, tnDO, 24}}, "",
			[]byte{tnIAC, tnWONT, 24}},
		{"split_command", [][]byte{{'a', tnIAC}, {tnWILL}, {3, 'b'}}, "ab", []byte{tnIAC, tnDONT, 3}},
		{"escaped_ff", [][]byte{{'a', tnIAC, tnIAC, 'b'}}, "a\xffb", nil},
		{"subnegotiation_skipped", [][]byte{{tnIAC, tnSB, 24, 1, tnIAC, tnIAC, 7, tnIAC, tnSE, 'z'}}, "z", nil},
		{"unterminated_subnegotiation", [][]byte{{tnIAC, tnSB, 24, 'l', 'o', 'g'}}, "", nil},
		{"nop_and_ga", [][]byte{{tnIAC, 241, 'k', tnIAC, 249}}, "k", nil},
		{"option_255", [][]byte{{tnIAC, tnDO, 255}}, "", []byte{tnIAC, tnWONT, 255}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tr telnetReader
			var text, reply []byte
			for _, in := range tc.in {
				text, reply = tr.feed(in, text, reply)
			}
			if string(text) != tc.text || !bytes.Equal(reply, tc.reply) {
				t.Errorf("text %q reply %v, want %q %v", text, reply, tc.text, tc.reply)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		want     screen
		greeting screen
	}{
		{"busybox_login", "\r\nipcam login: ", screenUser, screenUser},
		{"username", "Username:", screenUser, screenUser},
		{"password", "root\r\nPassword: ", screenPassword, screenPassword},
		{"shell_hash", "\r\n\r\nBusyBox v1.19.3 built-in shell (ash)\r\n# ", screenShell, screenShell},
		{"shell_dollar", "admin@cam:~$ ", screenShell, screenShell},
		{"cli", "\r\nDVR> ", screenShell, screenShell},
		{"cli_host_named_user", "\r\ncam-user> ", screenShell, screenShell},
		{"incorrect_then_prompt", "\r\nLogin incorrect\r\nipcam login: ", screenFailed, screenUser},
		{"legal_notice_before_prompt", "Unauthorized access is denied\r\nlogin: ", screenFailed, screenUser},
		{"too_many", "\r\nToo many login attempts, try again later\r\n", screenLocked, screenLocked},
		{"locked_account", "Account locked for 300 seconds", screenLocked, screenLocked},
		{"nothing", "Welcome\r\n", screenNone, screenNone},
		{"empty", "", screenNone, screenNone},
		{"nul_padding", "login:\x00\x00 ", screenUser, screenUser},
		// After a login, the banner may use words that mean failure or
		// lockout elsewhere: the shell prompt at the end decides.
		{"banner_failed_then_shell", "Last failed login: Tue Nov 24 10:02:11 from 192.168.1.7\r\nThere was 1 failed login attempt since the last successful login.\r\n# ", screenShell, screenShell},
		{"banner_unauthorized_then_shell", "WARNING: Unauthorized access is prohibited\r\nroot@cam:~# ", screenShell, screenShell},
		{"banner_locked_then_shell", "Accounts are locked after 5 invalid attempts\r\n$ ", screenShell, screenShell},
		{"banner_failed_no_prompt_yet", "Last failed login: Tue Nov 24 10:02:11\r\n", screenFailed, screenNone},
		// A failure message whose last line ends in a prompt mark is no
		// shell: the mark must be the last byte, on a line that is not a
		// rule, a percentage or itself the failure or lockout message.
		{"failure_then_rule_line", "\r\nLogin incorrect\r\n##############################\r\n", screenFailed, screenNone},
		{"failure_then_rule_unterminated", "\r\nLogin incorrect\r\n######", screenFailed, screenNone},
		{"failure_counter_in_angle_brackets", "\r\nLogin failed <1/3>", screenFailed, screenNone},
		{"failure_with_percentage", "\r\nAuthentication failed ... 100%", screenFailed, screenNone},
		{"percentage_alone", "Checking ... 100%", screenNone, screenNone},
		{"lockout_counter", "\r\nToo many failures <3/3>", screenLocked, screenLocked},
		{"shell_after_line_break_is_a_message", "BusyBox v1.19.3 built-in shell (ash)\r\n#\r\n", screenNone, screenNone},
		{"shell_prompt_nul_padded", "\r\n# \x00\x00", screenShell, screenShell},
		{"zsh_percent", "cam% ", screenShell, screenShell},
		{"single_hash", "\r\n#", screenShell, screenShell},
		// The prompts passive inspection reads (telnet.PromptOf): one
		// ending in '>' that asks for a password is no CLI.
		{"password_for_user", "admin\r\nPassword for admin: ", screenPassword, screenPassword},
		{"password_prompt_with_angle", "\r\nEnter the password> ", screenPassword, screenPassword},
		{"space_before_colon", "\r\nUsername : ", screenUser, screenUser},
		{"login_as", "login as: ", screenUser, screenUser},
		{"account", "\r\nAccount: ", screenUser, screenUser},
		{"huawei_user_name", "\r\n>>User name:", screenUser, screenUser},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify([]byte(tc.text)); got != tc.want {
				t.Errorf("classify %d, want %d", got, tc.want)
			}
			if got := classifyGreeting([]byte(tc.text)); got != tc.greeting {
				t.Errorf("classifyGreeting %d, want %d", got, tc.greeting)
			}
		})
	}
}

func TestFirstLine(t *testing.T) {
	tests := []struct {
		in       string
		line     string
		complete bool
	}{
		{"\r\n\r\nBusyBox v1.19.4\r\nlogin:", "BusyBox v1.19.4", true},
		{"ipcam login: ", "ipcam login:", true},
		{"partial", "partial", false},
		{"\r\n  \r\n", "", false},
	}
	for _, tc := range tests {
		line, ok := firstLine([]byte(tc.in))
		if string(line) != tc.line || ok != tc.complete {
			t.Errorf("%q: %q %v", tc.in, line, ok)
		}
	}
}

// FuzzTelnetReader feeds server bytes, split at an arbitrary point, to the
// negotiation reader and the screen classifiers: no panic, answers are
// only refusals and at most one per option and verb, and the text is
// never longer than the input.
func FuzzTelnetReader(f *testing.F) {
	f.Add([]byte{tnIAC, tnDO, 24, tnIAC, tnWILL, 1, 'l', 'o', 'g', 'i', 'n', ':', ' '}, uint8(3))
	f.Add([]byte{tnIAC, tnSB, 24, 1, tnIAC, tnSE, 'P', 'a', 's', 's', 'w', 'o', 'r', 'd', ':'}, uint8(5))
	f.Add([]byte("Login incorrect\r\nlogin: "), uint8(0))
	f.Add([]byte{tnIAC, tnIAC, tnIAC}, uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		cut := int(split)
		if cut > len(in) {
			cut = len(in)
		}
		var tr telnetReader
		text, reply := tr.feed(in[:cut], nil, nil)
		text, reply = tr.feed(in[cut:], text, reply)
		if len(text) > len(in) {
			t.Fatalf("text %d bytes from %d", len(text), len(in))
		}
		if len(reply)%3 != 0 {
			t.Fatalf("reply %v", reply)
		}
		seen := map[[2]byte]bool{}
		for i := 0; i < len(reply); i += 3 {
			if reply[i] != tnIAC || (reply[i+1] != tnWONT && reply[i+1] != tnDONT) {
				t.Fatalf("reply %v is not a refusal", reply[i:i+3])
			}
			k := [2]byte{reply[i+1], reply[i+2]}
			if seen[k] {
				t.Fatalf("option %v refused twice", k)
			}
			seen[k] = true
		}
		classify(text)
		classifyGreeting(text)
		firstLine(text)
		if rest := withoutEcho(text, string(in[:cut])); len(rest) > len(text) {
			t.Fatalf("withoutEcho grew the text")
		}
	})
}

func TestWithoutEcho(t *testing.T) {
	tests := []struct{ text, line, want string }{
		{"s3cret#\r\n", "s3cret#", "\r\n"},
		{"\r\ns3cr", "s3cret#", ""},
		{"\r\nLogin incorrect\r\n", "s3cret#", "\r\nLogin incorrect\r\n"},
		{"# ", "", "# "},
		{"s3cret#\r\n# ", "s3cret#", "\r\n# "},
	}
	for _, tc := range tests {
		if got := string(withoutEcho([]byte(tc.text), tc.line)); got != tc.want {
			t.Errorf("withoutEcho(%q, %q) = %q, want %q", tc.text, tc.line, got, tc.want)
		}
	}
}

// TestPasswordOnlyServiceGetsEachPasswordOnce: a telnet service that asks
// for a password only (many DVR and router command lines) would get the
// same password again for another user name of the list: a failed login
// that teaches nothing, and a step nearer a lockout.
func TestPasswordOnlyServiceGetsEachPasswordOnce(t *testing.T) {
	var mu sync.Mutex
	var got []string
	ln := serve(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		c.Write([]byte("\r\nPassword: "))
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		mu.Lock()
		got = append(got, strings.TrimRight(line, "\r\n"))
		mu.Unlock()
		c.Write([]byte("\r\nBad password\r\n"))
	})
	d := newMapDialer()
	d.route(lan("23"), ln.Addr().String())
	a := newAuditor(t, d, nil)
	rep, _, err := a.Audit(context.Background(), target())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]int{}
	for _, p := range got {
		seen[p]++
	}
	if len(got) == 0 || rep.Attempts != len(got) {
		t.Fatalf("the device received %d passwords, the report says %d attempts", len(got), rep.Attempts)
	}
	if len(seen) < len(got) {
		t.Errorf("the same password sent %d times more than once: %d of the %d failed logins taught nothing", len(got)-len(seen), len(got)-len(seen), len(got))
	}
}

// TestTelnetFailureTextIsNotAShell: a device that rejects every password
// with a failure message whose last line ends in a prompt mark, then
// pauses past the settle time before its next login prompt, must not be
// reported as a shell: that would file a rejected password as a verified
// default login and get the device quarantined.
func TestTelnetFailureTextIsNotAShell(t *testing.T) {
	tests := []struct {
		name     string
		failText string
		wantStop Stop
	}{
		{"rule_of_hashes_under_login_incorrect", "\r\nLogin incorrect\r\n##############################\r\n", StopExhausted},
		{"rule_of_hashes_unterminated", "\r\nLogin incorrect\r\n##############################", StopExhausted},
		{"attempt_counter", "\r\nLogin failed <1/3>", StopExhausted},
		{"progress_percentage", "\r\nAuthentication failed, retrying ... 100%", StopExhausted},
		{"lockout_counter", "\r\nToo many failures <3/3>", StopLockout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeTelnet{user: "root", password: "unique-pw-77", failText: tt.failText, failPause: 2 * settle}
			d := newMapDialer()
			d.route(lan("23"), f.start(t))
			a := newAuditor(t, d, func(o *Options) {
				o.Candidates = fixedList{{User: "root", Password: "xc3511"}, {User: "admin", Password: "admin"}}
			})
			rep, evs, err := a.Audit(context.Background(), target())
			if err != nil {
				t.Fatal(err)
			}
			if found := findKind(evs, event.KindDefaultCredentials); len(found) != 0 {
				t.Fatalf("a rejected password reported as accepted: %s", found[0].Summary)
			}
			if rep.Stop != tt.wantStop || int(f.attempts.Load()) != rep.Attempts {
				t.Errorf("stop %s, %d attempts, the device saw %d; want %s", rep.Stop, rep.Attempts, f.attempts.Load(), tt.wantStop)
			}
		})
	}
}
