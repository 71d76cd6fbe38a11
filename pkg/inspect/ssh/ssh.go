// Package ssh reads the one part of SSH sent in clear that says something
// about a device: the server's identification string (RFC 4253 section
// 4.2, "SSH-2.0-dropbear_2014.63"), reported as a banner, from which the
// device inventory reads the server software and its version. Inspection
// stops there: the key exchange that follows is binary, and its
// algorithm lists, though sent in clear, are not read (a server offering
// only weak ones is not reported); everything after it is encrypted.
package ssh

import (
	"bytes"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// maxLinesBefore bounds the lines a server may send before its
// identification (RFC 4253 allows some); past them the flow is no SSH
// this package reads.
const maxLinesBefore = 8

// Protocol is SSH.
type Protocol struct {
	pool inspect.FreeList[analyzer]
}

// New returns the SSH protocol.
func New() *Protocol { return &Protocol{} }

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "ssh" }

// Match implements inspect.Protocol: an identification string from
// either side proves SSH, and so does one after the other lines a server
// may send first, on any port; the SSH ports are a guess for a server
// whose first segment ends before its identification.
func (*Protocol) Match(f *inspect.Flow, dir inspect.Dir, b []byte) inspect.Confidence {
	if !f.IsTCP() {
		return inspect.NoMatch
	}
	if bytes.HasPrefix(b, []byte(identPrefix)) || dir == inspect.ToClient && identAfterLines(b) {
		return inspect.ContentMatch
	}
	switch f.Server().Port() {
	case 22, 2222:
		return inspect.PortMatch
	}
	return inspect.NoMatch
}

// identPrefix begins an identification string.
const identPrefix = "SSH-"

// identAfterLines reports whether a line of b that the analyzer would
// still read, fewer than maxLinesBefore lines in, begins an
// identification string.
func identAfterLines(b []byte) bool {
	for range maxLinesBefore {
		if bytes.HasPrefix(b, []byte(identPrefix)) {
			return true
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return false
		}
		b = b[i+1:]
	}
	return false
}

// NewAnalyzer implements inspect.Protocol.
func (p *Protocol) NewAnalyzer(*inspect.Flow) inspect.Analyzer {
	a := p.pool.Get()
	a.proto = p
	return a
}

type analyzer struct {
	proto *Protocol
	lines inspect.Lines
	seen  int // server lines before the identification
}

func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	return a.lines.Feed(a, f, dir, data)
}

// Raw implements inspect.LineHandler: what the client sends is not read
// (its own identification, then binary packets), so it is never held.
func (*analyzer) Raw(dir inspect.Dir, b []byte) int {
	if dir == inspect.ToServer {
		return len(b)
	}
	return 0
}

// ClientLine implements inspect.LineHandler; Raw takes all client bytes.
func (*analyzer) ClientLine(*inspect.Flow, []byte) {}

// ServerLine implements inspect.LineHandler: the identification string
// is reported and ends the inspection; the lines before it are skipped.
func (a *analyzer) ServerLine(f *inspect.Flow, line []byte) {
	if bytes.HasPrefix(line, []byte(identPrefix)) {
		inspect.EmitGreeting(f, "ssh", line)
		f.StopInspection()
		return
	}
	if a.seen++; a.seen >= maxLinesBefore {
		f.StopInspection()
	}
}

// Gap implements inspect.Analyzer: a server line cut by lost bytes is no
// identification.
func (a *analyzer) Gap(_ *inspect.Flow, dir inspect.Dir) { a.lines.Resync(dir) }

// Close implements inspect.Analyzer.
func (a *analyzer) Close(*inspect.Flow) { a.proto.pool.Put(a) }
