package dnsproxy

import (
	"context"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// alteredUpstream answers with an A record for the query, then lets
// alter change the answer's header or question the way a spoofed or
// misrouted datagram would differ from the real one.
type alteredUpstream struct{ alter func(r *dns.Msg) }

func (u alteredUpstream) exchange(_ context.Context, m *dns.Msg, _ string) (*dns.Msg, error) {
	r := new(dns.Msg)
	r.SetReply(m)
	r.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: m.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
		A: netip.MustParseAddr("203.0.113.80").AsSlice()}}
	u.alter(r)
	return r, nil
}

// TestUpstreamAnswerForAnotherQuestion: an answer whose ID, question or
// QR bit is not the query's is someone else's (an off-path guess, a late
// answer to another query): the client gets SERVFAIL, not its records.
// A name differing only in case is the same question (0x20 randomising
// resolvers answer that way).
func TestUpstreamAnswerForAnotherQuestion(t *testing.T) {
	tests := []struct {
		name  string
		alter func(r *dns.Msg)
		want  int // rcode
	}{
		{"same", func(*dns.Msg) {}, dns.RcodeSuccess},
		{"name_in_other_case", func(r *dns.Msg) { r.Question[0].Name = "WWW.Example.TEST." }, dns.RcodeSuccess},
		{"other_id", func(r *dns.Msg) { r.Id++ }, dns.RcodeServerFailure},
		{"other_name", func(r *dns.Msg) { r.Question[0].Name = "evil.example.test." }, dns.RcodeServerFailure},
		{"other_type", func(r *dns.Msg) { r.Question[0].Qtype = dns.TypeAAAA }, dns.RcodeServerFailure},
		{"other_class", func(r *dns.Msg) { r.Question[0].Qclass = dns.ClassCHAOS }, dns.RcodeServerFailure},
		{"not_a_response", func(r *dns.Msg) { r.Response = false }, dns.RcodeServerFailure},
		{"no_question", func(r *dns.Msg) { r.Question = nil }, dns.RcodeServerFailure},
		{"two_questions", func(r *dns.Msg) { r.Question = append(r.Question, r.Question[0]) }, dns.RcodeServerFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(testConfig(netip.MustParseAddrPort("127.0.0.1:53")), Deps{Quarantine: newFakeLookup(), Allow: &fakeAllow{}, Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			p.up = alteredUpstream{tt.alter}
			req := query("www.example.test.", dns.TypeA)
			resp := p.respond(context.Background(), netip.MustParseAddr("192.168.1.9"), netip.Addr{}, req, false)
			if resp == nil {
				t.Fatal("no answer")
			}
			if resp.Rcode != tt.want {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.want])
			}
			if answered := len(resp.Answer) > 0; answered != (tt.want == dns.RcodeSuccess) {
				t.Errorf("answer %v", resp.Answer)
			}
			if errs := p.Stats().UpstreamErrors; (errs != 0) != (tt.want != dns.RcodeSuccess) {
				t.Errorf("%d upstream errors counted", errs)
			}
		})
	}
}
