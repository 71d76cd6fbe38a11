package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// entry is one file, directory or symlink of a package, by its absolute
// path on the router.
type entry struct {
	Path   string
	Mode   int64 // permission bits
	Dir    bool
	Data   []byte
	Target string // symlink target
}

// ipk is an OpenWrt package as opkg reads it and as OpenWrt's
// ipkg-build writes it: a gzip'd tar of ./debian-binary,
// ./data.tar.gz and ./control.tar.gz (in that order), each inner tar
// GNU format, sorted, numeric owner 0, one fixed mtime, gzip without a
// name or time, so that the same input gives the same bytes.
type ipk struct {
	Control []controlField
	Files   []entry // data: the files on the router
	Scripts []entry // control: conffiles, postinst, prerm …
	MTime   time.Time
}

// controlField is one "Key: value" line of the control file, in order.
type controlField struct{ Key, Value string }

// build writes the package. Installed-Size is filled in with the size of
// the uncompressed data tar, as ipkg-build does (opkg reads bytes).
func (p *ipk) build(w io.Writer) error {
	dataTar, err := p.tarball(p.Files)
	if err != nil {
		return fmt.Errorf("data.tar: %w", err)
	}
	control := p.controlFile(len(dataTar))
	scripts := append([]entry{{Path: "/control", Mode: 0o644, Data: control}}, p.Scripts...)
	controlTar, err := p.tarball(scripts)
	if err != nil {
		return fmt.Errorf("control.tar: %w", err)
	}
	data, err := gzipBytes(dataTar)
	if err != nil {
		return err
	}
	ctrl, err := gzipBytes(controlTar)
	if err != nil {
		return err
	}
	var outer bytes.Buffer
	tw := tar.NewWriter(&outer)
	for _, f := range []struct {
		name string
		data []byte
	}{{"./debian-binary", []byte("2.0\n")}, {"./data.tar.gz", data}, {"./control.tar.gz", ctrl}} {
		e := entry{Path: f.name, Mode: 0o644, Data: f.data}
		if err := writeEntry(tw, entryHeader(e, f.name, p.MTime, tar.FormatGNU), e); err != nil {
			return fmt.Errorf("ipk: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("ipk: %w", err)
	}
	out, err := gzipBytes(outer.Bytes())
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

func (p *ipk) controlFile(installedSize int) []byte {
	var b strings.Builder
	for _, f := range p.Control {
		v := f.Value
		if f.Key == "Installed-Size" {
			v = fmt.Sprint(installedSize)
		}
		fmt.Fprintf(&b, "%s: %s\n", f.Key, v)
	}
	return []byte(b.String())
}

// tarball writes entries below "./", sorted by name, with every missing
// parent directory added (mode 0755).
func (p *ipk) tarball(entries []entry) ([]byte, error) {
	all, err := tree(entries)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range all {
		if err := writeEntry(tw, entryHeader(e, tarName(e.Path), p.MTime, tar.FormatGNU), e); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tree is entries with the root and every missing parent directory
// added (mode 0755), sorted by path, so that a directory comes before
// what it holds.
func tree(entries []entry) ([]entry, error) {
	all := map[string]entry{"/": {Path: "/", Dir: true, Mode: 0o755}}
	for _, e := range entries {
		if !path.IsAbs(e.Path) || path.Clean(e.Path) != e.Path || e.Path == "/" {
			return nil, fmt.Errorf("path %q: want an absolute clean path below /", e.Path)
		}
		if _, dup := all[e.Path]; dup {
			return nil, fmt.Errorf("path %q: listed twice", e.Path)
		}
		all[e.Path] = e
	}
	for _, e := range entries {
		for dir := path.Dir(e.Path); dir != "/"; dir = path.Dir(dir) {
			if _, ok := all[dir]; !ok {
				all[dir] = entry{Path: dir, Dir: true, Mode: 0o755}
			}
		}
	}
	sorted := make([]entry, 0, len(all))
	for _, e := range all {
		if e.Path != "/" && !all[path.Dir(e.Path)].Dir {
			return nil, fmt.Errorf("path %q: parent is not a directory", e.Path)
		}
		sorted = append(sorted, e)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	return sorted, nil
}

// entryHeader is e's tar header under name: owner 0:0 by number, the
// package's one mtime.
func entryHeader(e entry, name string, mtime time.Time, format tar.Format) *tar.Header {
	h := &tar.Header{
		Name:     name,
		Typeflag: tar.TypeReg,
		Mode:     e.Mode,
		Size:     int64(len(e.Data)),
		ModTime:  mtime,
		Format:   format,
	}
	switch {
	case e.Dir:
		h.Typeflag, h.Size = tar.TypeDir, 0
		if !strings.HasSuffix(h.Name, "/") {
			h.Name += "/"
		}
	case e.Target != "":
		h.Typeflag, h.Mode, h.Size, h.Linkname = tar.TypeSymlink, 0o777, 0, e.Target
	}
	return h
}

// writeEntry writes h and, for a regular file, e's data.
func writeEntry(tw *tar.Writer, h *tar.Header, e entry) error {
	err := tw.WriteHeader(h)
	if err == nil && h.Typeflag == tar.TypeReg {
		_, err = tw.Write(e.Data)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", e.Path, err)
	}
	return nil
}

// tarName is the member name: "./" for the root, "./etc/" for a
// directory, "./etc/x" for a file.
func tarName(p string) string {
	if p == "/" {
		return "./"
	}
	return "." + p
}

// gzipBytes compresses b with no name and no time in the header.
func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return buf.Bytes(), nil
}
