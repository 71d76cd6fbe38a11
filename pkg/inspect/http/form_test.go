package http

import (
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/pii"
)

// viewState is an ASP.NET page's hidden state as a browser posts it:
// kilobytes of base64, URL-encoded.
func viewState(n int) string {
	raw := make([]byte, n)
	for i := range raw {
		raw[i] = byte(i*131 + i>>3)
	}
	return url.QueryEscape(base64.StdEncoding.EncodeToString(raw))
}

// aspNetLogin is an ASP.NET Web Forms login post: the page's state
// first, the login fields after several kilobytes.
var aspNetLogin = "__EVENTTARGET=&__EVENTARGUMENT=&__VIEWSTATE=" + viewState(4500) +
	"&__VIEWSTATEGENERATOR=C2EE9ABB&__EVENTVALIDATION=" + viewState(400) +
	"&txtUser=admin&txtPassword=admin&btnLogin=Login"

// TestFormLoginPastBodyPrefix: the login fields of a form are found
// wherever they lie in the body, also far past the body prefix kept for
// the payload scanner and across TCP segments that cut a name, a value,
// an escape or a multipart delimiter; a field is still read whole or not
// at all.
func TestFormLoginPastBodyPrefix(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	const (
		form     = "application/x-www-form-urlencoded"
		json     = "application/json"
		accepted = "HTTP/1.1 302 Found\r\nSet-Cookie: sid=1\r\nLocation: /\r\nContent-Length: 0\r\n\r\n"
	)
	head := func(ctype string, n int) string {
		return "POST /Login.aspx HTTP/1.1\r\nHost: nvr\r\nContent-Type: " + ctype + "\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n"
	}
	// send posts body in segments of seg bytes.
	send := func(ctype, body string, seg int) func(c *inspecttest.Conv) {
		return func(c *inspecttest.Conv) {
			c.Client(head(ctype, len(body)))
			for len(body) > 0 {
				n := min(seg, len(body))
				c.Client(body[:n])
				body = body[n:]
			}
			c.Server(accepted)
		}
	}
	// splitAt posts body in two segments, the first ending right after
	// the first at in it.
	splitAt := func(ctype, body, at string) func(c *inspecttest.Conv) {
		i := strings.Index(body, at) + len(at)
		return func(c *inspecttest.Conv) {
			c.Client(head(ctype, len(body)) + body[:i]).Client(body[i:]).Server(accepted)
		}
	}
	padding := strings.Repeat("A", 3*maxBody)
	multipart := "multipart/form-data; boundary=----WebKitFormBoundaryQ3tVsk9dX"
	part := func(name, value string) string {
		return "------WebKitFormBoundaryQ3tVsk9dX\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n"
	}
	const closing = "------WebKitFormBoundaryQ3tVsk9dX--\r\n"
	firmware := "------WebKitFormBoundaryQ3tVsk9dX\r\nContent-Disposition: form-data; name=\"fw\"; filename=\"fw.bin\"\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n" + strings.Repeat("\x7fELF\x00\r\n-", 700) + "\r\n"

	type login struct{ user, mechanism, class string }
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		want   []login
	}{
		{"aspnet_login_after_viewstate", send(form, aspNetLogin, 1460), []login{{"a***", "form", "default"}}},
		{"aspnet_login_one_byte_segments", func(c *inspecttest.Conv) {
			c.Client(head(form, len(aspNetLogin))).ClientChars(aspNetLogin).Server(accepted)
		}, []login{{"a***", "form", "default"}}},
		{"escape_split_across_segments", splitAt(form, "state="+padding+"&username=admin&password=ad%6Din", "%6"),
			[]login{{"a***", "form", "default"}}},
		{"name_split_across_segments", splitAt(form, "state="+padding+"&username=admin&pass%77ord=admin", "pass%7"),
			[]login{{"a***", "form", "default"}}},
		{"chunked_form_past_prefix", func(c *inspecttest.Conv) {
			body := "state=" + padding + "&username=admin&password=admin"
			c.Client("POST /login HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Type: " + form + "\r\n\r\n")
			for len(body) > 0 {
				n := min(1000, len(body))
				c.Client(strconv.FormatInt(int64(n), 16) + "\r\n" + body[:n] + "\r\n")
				body = body[n:]
			}
			c.Client("0\r\n\r\n").Server(accepted)
		}, []login{{"a***", "form", "default"}}},
		{"sniffed_form_without_content_type", func(c *inspecttest.Conv) {
			body := "state=" + padding + "&user=admin&pwd=admin"
			c.Client("POST /login HTTP/1.1\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body).Server(accepted)
		}, []login{{"a***", "form", "default"}}},
		{"json_after_long_field", send(json, `{"state":"`+padding+`","username":"admin","password":"admin"}`, 1460),
			[]login{{"a***", "json", "default"}}},
		{"json_escape_split_across_segments", splitAt(json, `{"state":"`+padding+`","username":"admin","pass\u0077ord":"ad\u006din"}`, `\u00`),
			[]login{{"a***", "json", "default"}}},
		{"json_number_past_prefix", send(json, `{"state":"`+padding+`","user":"admin","pwd":1234}`, 1460),
			[]login{{"a***", "json", "default"}}},
		{"multipart_after_firmware_file", send(multipart, firmware+part("username", "admin")+part("password", "admin")+closing, 1460),
			[]login{{"a***", "form", "default"}}},
		{"multipart_delimiter_split_across_segments", splitAt(multipart, part("state", padding)+part("username", "admin")+part("password", "admin")+closing,
			"admin\r\n------WebKit"), []login{{"a***", "form", "default"}}},
		// Held back as a possible delimiter, then given back to the value.
		{"multipart_value_with_a_delimiter_front", send(multipart, part("state", padding)+part("username", "admin")+
			part("password", "admin\r\n------WebKitFormBoundaryQ3")+closing, 7), []login{{"a***", "form", "unique"}}},

		// A multipart answer read while the request's body streams
		// keeps the request's boundary.
		{"response_boundary_mid_request", func(c *inspecttest.Conv) {
			body := part("username", "admin") + part("password", "admin") + closing
			cut := strings.Index(body, "admin\r\n------WebKitForm") + len("admin\r\n------WebKitForm")
			c.Client(head(multipart, len(body)) + body[:cut])
			c.Server("HTTP/1.1 100 Continue\r\nContent-Type: multipart/form-data; boundary=B\r\n\r\n")
			c.Client(body[cut:]).Server(accepted)
		}, []login{{"a***", "form", "default"}}},

		// Not read: a field cut by the end of the flow, a name too
		// long for a login field, a part never closed.
		{"form_cut_by_flow_end_past_prefix", func(c *inspecttest.Conv) {
			body := "state=" + padding + "&username=admin&password=admin2024!Secure"
			c.Client(head(form, len(body)) + body[:len(body)-len("2024!Secure")])
		}, nil},
		{"long_field_name_past_prefix", send(form, "state="+padding+"&ctl00$ContentPlaceHolder1$txtPassword=admin", 1460), nil},
		{"multipart_part_never_closed", send(multipart, part("state", padding)+part("username", "admin")+
			"------WebKitFormBoundaryQ3tVsk9dX\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nadmin", 1460), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewClassifiedSession(t, cl, New(nil), "192.168.1.20:80")
			tt.script(s.Conv)
			col := s.End()
			var got []login
			for _, ev := range col.Findings() {
				if ev.Evidence["protocol"] == "http" {
					got = append(got, login{userOf(ev.Evidence), ev.Evidence["mechanism"], ev.Evidence["password_class"]})
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("logins %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("login %d: %v, want %v", i, got[i], tt.want[i])
				}
			}
			if inspecttest.Leaks(t, col.Events, "admin2024!Secure") {
				t.Errorf("a password leaked into an event")
			}
			if n := len(col.Kind(event.KindDefaultCredentials)); n > 1 {
				t.Errorf("%d default_credentials findings", n)
			}
		})
	}
}

// TestLongFormNoAllocs: a form body far longer than the kept prefix
// streams through the form reader without allocating.
func TestLongFormNoAllocs(t *testing.T) {
	s := inspecttest.NewSession(t, New(nil), "192.168.1.20:80")
	s.Client("POST /Login.aspx HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000000\r\n\r\n")
	f, a := s.Analyzer(t)
	inspecttest.StreamNoAllocs(t, f, a, inspect.ToServer, []byte(aspNetLogin[:1460]))
}

// BenchmarkLongForm: an ASP.NET form post of several kilobytes, with
// the payload scanner on; a search, so that no finding is reported.
func BenchmarkLongForm(b *testing.B) {
	body := strings.Replace(aspNetLogin, "&txtUser=admin&txtPassword=admin&btnLogin=Login", "&txtSearch=garage&btnGo=Go", 1)
	req := []byte("POST /Search.aspx HTTP/1.1\r\nHost: 192.168.1.20\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	resp := []byte("HTTP/1.1 302 Found\r\nLocation: /Default.aspx\r\nContent-Length: 0\r\n\r\n")
	s := inspecttest.NewStream(b, New(pii.New()), "192.168.1.10:40000", "192.168.1.20:80")
	s.Exchange(req, resp)
	b.ReportAllocs()
	b.SetBytes(int64(len(req) + len(resp)))
	for b.Loop() {
		s.Exchange(req, resp)
	}
	if s.Engine.Stats.BudgetStops != 0 {
		b.Errorf("the byte budget stopped inspection %d times: the benchmark measured the engine idle", s.Engine.Stats.BudgetStops)
	}
}
