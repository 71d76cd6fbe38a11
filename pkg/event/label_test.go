package event

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// declaredKinds are the Kind constants event.go declares, read from its
// source: a kind added without a label fails TestKindLabel.
func declaredKinds(t *testing.T) []Kind {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "event.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []Kind
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Kind" {
				continue
			}
			for _, v := range vs.Values {
				kinds = append(kinds, Kind(strings.Trim(v.(*ast.BasicLit).Value, `"`)))
			}
		}
	}
	if len(kinds) < 20 {
		t.Fatalf("read %d kinds from event.go, want every one", len(kinds))
	}
	return kinds
}

// TestKindLabel: every kind has words of its own for the owner, and no
// two kinds share them.
func TestKindLabel(t *testing.T) {
	seen := map[string]Kind{}
	for _, k := range declaredKinds(t) {
		l := KindLabel(k)
		if l == string(k) || strings.Contains(l, "_") {
			t.Errorf("%s has no label (%q)", k, l)
		}
		if other, dup := seen[l]; dup {
			t.Errorf("%s and %s share the label %q", k, other, l)
		}
		seen[l] = k
	}
	if got := KindLabel("no_such_kind"); got != "no_such_kind" {
		t.Errorf("an unknown kind reads %q, want its code", got)
	}
}

// TestEvidenceLabel: the evidence keys of findings (docs/events.md) are
// labelled; an unknown key reads as itself.
func TestEvidenceLabel(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"password_hash", "Password fingerprint (not the password)"},
		{"password_class", "Kind of password"},
		{"accepted", "Login accepted"},
		{"data_kind", "Kind of data"},
		{"software_source", "Version seen in"},
		{EvidenceDistributionBuild, "Built by a Linux distribution"},
		// ssh-rsa is RSA signed over SHA-1: the key's type is not the
		// weakness, rsa-sha2-256 signs with the same key (RFC 8332).
		{"host_key", "Server's signature (host key)"},
		{"no_such_key", "no_such_key"},
	} {
		if got := EvidenceLabel(tc.key); got != tc.want {
			t.Errorf("EvidenceLabel(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
	for _, k := range []string{"protocol", "mechanism", "user", "password", "any_password", "verified", "default_vendor", "default_source",
		"sample", "field", "where", "direction", "destination", "server_name", "port", "scope", "tls_version", "cipher", "reason", "sni",
		"url", "ports", "distinct_targets", "window", "product", "version", "advisory", "cve", "fixed", "exploited", "end_of_life", "feed",
		EvidenceDistribution, "transport"} {
		if l := EvidenceLabel(k); l == k || strings.Contains(l, "_") {
			t.Errorf("evidence key %s has no label (%q)", k, l)
		}
	}
}

// documentedFindingKeys are the evidence keys docs/events.md names for
// findings: the first column of its table of credential evidence, and
// the keys of its table of other findings' evidence (the backquoted
// words outside parentheses, which hold their values).
func documentedFindingKeys(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	section := func(heading string) []string {
		_, rest, ok := strings.Cut(string(doc), "\n"+heading+"\n")
		if !ok {
			t.Fatalf("docs/events.md has no %q", heading)
		}
		var rows []string
		for _, line := range strings.Split(rest, "\n") {
			if strings.HasPrefix(line, "#") {
				break
			}
			if strings.HasPrefix(line, "| `") {
				rows = append(rows, line)
			}
		}
		return rows
	}
	var keys []string
	for _, row := range section("### Evidence of credential findings") {
		keys = append(keys, strings.Trim(strings.Fields(row)[1], "`"))
	}
	for _, row := range section("### Evidence of other findings") {
		depth, quoted := 0, false
		var word, before strings.Builder
		for _, r := range strings.Split(row, "|")[2] {
			switch {
			case r == '(' && !quoted:
				depth++
			case r == ')' && !quoted:
				depth--
			case r == '`' && depth == 0:
				// "the event's `count`" is a field of the event.
				if quoted && !strings.HasSuffix(before.String(), "event's ") {
					keys = append(keys, word.String())
				}
				quoted = !quoted
				word.Reset()
			case quoted:
				word.WriteRune(r)
			case depth == 0:
				before.WriteRune(r)
			}
		}
	}
	if len(keys) < 30 {
		t.Fatalf("read %d evidence keys of findings from docs/events.md, want every one: %q", len(keys), keys)
	}
	return keys
}

// TestEvidenceLabelsDocumentedKeys: every evidence key docs/events.md
// names for a finding reads in words on the device page.
func TestEvidenceLabelsDocumentedKeys(t *testing.T) {
	for _, k := range documentedFindingKeys(t) {
		if l := EvidenceLabel(k); l == k || strings.Contains(l, "_") {
			t.Errorf("evidence key %s has no label (%q)", k, l)
		}
	}
}
