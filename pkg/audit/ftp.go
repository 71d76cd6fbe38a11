package audit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/iotgw/iotgw/pkg/inspect/creds"
)

// Bounds of an FTP reply.
const (
	maxReplyLines = 32
	maxReplyLine  = 512
)

// ftpLogin tries one candidate with USER and PASS on a new connection:
// 230 is acceptance, 530 rejection, 421 (service closing, the usual
// answer of servers limiting failures) or a lockout message lockout. A
// USER reply that is none of these nor a request for the password is an
// error: no password reached the service.
func (r *run) ftpLogin(ctx context.Context, port uint16, cand creds.Candidate) (attempt, error) {
	res := attempt{mechanism: "USER/PASS"}
	c, err := r.dial(ctx, port)
	if err != nil {
		return res, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	if err := c.SetDeadline(time.Now().Add(r.a.opts.ResponseTimeout)); err != nil {
		return res, fmt.Errorf("ftp: set deadline: %w", err)
	}
	br := bufio.NewReaderSize(c, maxReplyLine)
	code, text, err := readFTPReply(br)
	switch {
	case err != nil:
		return res, fmt.Errorf("ftp: greeting: %w", err)
	case code == 421 || lockoutText(text):
		res.outcome = outcomeLockout
		return res, nil
	case code != 220:
		return res, fmt.Errorf("ftp: greeting %d", code)
	}
	if _, err := io.WriteString(c, "USER "+cand.User+"\r\n"); err != nil {
		return res, fmt.Errorf("ftp: USER: %w", err)
	}
	code, text, err = readFTPReply(br)
	if err != nil {
		return res, fmt.Errorf("ftp: USER reply: %w", err)
	}
	switch {
	case code == 331 || code == 332:
		if _, err := io.WriteString(c, "PASS "+cand.Password+"\r\n"); err != nil {
			return res, fmt.Errorf("ftp: PASS: %w", err)
		}
		res.sent = true
		code, text, err = readFTPReply(br)
		switch {
		case errors.Is(err, errFTPReplyTooLong):
			// The first line's code is the verdict (a long 230 is a
			// welcome message); nothing but QUIT is sent after it.
		case err != nil:
			res.outcome = outcomeRejected
			return res, nil // hung up after the password: not accepted
		}
	case code == 230 || code == 530 || code == 421 || lockoutText(text):
		res.sent = true // the user name alone decided
	default:
		// Not an answer to the login (a command not understood, a
		// second greeting): no password was sent, nothing was decided.
		return res, fmt.Errorf("ftp: USER answered %d", code)
	}
	switch {
	case code == 230:
		res.outcome = outcomeAccepted
	case code == 421 || lockoutText(text):
		res.outcome = outcomeLockout
	default:
		res.outcome = outcomeRejected
	}
	io.WriteString(c, "QUIT\r\n")
	return res, nil
}

// errFTPReplyTooLong is a reply that does not end within maxReplyLines
// lines of at most maxReplyLine bytes: the rest of it would be read as
// the answer to the next command.
var errFTPReplyTooLong = errors.New("ftp: reply longer than the audit reads")

// readFTPReply reads one reply, multi-line ones included (RFC 959 section
// 4.2), and returns its code and text. A reply whose closing line does not
// come within the bounds is errFTPReplyTooLong, with the code of its first
// line.
func readFTPReply(br *bufio.Reader) (int, string, error) {
	var text []byte
	first := ""
	for n := 0; n < maxReplyLines; n++ {
		line, err := readReplyLine(br)
		if err != nil {
			return ftpCode(first), string(text), err
		}
		if len(line) < 3 {
			if first == "" {
				return 0, "", fmt.Errorf("short reply line")
			}
			continue
		}
		text = append(append(text, line...), '\n')
		if first == "" {
			first = string(line[:3])
			if !isDigits(line[:3]) {
				return 0, "", fmt.Errorf("reply without a code")
			}
			if len(line) == 3 || line[3] != '-' {
				return ftpCode(first), string(text), nil
			}
			continue
		}
		if string(line[:3]) == first && (len(line) == 3 || line[3] == ' ') {
			return ftpCode(first), string(text), nil
		}
	}
	return ftpCode(first), string(text), fmt.Errorf("%w: no last line within %d lines", errFTPReplyTooLong, maxReplyLines)
}

// readReplyLine reads a line of at most maxReplyLine bytes before its
// line end, and returns it without the line end.
func readReplyLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		b, err := br.ReadByte()
		if err != nil {
			return nil, err
		}
		if b == '\n' {
			line = bytes.TrimSuffix(line, []byte("\r"))
			if len(line) > maxReplyLine {
				break
			}
			return line, nil
		}
		if len(line) > maxReplyLine {
			break
		}
		line = append(line, b)
	}
	return nil, fmt.Errorf("%w: a line over %d bytes", errFTPReplyTooLong, maxReplyLine)
}

// ftpCode is a reply's code, 0 when there is none.
func ftpCode(s string) int {
	code, _ := strconv.Atoi(s)
	return code
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
