package config

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
)

// lineIndex maps dotted keys to the line that sets them. BurntSushi/toml
// reports lines for syntax errors but not for keys it decoded, so unknown
// keys and bad values are located by this light scan of the file. It
// understands the subset owners write: [table], [[array]] and key = value.
type lineIndex struct {
	exact map[string]int // "policy.device[1].mac" → line
	loose map[string]int // "policy.device.mac" → first line
}

func keyLines(data []byte) lineIndex {
	idx := lineIndex{exact: map[string]int{}, loose: map[string]int{}}
	arrays := map[string]int{}
	table, looseTable := "", ""
	// TOML allows a byte order mark, which some Windows editors write;
	// left, it would hide the first line's table or key.
	sc := bufio.NewScanner(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#':
			continue
		case strings.HasPrefix(line, "[["):
			name := headerName(line[2:])
			i := arrays[name]
			arrays[name]++
			table, looseTable = fmt.Sprintf("%s[%d]", name, i), name
			idx.set(table, looseTable, n)
		case line[0] == '[':
			name := headerName(line[1:])
			table, looseTable = name, name
			idx.set(table, looseTable, n)
		default:
			eq := strings.IndexByte(line, '=')
			if eq <= 0 {
				continue
			}
			key := cleanKey(line[:eq])
			idx.set(join(table, key), join(looseTable, key), n)
		}
	}
	return idx
}

func (x lineIndex) set(exact, loose string, n int) {
	if _, ok := x.exact[exact]; !ok {
		x.exact[exact] = n
	}
	if _, ok := x.loose[loose]; !ok {
		x.loose[loose] = n
	}
}

// headerName is the table named by a header line after its opening
// bracket(s): up to the first closing bracket outside quotes, so that a
// comment after the header ("[store] # on flash") is no part of it.
func headerName(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote == '"' && c == '\\':
			i++ // an escaped character, perhaps a quote
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == ']':
			return cleanKey(s[:i])
		}
	}
	return cleanKey(s)
}

func cleanKey(s string) string {
	parts := strings.Split(strings.TrimSpace(s), ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}

func join(table, key string) string {
	if table == "" {
		return key
	}
	return table + "." + key
}

// find locates a key reported by toml.MetaData.Undecoded.
func (x lineIndex) find(k toml.Key) int {
	for i := len(k); i > 0; i-- {
		if n, ok := x.loose[strings.Join(k[:i], ".")]; ok {
			return n
		}
	}
	return 0
}

// findString locates a key written as validate names it, falling back to
// its enclosing table.
func (x lineIndex) findString(key string) int {
	for key != "" {
		if n, ok := x.exact[key]; ok {
			return n
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}
