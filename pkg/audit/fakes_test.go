package audit

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/iotgw/iotgw/pkg/inspect/httpauth"
)

// The fakes: device services on loopback, reached through mapDialer,
// which stands in for the LAN. Each counts the logins it saw.

// mapDialer connects LAN host:port pairs to loopback listeners; any other
// address is refused like a closed port. It records every dial.
type mapDialer struct {
	mu     sync.Mutex
	routes map[string]string
	dials  []string
}

func newMapDialer() *mapDialer { return &mapDialer{routes: map[string]string{}} }

func (d *mapDialer) route(lan, loopback string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.routes[lan] = loopback
}

func (d *mapDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dials = append(d.dials, addr)
	to, ok := d.routes[addr]
	d.mu.Unlock()
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, to)
}

func (d *mapDialer) dialed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dials...)
}

// serve accepts connections on a loopback listener until the test ends.
func serve(t *testing.T, handle func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(c)
			}()
		}
	}()
	return ln
}

// fakeTelnet is a BusyBox-style telnet login: option requests first, a
// banner, "login:" and "Password:" prompts, "Login incorrect" on failure.
type fakeTelnet struct {
	user, password string
	// lockAfter > 0: after that many failures, every new connection is
	// told "Too many login attempts" and closed.
	lockAfter int
	// closeAfter > 0: after that many failures the service stops
	// accepting connections (as a firewall ban would).
	closeAfter int
	// echo: the terminal echoes the password (stty -echo came too late);
	// failDelay: how long a rejection takes (default 20 ms).
	echo      bool
	failDelay time.Duration
	// failText replaces "\r\nLogin incorrect\r\n"; failPause is how long
	// the fake waits after it before the next login prompt (a login
	// program's failure delay).
	failText  string
	failPause time.Duration
	// motd is written after a successful login, a moment before the
	// shell prompt.
	motd string
	// openShell: a shell prompt at once, no login asked; greeting: a
	// prompt-like line written before the login prompt, greetDelay ahead
	// of it.
	openShell bool
	// anyPassword: the user gets in with any password (a login that
	// checks the user name only).
	anyPassword bool
	greeting    string
	greetDelay  time.Duration
	ln          net.Listener

	attempts atomic.Int32 // passwords received
	failures atomic.Int32
	refused  atomic.Int32 // WONT/DONT answers received
}

func (f *fakeTelnet) start(t *testing.T) string {
	f.ln = serve(t, f.handle)
	return f.ln.Addr().String()
}

func (f *fakeTelnet) handle(c net.Conn) {
	if f.lockAfter > 0 && int(f.failures.Load()) >= f.lockAfter {
		io.WriteString(c, "\r\nToo many login attempts, try again later\r\n")
		return
	}
	// DO TERMINAL-TYPE, WILL ECHO, WILL SUPPRESS-GO-AHEAD, DO NAWS, and a
	// subnegotiation the client must skip.
	c.Write([]byte{tnIAC, tnDO, 24, tnIAC, tnWILL, 1, tnIAC, tnWILL, 3, tnIAC, tnDO, 31,
		tnIAC, tnSB, 24, 1, tnIAC, tnSE})
	io.WriteString(c, "\r\nBusyBox v1.19.4 (2016-05-12 10:11:45 CST) built-in shell\r\n\r\n")
	br := bufio.NewReader(c)
	if f.openShell {
		// BusyBox ash asks for the cursor position after its prompt.
		io.WriteString(c, "Enter 'help' for a list of built-in commands.\r\n\r\n/ # \x1b[6n")
		f.readLine(br)
		return
	}
	if f.greeting != "" {
		io.WriteString(c, f.greeting)
		time.Sleep(f.greetDelay)
	}
	for try := 0; try < 3; try++ {
		io.WriteString(c, "ipcam login: ")
		user, err := f.readLine(br)
		if err != nil {
			return
		}
		io.WriteString(c, "Password: ")
		pass, err := f.readLine(br)
		if err != nil {
			return
		}
		if f.echo {
			io.WriteString(c, pass+"\r\n")
		}
		f.attempts.Add(1)
		if user == f.user && (pass == f.password || f.anyPassword) {
			if f.motd != "" {
				io.WriteString(c, f.motd)
				time.Sleep(100 * time.Millisecond)
			}
			io.WriteString(c, "\r\n\r\nBusyBox v1.19.4 built-in shell (ash)\r\n# ")
			f.readLine(br)
			return
		}
		n := f.failures.Add(1)
		if f.failDelay == 0 {
			f.failDelay = 20 * time.Millisecond
		}
		time.Sleep(f.failDelay)
		if f.failText != "" {
			io.WriteString(c, f.failText)
		} else {
			io.WriteString(c, "\r\nLogin incorrect\r\n")
		}
		if f.closeAfter > 0 && int(n) >= f.closeAfter {
			f.ln.Close()
			return
		}
		time.Sleep(f.failPause)
	}
}

// readLine reads a line, counting and dropping the client's option
// answers.
func (f *fakeTelnet) readLine(br *bufio.Reader) (string, error) {
	var line []byte
	for {
		b, err := br.ReadByte()
		if err != nil {
			return "", err
		}
		switch {
		case b == tnIAC:
			verb, _ := br.ReadByte()
			br.ReadByte()
			if verb == tnWONT || verb == tnDONT {
				f.refused.Add(1)
			}
		case b == '\n':
			return strings.TrimRight(string(line), "\r\x00"), nil
		default:
			line = append(line, b)
		}
	}
}

// fakeSSH is an SSH server accepting one user/password pair. With
// interactive it offers keyboard-interactive alone and, like PAM, asks
// for the password up to three times on one connection. With noAuth it
// lets anyone in without authentication (dropbear built without password
// checks, sshd with PermitEmptyPasswords and an account without one):
// the "none" method succeeds.
type fakeSSH struct {
	user, password string
	interactive    bool
	noAuth         bool
	anyPassword    bool         // the user gets in with any password
	attempts       atomic.Int32 // passwords received
	logins         atomic.Int32 // connections that authenticated
}

func (f *fakeSSH) start(t *testing.T) string {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(m ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			f.attempts.Add(1)
			if m.User() == f.user && (string(pw) == f.password || f.anyPassword) {
				return &ssh.Permissions{}, nil
			}
			return nil, errors.New("denied")
		},
		ServerVersion: "SSH-2.0-dropbear_2014.63",
		NoClientAuth:  f.noAuth,
	}
	if f.interactive {
		cfg.PasswordCallback = nil
		cfg.KeyboardInteractiveCallback = func(m ssh.ConnMetadata, ask ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			for range 3 {
				answers, err := ask("", "", []string{"Password: "}, []bool{false})
				if err != nil {
					return nil, err
				}
				f.attempts.Add(1)
				if m.User() == f.user && len(answers) == 1 && (answers[0] == f.password || f.anyPassword) {
					return &ssh.Permissions{}, nil
				}
			}
			return nil, errors.New("denied")
		}
	}
	cfg.AddHostKey(signer)
	ln := serve(t, func(c net.Conn) {
		conn, chans, reqs, err := ssh.NewServerConn(c, cfg)
		if err != nil {
			return
		}
		f.logins.Add(1)
		defer conn.Close()
		go ssh.DiscardRequests(reqs)
		for ch := range chans {
			ch.Reject(ssh.Prohibited, "no")
		}
	})
	return ln.Addr().String()
}

// fakeWeb is an HTTP server asking for Basic or Digest credentials on /.
type fakeWeb struct {
	user, password string
	digest         bool
	anyPassword    bool // the user gets in with any password
	// lockAfter > 0: after that many failures, answer 429.
	lockAfter int
	attempts  atomic.Int32
	failures  atomic.Int32
	nonces    atomic.Int32
}

func (f *fakeWeb) start(t *testing.T) string {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func (f *fakeWeb) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.lockAfter > 0 && int(f.failures.Load()) >= f.lockAfter {
		http.Error(w, "too many attempts", http.StatusTooManyRequests)
		return
	}
	auth := r.Header.Get("Authorization")
	if auth != "" {
		f.attempts.Add(1)
		if f.check(r.Method, auth) {
			fmt.Fprintln(w, "<html>camera</html>")
			return
		}
		f.failures.Add(1)
	}
	if f.digest {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(
			`Digest realm="IP Camera", qop="auth,auth-int", nonce="n%d", opaque="o1", algorithm=MD5`, f.nonces.Add(1)))
	} else {
		w.Header().Set("WWW-Authenticate", `Basic realm="IP Camera"`)
	}
	http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
}

// check verifies an Authorization value with the passive analyzer's own
// Digest code, so the client and the verifier agree on RFC 7616.
func (f *fakeWeb) check(method, auth string) bool {
	scheme, rest := httpauth.Split([]byte(auth))
	switch {
	case scheme == httpauth.SchemeBasic && !f.digest:
		var buf [httpauth.MaxBasic]byte
		u, p, ok := httpauth.Basic(rest, &buf)
		return ok && string(u) == f.user && (string(p) == f.password || f.anyPassword)
	case scheme == httpauth.SchemeDigest && f.digest:
		d, ok := httpauth.ParseDigest(rest)
		if !ok || string(d.Username) != f.user {
			return false
		}
		verify := d.Verifier([]byte(method))
		return verify != nil && (verify([]byte(f.password)) || f.anyPassword)
	}
	return false
}

// fakeRTSP answers DESCRIBE, asking for Digest credentials, like live555
// (the RTSP server of many cameras): it serves requests on a connection
// until the client leaves, and the nonce belongs to the connection that
// got the 401 (each 401 sets a new one); an answer with any other nonce is
// refused whatever its password. With closeEach it closes the connection
// after every response and takes any nonce it issued instead.
type fakeRTSP struct {
	user, password string
	closeEach      bool
	anyPassword    bool // the user gets in with any password

	attempts   atomic.Int32 // answers received
	wrongNonce atomic.Int32 // answers with a nonce the connection was not given
	conns      atomic.Int32
	nonces     sync.Map // every nonce issued (closeEach)
}

func (f *fakeRTSP) start(t *testing.T) string {
	web := &fakeWeb{user: f.user, password: f.password, digest: true, anyPassword: f.anyPassword}
	ln := serve(t, func(c net.Conn) {
		n := f.conns.Add(1)
		tp := textproto.NewReader(bufio.NewReader(c))
		nonce := "" // this connection's
		for i := 0; ; i++ {
			line, err := tp.ReadLine()
			if err != nil || !strings.HasPrefix(line, "DESCRIBE rtsp://") || !strings.HasSuffix(line, " RTSP/1.0") {
				return
			}
			h, err := tp.ReadMIMEHeader()
			if err != nil {
				return
			}
			cseq := h.Get("CSeq")
			if auth := h.Get("Authorization"); auth != "" {
				f.attempts.Add(1)
				d, _ := httpauth.ParseDigest([]byte(strings.TrimPrefix(auth, "Digest ")))
				_, issued := f.nonces.Load(string(d.Nonce))
				ok := nonce != "" && string(d.Nonce) == nonce || f.closeEach && issued
				if !ok {
					f.wrongNonce.Add(1)
				}
				if ok && web.check("DESCRIBE", auth) {
					fmt.Fprintf(c, "RTSP/1.0 200 OK\r\nCSeq: %s\r\nContent-Type: application/sdp\r\nContent-Length: 0\r\n\r\n", cseq)
					return
				}
			}
			nonce = fmt.Sprintf("c%dn%d", n, i)
			f.nonces.Store(nonce, true)
			fmt.Fprintf(c, "RTSP/1.0 401 Unauthorized\r\nCSeq: %s\r\nWWW-Authenticate: Digest realm=\"LIVE555 Streaming Media\", nonce=\"%s\"\r\n\r\n",
				cseq, nonce)
			if f.closeEach {
				return
			}
		}
	})
	return ln.Addr().String()
}

// fakeFTP accepts one user/password pair. greeting and welcome, when
// set, replace its 220 greeting and its 230 reply (vsftpd's banner_file
// and a login message file make them as long as the site likes).
type fakeFTP struct {
	user, password    string
	greeting, welcome string
	// userReply, when set, answers every USER instead of 331.
	userReply   string
	anyPassword bool // the user gets in with any password
	attempts    atomic.Int32
}

func (f *fakeFTP) start(t *testing.T) string {
	greeting, welcome := f.greeting, f.welcome
	if greeting == "" {
		greeting = "220-Welcome\r\n220 (vsFTPd 2.3.4)\r\n"
	}
	if welcome == "" {
		welcome = "230 Login successful.\r\n"
	}
	ln := serve(t, func(c net.Conn) {
		io.WriteString(c, greeting)
		br := bufio.NewReader(c)
		var user string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			cmd, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
			switch cmd {
			case "USER":
				user = arg
				if f.userReply != "" {
					io.WriteString(c, f.userReply)
					continue
				}
				io.WriteString(c, "331 Please specify the password.\r\n")
			case "PASS":
				f.attempts.Add(1)
				if user == f.user && (arg == f.password || f.anyPassword) {
					io.WriteString(c, welcome)
				} else {
					io.WriteString(c, "530 Login incorrect.\r\n")
				}
			case "QUIT":
				io.WriteString(c, "221 Goodbye.\r\n")
				return
			default:
				io.WriteString(c, "500 Unknown command.\r\n")
			}
		}
	})
	return ln.Addr().String()
}
