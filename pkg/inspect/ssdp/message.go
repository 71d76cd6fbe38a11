package ssdp

import (
	"bytes"

	"github.com/iotgw/iotgw/pkg/inspect"
)

type kind uint8

const (
	kindNotify kind = iota + 1
	kindSearch
	kindResponse
)

func (k kind) String() string {
	switch k {
	case kindNotify:
		return "notify"
	case kindSearch:
		return "msearch"
	}
	return "response"
}

// message is a parsed SSDP datagram; its slices point into the datagram.
type message struct {
	kind      kind
	server    []byte
	location  []byte
	usn       []byte
	nt        []byte
	nts       []byte
	st        []byte
	userAgent []byte
}

// maxHeaders bounds the header lines read from one datagram.
const maxHeaders = 64

// parse reads an SSDP datagram into m without allocating. It reports false
// for anything else, including HTTP 200 responses that carry neither ST
// nor USN. Header names are case-insensitive (devices send "lOCATION");
// the first instance of a header wins; a datagram may end without the
// empty line.
func parse(b []byte, m *message) bool {
	*m = message{}
	line, n, ok := inspect.NextLine(b)
	if !ok {
		return false
	}
	switch {
	case inspect.EqualFold(bytes.TrimRight(line, " "), "NOTIFY * HTTP/1.1"):
		m.kind = kindNotify
	case inspect.EqualFold(bytes.TrimRight(line, " "), "M-SEARCH * HTTP/1.1"):
		m.kind = kindSearch
	case inspect.HasPrefixFold(line, "HTTP/1.1 200"):
		m.kind = kindResponse
	default:
		return false
	}
	b = b[n:]
	for range maxHeaders {
		line, n, ok := inspect.NextLine(b)
		if !ok {
			line, n = b, len(b) // last header without its line end
		}
		if len(line) == 0 {
			break
		}
		b = b[n:]
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found {
			continue
		}
		name, value = bytes.TrimSpace(name), bytes.TrimSpace(value)
		var dst *[]byte
		switch {
		case inspect.EqualFold(name, "SERVER"):
			dst = &m.server
		case inspect.EqualFold(name, "LOCATION"):
			dst = &m.location
		case inspect.EqualFold(name, "USN"):
			dst = &m.usn
		case inspect.EqualFold(name, "NT"):
			dst = &m.nt
		case inspect.EqualFold(name, "NTS"):
			dst = &m.nts
		case inspect.EqualFold(name, "ST"):
			dst = &m.st
		case inspect.EqualFold(name, "USER-AGENT"):
			dst = &m.userAgent
		default:
			continue
		}
		if *dst == nil {
			*dst = value
		}
	}
	if m.kind == kindResponse && m.st == nil && m.usn == nil {
		return false
	}
	return true
}
