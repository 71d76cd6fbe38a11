package audit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// Service ports by protocol. A port in none of these lists is reported
// open and nothing more.
var (
	telnetPorts = []uint16{23, 2323}
	sshPorts    = []uint16{22}
	ftpPorts    = []uint16{21}
	httpPorts   = []uint16{80, 8080, 8000, 5000, 49152}
	httpsPorts  = []uint16{443, 8443}
	rtspPorts   = []uint16{554}
)

// maxBannerText is the longest banner put in an event, as the passive
// analyzers do.
const maxBannerText = 160

// checkPorts connects to each port, one at a time with PortDelay between
// them, and records the open ones. A refused or timed-out connect is a
// closed port (a device that drops what it does not serve times out);
// a connect the kernel could not even send (no host answered ARP or
// neighbour discovery at the address) means the device is not there,
// and says nothing of its ports: ErrNotPresent, and the audit is not
// counted as done.
func (r *run) checkPorts(ctx context.Context) error {
	ports := slices.Clone(r.a.opts.Ports)
	for _, p := range r.t.OpenPorts {
		if p != 0 && !slices.Contains(ports, p) && len(ports) < maxPorts {
			ports = append(ports, p)
		}
	}
	r.checked = ports
	for i, p := range ports {
		if i > 0 {
			if err := sleep(ctx, r.a.opts.PortDelay); err != nil {
				return err
			}
		}
		c, err := r.dial(ctx, p)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if unreachable(err) {
				return fmt.Errorf("%w: %s: %v", ErrNotPresent, r.addr, err)
			}
			continue
		}
		c.Close()
		r.report.OpenPorts = append(r.report.OpenPorts, p)
	}
	slices.Sort(r.report.OpenPorts)
	return nil
}

// unreachable reports whether a connect failed before it reached any
// host: no neighbour answered at the address, or it cannot be dialled.
func unreachable(err error) bool {
	return errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, syscall.EHOSTDOWN) || errors.Is(err, syscall.EINVAL)
}

// grabBanners reads the greeting of the open telnet, FTP and SSH ports
// and files it as a banner observation, so that versions reach the
// advisory matcher.
func (r *run) grabBanners(ctx context.Context) {
	for _, p := range r.report.OpenPorts {
		var proto string
		switch {
		case slices.Contains(telnetPorts, p):
			proto = "telnet"
		case slices.Contains(ftpPorts, p):
			proto = "ftp"
		case slices.Contains(sshPorts, p):
			proto = "ssh"
		default:
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if err := sleep(ctx, r.a.opts.PortDelay); err != nil {
			return
		}
		text, err := r.banner(ctx, p, proto)
		if err != nil {
			r.a.log.Debug("no banner", "device", r.t.MAC.String(), "port", p, "err", err)
			continue
		}
		ev := r.newEvent(event.TypeObservation, event.KindBanner, p, proto)
		ev.Severity = event.SeverityInfo
		ev.Summary = bannerSummary[proto]
		ev.Evidence["protocol"] = proto
		ev.Evidence["banner"] = text
		if proto == "telnet" {
			ev.Evidence["stage"] = "pre_login"
		}
		r.events = append(r.events, ev)
	}
}

var bannerSummary = map[string]string{
	"telnet": "Telnet server banner",
	"ftp":    "FTP server banner",
	"ssh":    "SSH server banner",
}

// banner reads the first line a service sends, at most maxBanner bytes
// within BannerTimeout, and returns it scrubbed.
func (r *run) banner(ctx context.Context, port uint16, proto string) (string, error) {
	c, err := r.dial(ctx, port)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(r.a.opts.BannerTimeout)); err != nil {
		return "", fmt.Errorf("set deadline: %w", err)
	}
	var line []byte
	if proto == "telnet" {
		line = telnetBanner(c)
	} else {
		line, err = readLine(bufio.NewReaderSize(c, maxBanner), maxBanner)
		if proto == "ftp" && err == nil {
			io.WriteString(c, "QUIT\r\n") // polite; the answer does not matter
		}
	}
	// A greeting is free text: the owner's name or address may be in
	// it. Scrubbed as the passive analyzers' banners are.
	text := inspect.Scrubbed(line, maxBannerText)
	if text == "" {
		if err == nil {
			err = errors.New("empty")
		}
		return "", fmt.Errorf("%s banner: %w", proto, err)
	}
	return text, nil
}

// readLine reads up to the first line end, at most max bytes. What was
// read counts even when the read ended early.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for len(line) < max {
		b, err := br.ReadByte()
		if err != nil {
			return line, err
		}
		if b == '\n' {
			break
		}
		line = append(line, b)
	}
	return bytes.TrimRight(line, "\r"), nil
}

// telnetBanner reads a telnet greeting, refusing the options the server
// asks for, until the first non-empty line or a prompt, the deadline or
// maxBanner bytes of text.
func telnetBanner(c net.Conn) []byte {
	var tr telnetReader
	var text, reply []byte
	buf := make([]byte, 512)
	for len(text) < maxBanner {
		n, err := c.Read(buf)
		text, reply = tr.feed(buf[:n], text, reply[:0])
		if len(reply) > 0 {
			if _, werr := c.Write(reply); werr != nil {
				break
			}
		}
		if line, ok := firstLine(text); ok {
			return line
		}
		if err != nil {
			break
		}
	}
	line, _ := firstLine(text)
	if len(line) == 0 {
		line = bytes.TrimSpace(text)
	}
	return line
}

// firstLine returns the first non-empty line of text; ok is true when it
// is complete (a line end or a prompt's colon followed it).
func firstLine(text []byte) ([]byte, bool) {
	for len(text) > 0 {
		i := bytes.IndexAny(text, "\r\n")
		if i < 0 {
			t := bytes.TrimSpace(text)
			return t, len(t) > 0 && t[len(t)-1] == ':'
		}
		if t := bytes.TrimSpace(text[:i]); len(t) > 0 {
			return t, true
		}
		text = text[i+1:]
	}
	return nil, false
}

// exposedServices files an exposed_service finding for each open telnet
// port (medium: the service Mirai and its successors log into) and FTP
// port (low: cleartext logins, but rarely a shell), or, when neither is
// open, the audit observation that the port check found nothing. Other
// open ports (web, RTSP, MQTT …) are the device's working interfaces and
// are listed in the observation, not judged.
func (r *run) exposedServices() {
	found := false
	for _, p := range r.report.OpenPorts {
		proto, sev := "", event.SeverityInfo
		switch {
		case slices.Contains(telnetPorts, p):
			proto, sev = "telnet", event.SeverityMedium
		case slices.Contains(ftpPorts, p):
			proto, sev = "ftp", event.SeverityLow
		default:
			continue
		}
		found = true
		ev := r.newEvent(event.TypeFinding, event.KindExposedService, p, proto)
		ev.Severity = sev
		ev.Capability, ev.Provision = event.CapSecureCommunication, "5.6-1"
		ev.Summary = fmt.Sprintf("%s open on port %d (cleartext login service reachable from the LAN)", strings.ToUpper(proto), p)
		ev.Evidence["protocol"] = proto
		ev.Evidence["port"] = fmt.Sprint(p)
		r.events = append(r.events, ev)
	}
	if found {
		return
	}
	ev := r.newEvent(event.TypeObservation, event.KindAudit, 0, "")
	ev.Severity = event.SeverityInfo
	ev.Evidence["check"] = "ports"
	ev.Evidence["result"] = "none_found"
	ev.Evidence["ports_checked"] = fmt.Sprint(len(r.checked))
	if missed := slices.DeleteFunc(slices.Concat(telnetPorts, ftpPorts), func(p uint16) bool { return slices.Contains(r.checked, p) }); len(missed) > 0 {
		// A configured port list without them says nothing of telnet
		// or FTP: no pass for 5.6-1 on it.
		ev.Evidence["result"] = "untested"
		ev.Summary = "telnet and FTP ports not in the checked list (" + joinPorts(missed) + " left out)"
		r.events = append(r.events, ev)
		return
	}
	if len(r.report.OpenPorts) > 0 {
		ev.Evidence["ports"] = joinPorts(r.report.OpenPorts)
		ev.Summary = "no telnet or FTP port open (open: " + ev.Evidence["ports"] + ")"
	} else {
		ev.Summary = "no common IoT port open"
	}
	r.events = append(r.events, ev)
}
