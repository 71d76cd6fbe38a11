package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// tomlFence opens a TOML example in Markdown, perhaps as an item of a
// numbered list ("2. ```toml"), whose lines are indented as far as the
// fence.
var tomlFence = regexp.MustCompile("^(\\s*(?:\\d+\\.\\s+)?)```toml\\s*$")

// markdownExamples are the TOML examples of a Markdown file, by the line
// of their fence.
func markdownExamples(t *testing.T, path string) map[int]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		m := tomlFence.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		start, indent := i+1, len(m[1])
		var b strings.Builder
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			line := lines[i]
			if len(line) >= indent && strings.TrimSpace(line[:indent]) == "" {
				line = line[indent:]
			}
			b.WriteString(line + "\n")
		}
		if i == len(lines) {
			t.Errorf("%s:%d: the TOML example is never closed", path, start)
		}
		out[start] = b.String()
	}
	return out
}

// commentedExample is the example the file shows in comments from the
// line "# first" on: the comment block as TOML.
func commentedExample(t *testing.T, data []byte, first string) string {
	t.Helper()
	_, rest, ok := strings.Cut(string(data), "\n# "+first+"\n")
	if !ok {
		t.Fatalf("no commented example starting %q", first)
	}
	b := strings.Builder{}
	b.WriteString(first + "\n")
	for line := range strings.Lines(rest) {
		text, ok := strings.CutPrefix(line, "# ")
		if !ok {
			break
		}
		b.WriteString(text)
	}
	return b.String()
}

// Every configuration the repository shows an owner loads as it is
// written: the example file with its commented alert channel in force,
// and each TOML example of the documentation.
func TestEveryExampleLoads(t *testing.T) {
	example, err := os.ReadFile("../../iotgw.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	// The file alone is TestExampleFileIsTheDefault's.
	examples := map[string]string{
		"iotgw.example.toml, its alert channel": string(example) + "\n" + commentedExample(t, example, "[[alert.channel]]"),
	}
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, "../../README.md")
	for _, doc := range docs {
		for line, text := range markdownExamples(t, doc) {
			examples[filepath.Base(doc)+":"+strconv.Itoa(line)] = text
		}
	}
	if len(examples) < 9 {
		t.Fatalf("only %d examples found: is the search for them broken?", len(examples))
	}
	for name, text := range examples {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(name, []byte(text)); err != nil {
				t.Errorf("does not load:\n%v", err)
			}
		})
	}
}
