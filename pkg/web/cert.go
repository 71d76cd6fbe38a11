package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/iotgw/iotgw/internal/statefile"
	"github.com/iotgw/iotgw/internal/wallclock"
)

// Certificate files inside the state directory.
const (
	CertFileName = "web-cert.pem"
	KeyFileName  = "web-key.pem"

	certLifetime = 10 * 365 * 24 * time.Hour
)

// LoadOrCreateCertificate returns the self-signed certificate kept in
// dir, creating it (ECDSA P-256, 10 years, SANs: addrs and names) on
// first start or when it no longer covers addrs and names. A clock not
// set yet (wallclock.Set: a boot before NTP) can tell neither that the
// kept certificate has expired nor how long a new one must last: the
// kept one stays, and a new one is valid from before now until 10 years
// after wallclock.Floor, so that it still is once NTP sets the clock. A
// set clock that reads before the kept certificate was made is behind
// (OpenWrt boots at its build date or its newest file under /etc): the
// certificate stays too.
func LoadOrCreateCertificate(dir string, addrs []netip.Addr, names []string, now time.Time) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, CertFileName), filepath.Join(dir, KeyFileName)
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	switch {
	case err == nil:
		if covers(cert.Leaf, addrs, names, now) {
			return cert, nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return tls.Certificate{}, fmt.Errorf("web certificate: %w", err)
	}
	return createCertificate(certPath, keyPath, addrs, names, now)
}

// covers reports whether leaf has not expired now, by a clock that is
// set, and names every address and name. Its start is not checked: it
// was made by this code, so a clock before it is one not yet right, and
// a new certificate would change the fingerprint the owner accepted.
func covers(leaf *x509.Certificate, addrs []netip.Addr, names []string, now time.Time) bool {
	if leaf == nil || wallclock.Set(now) && now.After(leaf.NotAfter) {
		return false
	}
	for _, a := range addrs {
		if !slices.ContainsFunc(leaf.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.IP(a.AsSlice())) }) {
			return false
		}
	}
	for _, n := range names {
		if !slices.Contains(leaf.DNSNames, n) {
			return false
		}
	}
	return true
}

func createCertificate(certPath, keyPath string, addrs []netip.Addr, names []string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("web certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("web certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "iotgw", Organization: []string{"iotgw on this router"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              later(now, wallclock.Floor()).Add(certLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              slices.Compact(slices.Sorted(slices.Values(names))),
	}
	for _, a := range addrs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("web certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("web certificate key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(certPath), 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("web certificate: %w", err)
	}
	// The key first: a certificate on disk always has its key.
	if err := statefile.Write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})); err != nil {
		return tls.Certificate{}, fmt.Errorf("web certificate key: %w", err)
	}
	if err := statefile.Write(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
		return tls.Certificate{}, fmt.Errorf("web certificate: %w", err)
	}
	return tls.LoadX509KeyPair(certPath, keyPath)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// CertificateFingerprint is the SHA-256 fingerprint of the certificate
// kept in dir, as browsers show it: upper-case hex bytes joined by colons.
func CertificateFingerprint(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, CertFileName))
	if err != nil {
		return "", fmt.Errorf("web certificate: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", fmt.Errorf("web certificate %s: no PEM certificate", filepath.Join(dir, CertFileName))
	}
	sum := sha256.Sum256(block.Bytes)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String(), nil
}
