package markup

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOnlyConstantsAreMarkup type-checks small programs against this
// package, as another package would use it: constants are accepted as
// markup, attribute names and URL prefixes; strings known only at run
// time are refused by the compiler. It fails if the parameter types are
// ever widened to string.
func TestOnlyConstantsAreMarkup(t *testing.T) {
	fset := token.NewFileSet()
	pkg := checkSelf(t, fset)
	imp := importerFunc(func(path string) (*types.Package, error) {
		if path == "example.com/markup" {
			return pkg, nil
		}
		return importer.Default().Import(path)
	})
	for _, tc := range []struct {
		name string
		body string
		ok   bool
	}{
		{"untyped_constant", `w.Raw("<p>")`, true},
		{"named_constant", `const c = "<p>"; w.Raw(c)`, true},
		{"constant_expression", `const c = "<p" + ">"; w.Raw(c + "</p>")`, true},
		{"constant_name_and_prefix", `w.Attr("class", s); w.URLAttr("href", "/devices/", s, "/x")`, true},
		{"variable", `w.Raw(s)`, false},
		{"typed_string_constant", `const c string = "<p>"; w.Raw(c)`, false},
		{"concatenation", `w.Raw("<p>" + s)`, false},
		{"conversion_from_string", `w.Raw(string(s))`, false},
		{"bytes", `w.Raw(string([]byte(s)))`, false},
		{"attribute_name", `w.Attr(s, "x")`, false},
		{"url_prefix", `w.URLAttr("href", s, "x", "")`, false},
		{"url_suffix", `w.URLAttr("href", "/devices/", "x", s)`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "package probe\nimport \"example.com/markup\"\nfunc f(w *markup.Writer, s string) {\n" + tc.body + "\n_ = s\n}\n"
			f, err := parser.ParseFile(fset, "probe.go", src, 0)
			if err != nil {
				t.Fatal(err)
			}
			conf := types.Config{Importer: imp}
			_, err = conf.Check("probe", fset, []*ast.File{f}, nil)
			if tc.ok && err != nil {
				t.Fatalf("%s: refused: %v", tc.body, err)
			}
			if !tc.ok && err == nil {
				t.Fatalf("%s: compiles, so run-time text could be written as markup", tc.body)
			}
			if !tc.ok && !strings.Contains(err.Error(), "markup.constant") {
				t.Fatalf("%s: refused for another reason: %v", tc.body, err)
			}
		})
	}
}

// checkSelf type-checks this package's non-test files.
func checkSelf(t *testing.T, fset *token.FileSet) *types.Package {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		src, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, n, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	conf := types.Config{Importer: importer.Default()}
	pkg, err := conf.Check("example.com/markup", fset, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	return pkg
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }
