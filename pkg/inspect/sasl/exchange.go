package sasl

import (
	"crypto/md5"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// Exchange follows one SASL authentication on a flow: the analyzer starts
// it on AUTH/AUTHENTICATE, hands it the server's challenges and the
// client's responses, and ends it when the server's verdict arrives.
// The zero value is an idle exchange.
type Exchange struct {
	mech      Mechanism
	active    bool
	done      bool // the credentials are complete; later responses are ignored
	responses uint8

	user    [MaxUser]byte
	userLen int
	// challenge is the last server challenge, decoded, for CRAM-MD5.
	challenge    [MaxChallenge]byte
	challengeLen int
	digest       [md5.Size]byte
}

// Start begins an exchange for the named mechanism, ending any previous
// one. Unknown mechanisms are followed (Active, Challenge, Handle and End
// work) but nothing is read from them.
func (x *Exchange) Start(name []byte) {
	*x = Exchange{mech: ParseMechanism(name), active: true}
}

// Active reports whether an exchange has started and the server has not
// given its verdict: client lines are SASL responses, not commands.
func (x *Exchange) Active() bool { return x.active }

// Mechanism is the mechanism of the current or last exchange.
func (x *Exchange) Mechanism() Mechanism { return x.mech }

// End marks the exchange finished: the server gave its verdict, or the
// stream lost its place.
func (x *Exchange) End() {
	x.active = false
	x.wipe()
}

// wipe zeroes what the exchange keeps between steps: a CRAM-MD5 digest
// with its challenge is enough to test passwords offline.
func (x *Exchange) wipe() {
	clear(x.user[:])
	clear(x.challenge[:])
	clear(x.digest[:])
	x.userLen, x.challengeLen = 0, 0
}

// Challenge records a server challenge, the base64 text after "+ " or
// "334 ". Only CRAM-MD5 needs it; an undecodable or oversized challenge
// leaves that exchange unverifiable.
func (x *Exchange) Challenge(b64 []byte, s *Scratch) {
	if !x.active || x.mech != CRAMMD5 {
		return
	}
	x.challengeLen = 0
	msg, ok := Decode(s[:], b64)
	if ok && len(msg) <= len(x.challenge) {
		x.challengeLen = copy(x.challenge[:], msg)
	}
	clear(msg) // the scratch outlives the flow
}

// respond handles one client response: a line of base64, "*" to cancel
// (RFC 4422 section 5), or "=" for an empty initial response (RFC 4954).
// When the response completes the credentials it returns a Login for
// Classify, with Mechanism set to the mechanism's name; the Login borrows
// x and s and is valid until the next call on either. When it returns no
// Login, nothing of resp is left in s; a Login it returns stays in s and
// x, so analyzers call Handle, which wipes it once it is classified.
func (x *Exchange) respond(resp []byte, s *Scratch) (inspect.Login, bool) {
	if !x.active || x.done {
		return inspect.Login{}, false
	}
	if len(resp) == 1 && resp[0] == '*' {
		x.End()
		return inspect.Login{}, false
	}
	if x.mech == Unknown {
		return inspect.Login{}, false // followed, not read
	}
	if x.responses == 0 && len(resp) == 1 && resp[0] == '=' {
		// An empty initial response carries no credentials; servers
		// (Dovecot) answer it with an empty challenge, and the client
		// sends them in its reply. Counted, it would make a LOGIN user
		// of nothing and the user the password.
		return inspect.Login{}, false
	}
	x.responses++
	var msg []byte
	if !(len(resp) == 1 && resp[0] == '=') {
		var ok bool
		if msg, ok = Decode(s[:], resp); !ok {
			// A garbled response: the rest of the exchange means nothing.
			x.done = true
			x.wipe()
			return inspect.Login{}, false
		}
	}
	l, ok := x.read(msg)
	if !ok {
		// Nothing to classify, so nothing need stay: a malformed message
		// may still hold a password (the LOGIN user is copied to x.user).
		clear(msg)
		if x.done {
			x.wipe()
		}
	}
	return l, ok
}

// Handle is respond for an analyzer: a Login the response completes goes
// to keep, which must classify it before it returns (as
// inspect.PendingLogin.Keep does). Then the response is wiped from s and
// from x, which reads no more of this exchange: the scratch lives as long
// as the process, and the verdict does not need the secret.
//
// keep takes the Login by value so that a response that completes none
// costs no allocation.
func (x *Exchange) Handle(resp []byte, s *Scratch, keep func(inspect.Login)) {
	l, ok := x.respond(resp, s)
	if !ok {
		return // respond left nothing behind
	}
	// Deferred, so that a panic in keep (which the engine survives) does
	// not leave the secret in the long-lived scratch.
	defer func() {
		clear(s[:])
		x.wipe()
	}()
	keep(l)
}

// read reads a decoded response, msg, into a Login.
func (x *Exchange) read(msg []byte) (inspect.Login, bool) {
	l := inspect.Login{Mechanism: x.mech.Name()}
	switch x.mech {
	case Plain:
		x.done = true
		user, pw, ok := ParsePlain(msg)
		if !ok {
			return inspect.Login{}, false
		}
		l.User, l.Secret = user, pw
		return l, true
	case Login:
		if x.responses == 1 {
			x.userLen = copy(x.user[:], msg)
			if len(msg) > len(x.user) {
				x.done = true // a user this long is not one
			}
			return inspect.Login{}, false
		}
		x.done = true
		l.User, l.Secret = x.user[:x.userLen], msg
		return l, true
	case CRAMMD5:
		x.done = true
		user, ok := ParseCRAMMD5(msg, &x.digest)
		if !ok {
			return inspect.Login{}, false
		}
		l.User, l.Kind = user, inspect.SecretHashed
		if x.challengeLen > 0 {
			challenge, digest := x.challenge[:x.challengeLen], x.digest[:]
			l.Verify = func(candidate []byte) bool { return VerifyCRAMMD5(challenge, digest, candidate) }
		}
		return l, true
	case XOAuth2, OAuthBearer:
		x.done = true
		parse := ParseXOAuth2
		if x.mech == OAuthBearer {
			parse = ParseOAuthBearer
		}
		user, token, ok := parse(msg)
		if !ok {
			return inspect.Login{}, false
		}
		l.User, l.Secret, l.Kind = user, token, inspect.SecretToken
		return l, true
	}
	return inspect.Login{}, false
}
