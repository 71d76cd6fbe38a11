package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/iotgw/iotgw/internal/statefile"
)

// AuthState is the part of the login that survives a restart.
type AuthState struct {
	// PasswordHash is the owner's password as an argon2id PHC string;
	// empty until the first-run setup is done.
	PasswordHash string `json:"password_hash,omitempty"`
	// SetupCodeHash is the SHA-256 (hex) of the normalised one-time
	// setup code; empty once the password is set.
	SetupCodeHash string `json:"setup_code_hash,omitempty"`
	// Epoch changes whenever the password is set or reset: sessions
	// opened in another epoch end.
	Epoch string `json:"epoch,omitempty"`
}

// AuthStore keeps the AuthState and the setup code the owner reads with
// `iotgw setup-code`. FileStore is the real one.
type AuthStore interface {
	LoadAuth() (AuthState, error)
	// SaveAuth stores st; setupCode, when not empty, is the clear code
	// to keep for `iotgw setup-code`, and when empty any kept code is
	// deleted.
	SaveAuth(st AuthState, setupCode string) error
}

// File names inside the state directory.
const (
	authFileName      = "web-auth.json"
	SetupCodeFileName = "setup-code"
)

// FileStore keeps the AuthState in web-auth.json and the clear setup code
// in setup-code, both mode 0600, in one directory (next to the daemon's
// state). Reads are cached until the file changes, so the server may ask
// on every request.
type FileStore struct {
	dir string

	mu     sync.Mutex
	cached AuthState
	info   fs.FileInfo // of the file cached; nil when there is none
}

// RemoveTemps removes what interrupted writes of the page's files in dir
// left behind (a copy of the key, of the setup code), and returns the
// names it removed. Call it at start, before the files are used.
func RemoveTemps(dir string) ([]string, error) {
	var removed []string
	var errs []error
	for _, name := range []string{authFileName, SetupCodeFileName, KeyFileName, CertFileName} {
		r, err := statefile.RemoveTemps(filepath.Join(dir, name))
		removed = append(removed, r...)
		errs = append(errs, err)
	}
	return removed, errors.Join(errs...)
}

// NewFileStore returns the store in dir.
func NewFileStore(dir string) *FileStore { return &FileStore{dir: dir} }

// LoadAuth implements AuthStore; a missing file is the empty state.
func (f *FileStore) LoadAuth() (AuthState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := filepath.Join(f.dir, authFileName)
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		f.info = nil
		return AuthState{}, nil
	}
	if err != nil {
		return AuthState{}, fmt.Errorf("web auth state: %w", err)
	}
	// Every write is a rename of a new file, so the inode tells writes
	// apart where the time (one-second resolution on some flash file
	// systems) and the size may not.
	if f.info != nil && os.SameFile(fi, f.info) && fi.ModTime().Equal(f.info.ModTime()) && fi.Size() == f.info.Size() {
		return f.cached, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return AuthState{}, fmt.Errorf("web auth state: %w", err)
	}
	var st AuthState
	if err := json.Unmarshal(data, &st); err != nil {
		return AuthState{}, fmt.Errorf("web auth state %s: %w", path, err)
	}
	f.cached, f.info = st, fi
	return st, nil
}

// SaveAuth implements AuthStore. The setup code is written before the
// state that names its hash, and deleted after the state that no longer
// does, so a crash never leaves a state whose code cannot be read.
func (f *FileStore) SaveAuth(st AuthState, setupCode string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return fmt.Errorf("web auth state: %w", err)
	}
	codePath := filepath.Join(f.dir, SetupCodeFileName)
	if setupCode != "" {
		if err := statefile.Write(codePath, []byte(setupCode+"\n")); err != nil {
			return fmt.Errorf("setup code: %w", err)
		}
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := statefile.Write(filepath.Join(f.dir, authFileName), data); err != nil {
		return fmt.Errorf("web auth state: %w", err)
	}
	f.info = nil
	if setupCode == "" {
		if err := os.Remove(codePath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("setup code: %w", err)
		}
	}
	return nil
}

// SetupCode returns the clear setup code kept for `iotgw setup-code`.
func (f *FileStore) SetupCode() (string, error) {
	data, err := os.ReadFile(filepath.Join(f.dir, SetupCodeFileName))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

// setupCodeChars is the length of a setup code: 12 base32 characters,
// 60 bits, shown in groups of four.
const setupCodeChars = 12

// newSetupCode returns a random code like "K7QD-M2XP-4HWA".
func newSetupCode() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("setup code: %w", err)
	}
	s := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)[:setupCodeChars]
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12], nil
}

// normaliseSetupCode drops spaces and dashes and upper-cases, so the
// owner may type the code as they like.
func normaliseSetupCode(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == ' ' || r == '-' || r == '\t':
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		default:
			b.WriteRune(r)
		}
		if b.Len() > 64 {
			break
		}
	}
	return b.String()
}

func hashSetupCode(code string) string {
	sum := sha256.Sum256([]byte(normaliseSetupCode(code)))
	return hex.EncodeToString(sum[:])
}

// setupCodeMatches compares a typed code with the stored hash in
// constant time.
func setupCodeMatches(typed, storedHash string) bool {
	if storedHash == "" {
		return false
	}
	got := hashSetupCode(typed)
	return subtle.ConstantTimeCompare([]byte(got), []byte(storedHash)) == 1
}

func newEpoch() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("epoch: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// EnsureSetupCode makes sure a first-run setup is possible: when no
// password is set and no setup code is pending, it creates a code. It
// returns whether a code is pending. The server calls it on start.
func EnsureSetupCode(store AuthStore) (pending bool, err error) {
	st, err := store.LoadAuth()
	if err != nil {
		return false, err
	}
	if st.PasswordHash != "" {
		return false, nil
	}
	if st.SetupCodeHash != "" {
		return true, nil
	}
	_, err = resetWithNewCode(store, st)
	return err == nil, err
}

// ResetSetupCode forgets the password (every session ends) and creates a
// new setup code, for an owner who lost the password. It returns the code.
func ResetSetupCode(store AuthStore) (string, error) {
	return resetWithNewCode(store, AuthState{})
}

func resetWithNewCode(store AuthStore, st AuthState) (string, error) {
	code, err := newSetupCode()
	if err != nil {
		return "", err
	}
	epoch, err := newEpoch()
	if err != nil {
		return "", err
	}
	st.PasswordHash = ""
	st.SetupCodeHash = hashSetupCode(code)
	st.Epoch = epoch
	if err := store.SaveAuth(st, code); err != nil {
		return "", err
	}
	return code, nil
}

// ReadSetupCode is `iotgw setup-code`: the pending code from the store in
// dir, creating one when no password is set and none is pending (or the
// kept code was lost). It fails when the password is already set.
func ReadSetupCode(dir string) (string, error) {
	fstore := NewFileStore(dir)
	st, err := fstore.LoadAuth()
	if err != nil {
		return "", err
	}
	if st.PasswordHash != "" {
		return "", errors.New("the web page is already set up (a password is set); to forget it and get a new setup code, use --reset")
	}
	if st.SetupCodeHash != "" {
		code, err := fstore.SetupCode()
		if err == nil && setupCodeMatches(code, st.SetupCodeHash) {
			return code, nil
		}
	}
	return resetWithNewCode(fstore, st)
}
