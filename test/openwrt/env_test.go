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
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	tr := tar.NewReader(zr)
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

// requireRoot skips a test that needs root for namespaces and chroot; as
// root (CI) a missing tool is a failure.
func requireRoot(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces, nftables and chroot")
	}
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
