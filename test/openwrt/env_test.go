package openwrt

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/internal/testenv"
)

// runPackager runs the package builder (`make package`) for arch into dir.
// Extra arguments go to the builder.
func runPackager(repo, dir, arch string, extra ...string) error {
	cmd := exec.Command("go", append([]string{"run", "./scripts/package", "-arch", arch, "-out", dir}, extra...)...)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("scripts/package: %v\n%s", err, out)
	}
	return nil
}

// built is the x86_64 build, made once for all tests of the package.
var built struct {
	once sync.Once
	dir  string
	err  error
}

// packagesDir builds the x86_64 and LuCI packages once per test binary
// and returns the directory holding them.
func packagesDir(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "iotgw-openwrt-test-")
		if built.err != nil {
			return
		}
		built.err = runPackager(testenv.RepoRoot(t), built.dir, "x86_64")
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// findPackage is the path of the one package file matching pattern.
func findPackage(t testing.TB, dir, pattern string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(m) != 1 {
		t.Fatalf("want one %s in %s, found %v (%v)", pattern, dir, m, err)
	}
	return m[0]
}

// member is one entry of a tar archive.
type member struct {
	Header *tar.Header
	Data   []byte
}

// readTarGz reads every entry of a gzip'd tar, in archive order.
func readTarGz(t testing.TB, data []byte) []member {
	t.Helper()
	return readTar(t, gunzip(t, data))
}

// ipkg is an unpacked .ipk.
type ipkg struct {
	Outer   []member
	DataTar []byte // uncompressed
	Data    map[string]member
	Control map[string]member
	Fields  map[string]string
	Order   []string // control field names in order
}

func openIPK(t testing.TB, path string) *ipkg {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := &ipkg{Outer: readTarGz(t, raw), Data: map[string]member{}, Control: map[string]member{}, Fields: map[string]string{}}
	byName := map[string][]byte{}
	for _, m := range p.Outer {
		byName[m.Header.Name] = m.Data
	}
	for _, m := range readTarGz(t, byName["./data.tar.gz"]) {
		p.Data[m.Header.Name] = m
	}
	zr, err := gzip.NewReader(bytes.NewReader(byName["./data.tar.gz"]))
	if err != nil {
		t.Fatal(err)
	}
	if p.DataTar, err = io.ReadAll(zr); err != nil {
		t.Fatal(err)
	}
	for _, m := range readTarGz(t, byName["./control.tar.gz"]) {
		p.Control[m.Header.Name] = m
	}
	var key string
	for _, line := range strings.Split(strings.TrimRight(string(p.Control["./control"].Data), "\n"), "\n") {
		if strings.HasPrefix(line, " ") {
			p.Fields[key] += "\n" + line[1:]
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("control line %q: want \"Key: value\"", line)
		}
		key = k
		p.Fields[k] = v
		p.Order = append(p.Order, k)
	}
	return p
}

// apkg is an unpacked .apk (Alpine's v2 format): its gzip members as
// they are in the file, the control section's entries in order, the
// data's by name, and .PKGINFO's fields (depend repeats).
type apkg struct {
	Members    [][]byte // compressed
	ControlTar []byte   // member 1, uncompressed
	Control    []member
	DataTar    []byte // the last member, uncompressed
	Data       map[string]member
	Info       map[string][]string
}

func openAPK(t testing.TB, path string) *apkg {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := &apkg{Members: gzipMembers(t, raw), Data: map[string]member{}, Info: map[string][]string{}}
	if len(p.Members) < 2 {
		t.Fatalf("%s: %d gzip members, want the control section and the data", path, len(p.Members))
	}
	p.ControlTar = gunzip(t, p.Members[0])
	p.DataTar = gunzip(t, p.Members[len(p.Members)-1])
	p.Control = readTar(t, p.ControlTar)
	for _, m := range readTar(t, p.DataTar) {
		p.Data[m.Header.Name] = m
	}
	if len(p.Control) == 0 || p.Control[0].Header.Name != ".PKGINFO" {
		t.Fatalf("%s: the control section does not start with .PKGINFO", path)
	}
	for _, line := range strings.Split(strings.TrimRight(string(p.Control[0].Data), "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, " = ")
		if !ok {
			t.Fatalf(".PKGINFO line %q: want \"key = value\"", line)
		}
		p.Info[k] = append(p.Info[k], v)
	}
	return p
}

// controlEntry is the control section's entry name, or nil.
func (p *apkg) controlEntry(name string) *member {
	for i := range p.Control {
		if p.Control[i].Header.Name == name {
			return &p.Control[i]
		}
	}
	return nil
}

// gzipMembers splits concatenated gzip members, as apk reads them, each
// as its compressed bytes.
func gzipMembers(t testing.TB, raw []byte) [][]byte {
	t.Helper()
	// A bytes.Reader is an io.ByteReader: gzip reads no byte past the
	// member it decompresses.
	r := bytes.NewReader(raw)
	var members [][]byte
	for r.Len() > 0 {
		start := len(raw) - r.Len()
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("gzip member at byte %d: %v", start, err)
		}
		zr.Multistream(false)
		if _, err := io.Copy(io.Discard, zr); err != nil {
			t.Fatalf("gzip member at byte %d: %v", start, err)
		}
		members = append(members, raw[start:len(raw)-r.Len()])
	}
	return members
}

func gunzip(t testing.TB, member []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(member))
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	return b
}

// readTar reads every entry of a tar, in order; one without its
// end-of-archive blocks too.
func readTar(t testing.TB, data []byte) []member {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var ms []member
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return ms
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("tar %s: %v", h.Name, err)
		}
		ms = append(ms, member{h, b})
	}
}

// requireRoot skips a test that needs root for namespaces and chroot (in
// CI it fails); as root a missing tool is a failure.
func requireRoot(t *testing.T, tools ...string) {
	t.Helper()
	testenv.RequireRoot(t, "needs root for network namespaces, nftables and chroot")
	for _, tool := range append([]string{"ip", "nft"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (scripts/deps.sh test installs it): %v", tool, err)
		}
	}
}

// nft runs nft in ns with script on stdin.
func nft(t *testing.T, ns, script string) {
	t.Helper()
	cmd := netnstest.Command(ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v\n%s\nscript:\n%s", err, out, script)
	}
}
