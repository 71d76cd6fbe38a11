package dnsproxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"
)

// exchanger sends one query to the upstream resolver over "udp" or "tcp".
// The real one is the configured upstream; the fuzz target uses a fake.
type exchanger interface {
	exchange(ctx context.Context, m *dns.Msg, network string) (*dns.Msg, error)
}

// upstream talks to Config.Upstream, the only resolver the proxy uses;
// Proxy.SetRules may change it.
type upstream struct {
	addr     atomic.Pointer[string]
	udp, tcp *dns.Client
}

func newUpstream(cfg Config) *upstream {
	u := &upstream{
		udp: &dns.Client{Net: "udp", UDPSize: uint16(cfg.MaxUDPSize), Timeout: cfg.UpstreamTimeout},
		tcp: &dns.Client{Net: "tcp", Timeout: cfg.UpstreamTimeout},
	}
	u.setAddr(cfg.Upstream)
	return u
}

func (u *upstream) setAddr(a netip.AddrPort) {
	s := a.String()
	u.addr.Store(&s)
}

func (u *upstream) exchange(ctx context.Context, m *dns.Msg, network string) (*dns.Msg, error) {
	c := u.udp
	if network == "tcp" {
		c = u.tcp
	}
	r, _, err := c.ExchangeContext(ctx, m, *u.addr.Load())
	return r, err
}

var errWrongQuestion = errors.New("answer is for another question")

// upstreamQuery asks the upstream req's question over UDP with a fresh ID
// and the proxy's payload size, and again over TCP if the answer was
// truncated. Only the client's OPT record goes along (its options and DO
// bit); anything else in the additional section stays behind.
func (p *Proxy) upstreamQuery(ctx context.Context, req *dns.Msg) (*dns.Msg, error) {
	up := &dns.Msg{MsgHdr: req.MsgHdr, Question: []dns.Question{req.Question[0]}}
	up.Id = dns.Id()
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	if c := req.IsEdns0(); c != nil {
		opt.Option = append(opt.Option, c.Option...)
		opt.SetDo(c.Do())
	}
	opt.SetUDPSize(uint16(p.cfg.MaxUDPSize))
	up.Extra = []dns.RR{opt}

	resp, err := p.up.exchange(ctx, up, "udp")
	if err == nil && resp.Truncated {
		resp, err = p.up.exchange(ctx, up, "tcp")
	}
	if err != nil {
		return nil, fmt.Errorf("dnsproxy: upstream: %w", err)
	}
	if !sameQuestion(resp, up) {
		return nil, fmt.Errorf("dnsproxy: upstream: %w", errWrongQuestion)
	}
	return resp, nil
}

func sameQuestion(resp, req *dns.Msg) bool {
	if len(resp.Question) != 1 || resp.Id != req.Id || !resp.Response {
		return false
	}
	a, b := resp.Question[0], req.Question[0]
	return a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}
