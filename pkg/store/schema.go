package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// migrate rewrites a file of schema from into the current schema, one
// version at a time, on the generic JSON tree (numbers kept exact).
func migrate(data []byte, from int) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("schema %d state: %w", from, err)
	}
	for v := from; v < SchemaVersion; v++ {
		var err error
		switch v {
		case 0:
			err = migrateV0(doc)
		default:
			err = fmt.Errorf("no migration from schema %d", v)
		}
		if err != nil {
			return nil, fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
		}
	}
	doc["schema"] = SchemaVersion
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("migrate schema %d: %w", from, err)
	}
	return out, nil
}

// migrateV0 upgrades schema 0, the draft layout (no "schema" field): a
// quarantine's end was "expires" and its author a boolean "owner"; a
// decision's exempt kinds were one comma-separated string.
func migrateV0(doc map[string]any) error {
	for _, q := range records(doc, "quarantines") {
		if v, ok := q["expires"]; ok {
			q["until"] = v
			delete(q, "expires")
		}
		by := ActorPolicy
		if v, ok := q["owner"]; ok {
			owner, isBool := v.(bool)
			if !isBool {
				return fmt.Errorf("quarantine of %v: owner is %T, want a boolean", q["mac"], v)
			}
			if owner {
				by = ActorOwner
			}
			delete(q, "owner")
		}
		q["by"] = string(by)
	}
	for _, d := range records(doc, "decisions") {
		v, ok := d["exempt"]
		if !ok {
			continue
		}
		list, isString := v.(string)
		if !isString {
			return fmt.Errorf("decision about %v: exempt is %T, want a string", d["mac"], v)
		}
		var kinds []any
		for k := range strings.SplitSeq(list, ",") {
			if k = strings.TrimSpace(k); k != "" {
				kinds = append(kinds, k)
			}
		}
		d["exempt"] = kinds
	}
	return nil
}

// records returns the objects in doc[key]; entries that are not objects
// are left for the typed decoding to reject.
func records(doc map[string]any, key string) []map[string]any {
	list, _ := doc[key].([]any)
	var out []map[string]any
	for _, r := range list {
		if m, ok := r.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}
