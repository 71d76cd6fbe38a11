package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"sync"
	"time"
)

// Sessions live in memory only: a restart of the daemon asks the owner to
// log in again, and no session secret is ever written to the router's
// flash.
const (
	sessionIdle = 12 * time.Hour
	sessionMax  = 7 * 24 * time.Hour
	maxSessions = 64 // the least recently used goes first
	tokenBytes  = 32 // 256-bit session ids and CSRF tokens
)

type session struct {
	csrf     string
	epoch    string
	created  time.Time
	lastUsed time.Time
}

// sessions maps the SHA-256 of a session id to the session, so the
// comparison that finds a session never branches on the secret itself.
type sessions struct {
	now func() time.Time

	mu sync.Mutex
	m  map[[sha256.Size]byte]*session
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, m: map[[sha256.Size]byte]*session{}}
}

func randomToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// create opens a session in epoch and returns its id and CSRF token.
func (s *sessions) create(epoch string) (id, csrf string, err error) {
	if id, err = randomToken(); err != nil {
		return "", "", err
	}
	if csrf, err = randomToken(); err != nil {
		return "", "", err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	if len(s.m) >= maxSessions {
		s.dropLeastRecentLocked()
	}
	s.m[sha256.Sum256([]byte(id))] = &session{csrf: csrf, epoch: epoch, created: now, lastUsed: now}
	return id, csrf, nil
}

// lookup returns the live session with id in epoch and marks it used.
func (s *sessions) lookup(id, epoch string) (session, bool) { return s.find(id, epoch, true) }

// stands reports whether the session with id in epoch is live, without
// marking it used: a long-lived request checking its own session is no
// use by the owner.
func (s *sessions) stands(id, epoch string) bool {
	_, ok := s.find(id, epoch, false)
	return ok
}

func (s *sessions) find(id, epoch string, use bool) (session, bool) {
	if id == "" || len(id) > 128 {
		return session{}, false
	}
	key := sha256.Sum256([]byte(id))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.m[key]
	if !ok {
		return session{}, false
	}
	if expired(ss, now) || subtle.ConstantTimeCompare([]byte(ss.epoch), []byte(epoch)) != 1 {
		delete(s.m, key)
		return session{}, false
	}
	if use {
		ss.lastUsed = now
	}
	return *ss, true
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sha256.Sum256([]byte(id)))
}

func expired(ss *session, now time.Time) bool {
	return now.Sub(ss.lastUsed) > sessionIdle || now.Sub(ss.created) > sessionMax
}

func (s *sessions) expireLocked(now time.Time) {
	for k, ss := range s.m {
		if expired(ss, now) {
			delete(s.m, k)
		}
	}
}

func (s *sessions) dropLeastRecentLocked() {
	var oldest [sha256.Size]byte
	var t time.Time
	first := true
	for k, ss := range s.m {
		if first || ss.lastUsed.Before(t) {
			oldest, t, first = k, ss.lastUsed, false
		}
	}
	delete(s.m, oldest)
}

// csrfMatches compares a submitted token with the session's in constant
// time.
func csrfMatches(submitted, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(submitted), []byte(want)) == 1
}
