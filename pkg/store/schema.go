package store

import (
	"bytes"
	"encoding/json"
	"strings"
)

// migrateRecord rewrites one record of table, read from a file of
// schema from, into the current schema, one version at a time, on the
// record's generic JSON tree (numbers kept exact). A record that is not
// a JSON object is returned as it is, for the typed decoding to reject.
// Record by record, as the file is read: a whole file as one generic
// tree takes ~10 times its size in memory.
func migrateRecord(table string, rec json.RawMessage, from int) json.RawMessage {
	var steps []func(map[string]any)
	for v := from; v < SchemaVersion; v++ {
		if step := recordMigration(v, table); step != nil {
			steps = append(steps, step)
		}
	}
	if len(steps) == 0 {
		return rec
	}
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return rec
	}
	for _, step := range steps {
		step(m)
	}
	out, err := json.Marshal(m)
	if err != nil {
		return rec
	}
	return out
}

// recordMigration returns what upgrades a record of table from schema v
// to v+1; nil: such records did not change.
func recordMigration(v int, table string) func(map[string]any) {
	switch {
	case v == 0 && table == "quarantines":
		return migrateV0Quarantine
	case v == 0 && table == "decisions":
		return migrateV0Decision
	}
	return nil
}

// migrateV0Quarantine upgrades a quarantine of schema 0, the draft
// layout (no "schema" field): its end was "expires" and its author a
// boolean "owner". The V0 migrations rewrite what they recognise and
// leave anything else to the typed decoding, which drops (and reports)
// an unreadable record on its own, as it does in a current file: one
// odd record must not cost the owner's other decisions and the
// quarantines.
func migrateV0Quarantine(q map[string]any) {
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

// migrateV0Decision upgrades a decision of schema 0: its exempt kinds
// were one comma-separated string.
func migrateV0Decision(d map[string]any) {
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
