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
		switch v {
		case 0:
			migrateV0(doc)
		default:
			return nil, fmt.Errorf("no migration from schema %d to %d", v, v+1)
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
// decision's exempt kinds were one comma-separated string. It rewrites
// record by record what it recognises and leaves anything else to the
// typed decoding, which drops (and reports) an unreadable record on its
// own, as it does in a current file: one odd record must not cost the
// owner's other decisions and the quarantines.
func migrateV0(doc map[string]any) {
	for _, q := range records(doc, "quarantines") {
		if v, ok := q["expires"]; ok {
			q["until"] = v
			delete(q, "expires")
		}
		v, ok := q["owner"]
		delete(q, "owner")
		switch owner, isBool := v.(bool); {
		case !ok:
			if _, has := q["by"]; !has { // else the current shape already
				q["by"] = string(ActorPolicy)
			}
		case isBool && !owner:
			q["by"] = string(ActorPolicy)
		case owner:
			q["by"] = string(ActorOwner)
		}
		// An author that is not a boolean is left unset: adopt keeps the
		// quarantine as policy's, with a warning, rather than free the
		// device.
	}
	for _, d := range records(doc, "decisions") {
		// A list is the current shape already (a file half upgraded by
		// hand); another type is the typed decoding's to reject.
		if list, ok := d["exempt"].(string); ok {
			var kinds []any
			for k := range strings.SplitSeq(list, ",") {
				if k = strings.TrimSpace(k); k != "" {
					kinds = append(kinds, k)
				}
			}
			d["exempt"] = kinds
		}
	}
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
