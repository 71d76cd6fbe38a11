package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// feedPackage is what `make package` takes from a package Makefile of
// the feed, so that the SDK build and this one describe the same
// package: names, dependencies, conffiles and the package's own
// maintainer scripts.
type feedPackage struct {
	Name        string
	Version     string // PKG_VERSION
	Release     string // PKG_RELEASE
	License     string
	Maintainer  string
	URL         string
	Section     string
	Title       string
	Depends     []string // runtime dependencies, without build conditions
	Description string
	Conffiles   []string
	Postinst    string // Package/NAME/postinst, run by OpenWrt's default_postinst
	Prerm       string // Package/NAME/prerm, run by OpenWrt's default_prerm
	// Installs are the destinations of the install recipe ($(1)/PATH), to
	// check the package's contents against.
	Installs []string
}

var (
	assignRe  = regexp.MustCompile(`^([A-Z_]+)\s*:?=\s*(.*)$`)
	installRe = regexp.MustCompile(`\$\(1\)(/[^\s]*)`)
)

// makefile is the subset of make the feed's Makefiles use: `VAR:=value`
// lines and `define … endef` blocks.
type makefile struct {
	vars    map[string]string
	defines map[string]string
}

func readMakefile(path string) (*makefile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("feed makefile: %w", err)
	}
	mk := &makefile{vars: map[string]string{}, defines: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	var block string
	var body []string
	inBlock := false
	for sc.Scan() {
		line := sc.Text()
		if inBlock {
			if strings.TrimSpace(line) == "endef" {
				mk.defines[block] = strings.Join(body, "\n")
				inBlock = false
				continue
			}
			body = append(body, line)
			continue
		}
		if name, ok := strings.CutPrefix(line, "define "); ok {
			block, body, inBlock = strings.TrimSpace(name), nil, true
			continue
		}
		if m := assignRe.FindStringSubmatch(line); m != nil {
			mk.vars[m[1]] = strings.TrimSpace(m[2])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("feed makefile %s: %w", path, err)
	}
	if inBlock {
		return nil, fmt.Errorf("feed makefile %s: define %s has no endef", path, block)
	}
	return mk, nil
}

// runtimeDepends keeps the +PACKAGE words of a DEPENDS value:
// $(GO_ARCH_DEPENDS) and @CONDITIONS only restrict where the SDK builds.
func runtimeDepends(s string) []string {
	var deps []string
	for _, d := range strings.Fields(s) {
		if dep, ok := strings.CutPrefix(d, "+"); ok {
			deps = append(deps, dep)
		}
	}
	return deps
}

// parseFeedMakefile reads a Go package's Makefile of the feed.
func parseFeedMakefile(path string) (*feedPackage, error) {
	mk, err := readMakefile(path)
	if err != nil {
		return nil, err
	}
	vars, defines := mk.vars, mk.defines
	p := &feedPackage{
		Name:       vars["PKG_NAME"],
		Version:    vars["PKG_VERSION"],
		Release:    vars["PKG_RELEASE"],
		License:    vars["PKG_LICENSE"],
		Maintainer: vars["PKG_MAINTAINER"],
		URL:        vars["PKG_URL"],
	}
	if p.Name == "" || p.Version == "" || p.Release == "" {
		return nil, fmt.Errorf("feed makefile %s: PKG_NAME, PKG_VERSION and PKG_RELEASE are required", path)
	}
	def, ok := defines["Package/"+p.Name]
	if !ok {
		return nil, fmt.Errorf("feed makefile %s: no define Package/%s", path, p.Name)
	}
	fields := map[string]string{}
	for _, l := range strings.Split(def, "\n") {
		if m := assignRe.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			fields[m[1]] = m[2]
		}
	}
	p.Section = fields["SECTION"]
	p.Title = fields["TITLE"]
	if u := fields["URL"]; u != "" && u != "$(PKG_URL)" {
		p.URL = u
	}
	p.Depends = runtimeDepends(fields["DEPENDS"])
	p.Description = strings.TrimSpace(defines["Package/"+p.Name+"/description"])
	for _, l := range strings.Split(defines["Package/"+p.Name+"/conffiles"], "\n") {
		if l = strings.TrimSpace(l); l != "" {
			p.Conffiles = append(p.Conffiles, l)
		}
	}
	// make turns $$ into $ when it writes the scripts.
	p.Postinst = unescapeMake(defines["Package/"+p.Name+"/postinst"])
	p.Prerm = unescapeMake(defines["Package/"+p.Name+"/prerm"])
	for _, m := range installRe.FindAllStringSubmatch(defines["Package/"+p.Name+"/install"], -1) {
		p.Installs = append(p.Installs, m[1])
	}
	return p, nil
}

func unescapeMake(s string) string {
	if s == "" {
		return ""
	}
	return strings.ReplaceAll(s, "$$", "$") + "\n"
}
