// Package web is the owner's local web page: the device inventory, device
// pages with the scorecard and a picture of findings and traffic, the
// event log, the policy and alert settings, and the JSON API of pkg/api
// behind a login. It owns the login (first-run setup code, argon2id
// password hash, sessions, CSRF tokens, login rate limiting), the
// listeners (LAN addresses only, optional HTTPS with a self-signed
// certificate), the pages (written by Go code through internal/markup,
// which escapes everything that is not a constant) and the embedded
// assets; every state change goes through the same api.Backend the CLI
// uses.
//
// Bounds: at most maxSessions sessions (the oldest is dropped), at most
// maxLimited client addresses in the login rate limiter, one password hash
// computed at a time (argon2id takes about 19 MiB while it runs), request
// bodies of at most maxForm bytes, at most MaxConns connections per
// listener, MaxConnsPerSource per client address and half of MaxConns per
// device (by its MAC on the LAN, see Options.HolderOf), idle for at most
// idleTimeout once logged in and guestIdleTimeout otherwise, and at most
// writeStallTimeout waiting for a client to read a write.
package web
