package creds

import (
	"bytes"
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/iotgw/iotgw/pkg/inspect"
)

//go:embed defaults.tsv
var defaultsTSV string

//go:embed common-passwords.txt
var commonTXT string

const (
	defaultsFile = "defaults.tsv"
	commonFile   = "common-passwords.txt"

	// MaxVerify is the most Verify calls one challenge-response login may
	// cost: default entries first, then the user name, then common
	// passwords, until the budget is spent.
	MaxVerify = 64

	// MinLength is the length in bytes below which a password is weak.
	MinLength = 8

	maxUser     = 64  // longest user name in the data; longer users never match
	maxPassword = 128 // longest default password in the data
	maxCommon   = 64  // longest common password in the data

	none = "(none)" // stands for an empty field in the data files
)

// proto is a set of protocol scopes.
type proto uint8

const (
	pTelnet proto = 1 << iota
	pSSH
	pFTP
	pHTTP
	pRTSP
	pSNMP
	pMQTT
	pAny

	// pDevice is the group of protocols that reach a device's system
	// accounts: a default for one of them is a default for all of them.
	pDevice = pTelnet | pSSH | pFTP | pHTTP | pRTSP
)

// protoOf returns the scope bit of a protocol name, 0 when the protocol
// has no scope of its own (pop3, imap, vnc …). "any" is not a protocol.
func protoOf(name string) proto {
	switch {
	case strings.EqualFold(name, "telnet"):
		return pTelnet
	case strings.EqualFold(name, "ssh"):
		return pSSH
	case strings.EqualFold(name, "ftp"):
		return pFTP
	case strings.EqualFold(name, "http"), strings.EqualFold(name, "https"):
		return pHTTP
	case strings.EqualFold(name, "rtsp"):
		return pRTSP
	case strings.EqualFold(name, "snmp"):
		return pSNMP
	case strings.EqualFold(name, "mqtt"):
		return pMQTT
	}
	return 0
}

// tier says how well an entry's scope fits the login's protocol: 0 the
// protocol is named, 1 through the device group, 2 through "any"; -1 the
// entry does not apply. SNMP communities and SNMP entries only meet each
// other.
func tier(scope, p proto) int {
	switch {
	case p == pSNMP:
		if scope&pSNMP != 0 {
			return 0
		}
		return -1
	case p != 0 && scope&p != 0:
		return 0
	case scope&pDevice != 0:
		return 1
	case scope&pAny != 0:
		return 2
	}
	return -1
}

// tier is tier(e.scope, p) for this entry. A password-only entry (no
// user) is not reached through the device group: the group stands for a
// device's system accounts, and a bare password names none, so a
// phone's web password "123456" says nothing about a VNC or POP3 login
// with that password, which the weak tests judge instead.
func (e *entry) tier(p proto) int {
	t := tier(e.scope, p)
	if t == 1 && e.user == "" {
		if e.scope&pAny != 0 {
			return 2
		}
		return -1
	}
	return t
}

// entry is one line of defaults.tsv.
type entry struct {
	scope    proto
	vendor   string
	user     string // as written; the index key is its lower case
	password string
	pw       []byte // password, for Verify paths; never handed out
	source   string
	line     int
	// seenOnly: matched in traffic but never offered to the audit (the
	// scope's "seen-only"): a pair of one model, such as an account
	// whose password names the model, would spend an audit's few
	// attempts before the vendor's and the botnets' common pairs.
	seenOnly bool
}

// Candidate is a default pair for an active audit.
type Candidate struct {
	User, Password, Vendor, Source string
}

// Classifier implements inspect.Classifier with the embedded lists. It is
// immutable after New and safe for concurrent use.
type Classifier struct {
	entries    []entry
	byUser     map[string][]int32 // lower(user) → indexes into entries, file order
	common     map[string]struct{}
	commonList []string // file order, for Verify
}

var _ inspect.Classifier = (*Classifier)(nil)

// New parses the embedded data files.
func New() (*Classifier, error) {
	return build(defaultsTSV, commonTXT)
}

func build(defaults, common string) (*Classifier, error) {
	entries, err := parseDefaults(defaultsFile, defaults)
	if err != nil {
		return nil, err
	}
	list, err := parseCommon(commonFile, common)
	if err != nil {
		return nil, err
	}
	c := &Classifier{
		entries:    entries,
		byUser:     make(map[string][]int32),
		common:     make(map[string]struct{}, len(list)),
		commonList: list,
	}
	for i := range entries {
		k := strings.ToLower(entries[i].user)
		c.byUser[k] = append(c.byUser[k], int32(i))
	}
	for _, p := range list {
		c.common[strings.ToLower(p)] = struct{}{}
	}
	return c, nil
}

// Classify implements inspect.Classifier. It reads l's bytes and keeps
// none of them; the cleartext path does not allocate.
func (c *Classifier) Classify(l *inspect.Login) (inspect.PasswordClass, inspect.DefaultMatch) {
	if l == nil {
		return "", inspect.DefaultMatch{}
	}
	switch l.Kind {
	case inspect.SecretPassword:
		return c.classifyClear(l.User, l.Secret, protoOf(l.Protocol))
	case inspect.SecretCommunity:
		// A community has no user: whatever the analyzer put there is
		// not part of the secret.
		return c.classifyClear(nil, l.Secret, pSNMP)
	case inspect.SecretHashed:
		return c.classifyHashed(l)
	}
	return "", inspect.DefaultMatch{} // tokens and unknown kinds: no opinion
}

func (c *Classifier) classifyClear(user, secret []byte, p proto) (inspect.PasswordClass, inspect.DefaultMatch) {
	if m, ok := c.matchDefault(user, secret, p); ok {
		return inspect.ClassDefault, m
	}
	if len(secret) == 0 {
		return "", inspect.DefaultMatch{} // the engine's "empty" says it better
	}
	if c.weak(user, secret) {
		return inspect.ClassWeak, inspect.DefaultMatch{}
	}
	return "", inspect.DefaultMatch{}
}

// matchDefault looks (user, secret) up in the default list for protocol
// p. The entries with the closest scope (see tier) decide the vendor: when
// they all name the same one, it is reported; when they disagree, the pair
// is generic and the closest generic entry, or else the first closest one,
// names the source. Ties go to file order.
func (c *Classifier) matchDefault(user, secret []byte, p proto) (inspect.DefaultMatch, bool) {
	var buf [maxUser]byte
	key, ok := foldASCII(buf[:], user)
	if !ok {
		return inspect.DefaultMatch{}, false
	}
	idx := c.byUser[string(key)]
	best, gen := -1, -1
	bestT, genT := 3, 3
	for _, i := range idx {
		e := &c.entries[i]
		if e.password != string(secret) {
			continue
		}
		t := e.tier(p)
		if t < 0 {
			continue
		}
		if t < bestT {
			best, bestT = int(i), t
		}
		if e.vendor == "" && t < genT {
			gen, genT = int(i), t
		}
	}
	if best < 0 {
		return inspect.DefaultMatch{}, false
	}
	vendor := c.entries[best].vendor
	for _, i := range idx {
		e := &c.entries[i]
		if e.vendor != vendor && e.password == string(secret) && e.tier(p) == bestT {
			if gen >= 0 {
				best = gen
			}
			return inspect.DefaultMatch{Source: c.entries[best].source}, true
		}
	}
	return inspect.DefaultMatch{Vendor: vendor, Source: c.entries[best].source}, true
}

// weak reports whether a non-default, non-empty secret is weak.
func (c *Classifier) weak(user, secret []byte) bool {
	if len(secret) < MinLength {
		return true
	}
	if len(user) > 0 && (bytes.EqualFold(secret, user) || reversedFold(secret, user)) {
		return true
	}
	return repeats(secret) || digitRun(secret) || c.isCommon(secret)
}

// IsCommon reports whether secret is on the common-password list,
// compared without regard to ASCII case.
func (c *Classifier) IsCommon(secret []byte) bool { return c.isCommon(secret) }

func (c *Classifier) isCommon(secret []byte) bool {
	var buf [maxCommon]byte
	return c.isCommonIn(&buf, secret)
}

// isCommonIn looks secret up through buf, its lower-case copy, which it
// wipes before returning: the password must not outlive the call on the
// stack.
func (c *Classifier) isCommonIn(buf *[maxCommon]byte, secret []byte) bool {
	key, ok := foldASCII(buf[:], secret)
	if !ok {
		return false
	}
	_, ok = c.common[string(key)]
	clear(key)
	return ok
}

// classifyHashed tests candidates against a challenge response with
// l.Verify: the default entries for the user, then the user name itself
// and reversed, then the common passwords, at most MaxVerify calls in all.
func (c *Classifier) classifyHashed(l *inspect.Login) (inspect.PasswordClass, inspect.DefaultMatch) {
	if l.Verify == nil {
		return "", inspect.DefaultMatch{}
	}
	p := protoOf(l.Protocol)
	// Verify gets a copy it may scribble on, never the tables; the copy
	// is wiped before returning since it may hold the password.
	buf := make([]byte, 0, maxPassword)
	defer func() { clear(buf[:cap(buf)]) }()
	calls := 0
	verify := func(cand []byte) bool {
		calls++
		buf = append(buf[:0], cand...)
		return l.Verify(buf)
	}

	var kbuf [maxUser]byte
	if key, ok := foldASCII(kbuf[:], l.User); ok {
		idx := c.byUser[string(key)]
		for n, i := range idx {
			e := &c.entries[i]
			if e.tier(p) < 0 || c.triedBefore(idx[:n], e.password, p) {
				continue
			}
			if calls >= MaxVerify {
				return "", inspect.DefaultMatch{}
			}
			if verify(e.pw) {
				m, _ := c.matchDefault(l.User, e.pw, p)
				return inspect.ClassDefault, m
			}
		}
	}

	try := func(cand []byte) bool {
		if _, isDefault := c.matchDefault(l.User, cand, p); isDefault {
			return false // tried above
		}
		return verify(cand)
	}
	if len(l.User) > 0 {
		if calls < MaxVerify && try(l.User) {
			return inspect.ClassWeak, inspect.DefaultMatch{}
		}
		rev := make([]byte, len(l.User))
		for i, b := range l.User {
			rev[len(rev)-1-i] = b
		}
		if !bytes.Equal(rev, l.User) && calls < MaxVerify && try(rev) {
			return inspect.ClassWeak, inspect.DefaultMatch{}
		}
	}
	for _, w := range c.commonList {
		if calls >= MaxVerify {
			break
		}
		if bytes.Equal([]byte(w), l.User) {
			continue
		}
		if try([]byte(w)) {
			return inspect.ClassWeak, inspect.DefaultMatch{}
		}
	}
	return "", inspect.DefaultMatch{}
}

// triedBefore reports whether an earlier applicable entry of the same
// user has the same password.
func (c *Classifier) triedBefore(earlier []int32, password string, p proto) bool {
	for _, j := range earlier {
		e := &c.entries[j]
		if e.password == password && e.tier(p) >= 0 {
			return true
		}
	}
	return false
}

// Candidates returns the default pairs worth trying against a device's
// protocol, deduplicated by (user, password): the vendor's own entries
// first, then the generic ones; within each, entries scoped to the
// protocol come before those reached through the device group or "any",
// and file order (most common first) breaks ties. An empty vendor returns
// the generic entries first, then every vendor's.
func (c *Classifier) Candidates(protocol, vendor string) []Candidate {
	p := protoOf(protocol)
	type ranked struct{ rank, i int }
	var rs []ranked
	for i := range c.entries {
		e := &c.entries[i]
		t := e.tier(p)
		if t < 0 || e.seenOnly {
			continue
		}
		var group int
		switch {
		case vendor != "" && strings.EqualFold(e.vendor, vendor):
			group = 0
		case e.vendor == "":
			group = 1
			if vendor == "" {
				group = 0
			}
		case vendor == "":
			group = 1
		default:
			continue // another vendor's default
		}
		rs = append(rs, ranked{group*3 + t, i})
	}
	sort.SliceStable(rs, func(a, b int) bool { return rs[a].rank < rs[b].rank })
	type pair struct{ user, password string }
	seen := make(map[pair]bool, len(rs))
	out := make([]Candidate, 0, len(rs))
	for _, r := range rs {
		e := &c.entries[r.i]
		k := pair{strings.ToLower(e.user), e.password}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, Candidate{User: e.user, Password: e.password, Vendor: e.vendor, Source: e.source})
	}
	return out
}

// foldASCII writes the ASCII lower case of s into buf and returns it;
// ok is false when s does not fit.
func foldASCII(buf, s []byte) ([]byte, bool) {
	if len(s) > len(buf) {
		return nil, false
	}
	for i, b := range s {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		buf[i] = b
	}
	return buf[:len(s)], true
}

func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// reversedFold reports whether secret is user spelled backwards, ignoring
// ASCII case.
func reversedFold(secret, user []byte) bool {
	if len(secret) != len(user) {
		return false
	}
	for i := range secret {
		if lowerASCII(secret[i]) != lowerASCII(user[len(user)-1-i]) {
			return false
		}
	}
	return true
}

// repeats reports whether s is one short unit (1 to 4 bytes) repeated:
// "aaaaaaaa", "abababab", "12341234".
func repeats(s []byte) bool {
	for unit := 1; unit <= 4 && unit < len(s); unit++ {
		if len(s)%unit != 0 {
			continue
		}
		ok := true
		for i := unit; i < len(s); i++ {
			if s[i] != s[i-unit] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// digitRun reports whether s is a run of consecutive digits, up or down,
// wrapping from 9 to 0: "12345678", "1234567890", "98765432".
func digitRun(s []byte) bool {
	if len(s) < 2 {
		return false
	}
	for _, b := range s {
		if b < '0' || b > '9' {
			return false
		}
	}
	step := (int(s[1]) - int(s[0]) + 10) % 10
	if step != 1 && step != 9 {
		return false
	}
	for i := 2; i < len(s); i++ {
		if (int(s[i])-int(s[i-1])+10)%10 != step {
			return false
		}
	}
	return true
}

// parseDefaults reads defaults.tsv. Errors name the file and line.
func parseDefaults(name, data string) ([]entry, error) {
	var out []entry
	type key struct{ vendor, user, password string }
	seen := make(map[key]int)
	for n, line := range strings.Split(data, "\n") {
		ln := n + 1
		if line == "" || line[0] == '#' {
			continue
		}
		errf := func(format string, args ...any) error {
			return fmt.Errorf("creds: %s:%d: %s", name, ln, fmt.Sprintf(format, args...))
		}
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			return nil, errf("want 5 tab-separated fields, got %d", len(f))
		}
		for i, v := range f {
			if err := checkField(v); err != "" {
				return nil, errf("field %d: %s", i+1, err)
			}
		}
		scope, seenOnly, err := parseScope(f[0])
		if err != "" {
			return nil, errf("scope: %s", err)
		}
		e := entry{scope: scope, vendor: unnone(f[1]), user: unnone(f[2]), password: unnone(f[3]), source: f[4], line: ln, seenOnly: seenOnly}
		if e.source == none {
			return nil, errf("no source")
		}
		if len(e.user) > maxUser {
			return nil, errf("user longer than %d bytes", maxUser)
		}
		for i := 0; i < len(e.user); i++ {
			if e.user[i] >= utf8.RuneSelf {
				return nil, errf("user is not ASCII")
			}
		}
		if len(e.password) > maxPassword {
			return nil, errf("password longer than %d bytes", maxPassword)
		}
		k := key{strings.ToLower(e.vendor), strings.ToLower(e.user), e.password}
		if prev, dup := seen[k]; dup {
			return nil, errf("duplicate of line %d (list every protocol in one scope)", prev)
		}
		seen[k] = ln
		e.pw = []byte(e.password)
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("creds: %s: no entries", name)
	}
	return out, nil
}

// checkField returns what is wrong with a field, or "".
func checkField(v string) string {
	switch {
	case v == "":
		return "empty (write " + none + ")"
	case !utf8.ValidString(v):
		return "not UTF-8"
	case strings.TrimSpace(v) != v:
		return "leading or trailing space"
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return fmt.Sprintf("control character %q", r)
		}
	}
	return ""
}

func unnone(v string) string {
	if v == none {
		return ""
	}
	return v
}

func parseScope(v string) (s proto, seenOnly bool, err string) {
	for _, name := range strings.Split(v, ",") {
		if name == "seen-only" {
			if seenOnly {
				return 0, false, fmt.Sprintf("%q listed twice", name)
			}
			seenOnly = true
			continue
		}
		var bit proto
		if name == "any" {
			bit = pAny
		} else {
			bit = protoOf(name)
			if bit == 0 || name != strings.ToLower(name) || name == "https" {
				return 0, false, fmt.Sprintf("unknown protocol %q", name)
			}
		}
		if s&bit != 0 {
			return 0, false, fmt.Sprintf("%q listed twice", name)
		}
		s |= bit
	}
	if s == 0 {
		return 0, false, "no protocol"
	}
	return s, seenOnly, ""
}

// parseCommon reads common-passwords.txt. Errors name the file and line.
func parseCommon(name, data string) ([]string, error) {
	var out []string
	seen := make(map[string]int)
	for n, line := range strings.Split(data, "\n") {
		ln := n + 1
		if line == "" || line[0] == '#' {
			continue
		}
		errf := func(msg string) error { return fmt.Errorf("creds: %s:%d: %s", name, ln, msg) }
		if strings.TrimSpace(line) != line {
			return nil, errf("leading or trailing space")
		}
		if len(line) > maxCommon {
			return nil, errf(fmt.Sprintf("longer than %d bytes", maxCommon))
		}
		for i := 0; i < len(line); i++ {
			if line[i] < 0x21 || line[i] > 0x7e {
				return nil, errf("not printable ASCII")
			}
		}
		if prev, dup := seen[line]; dup {
			return nil, errf(fmt.Sprintf("duplicate of line %d", prev))
		}
		seen[line] = ln
		out = append(out, line)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("creds: %s: no entries", name)
	}
	return out, nil
}
