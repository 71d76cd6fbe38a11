package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/iotgw/iotgw/internal/statefile"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// SchemaVersion is the "schema" field of the file this package writes.
// Bump it when a field is renamed, changes type or meaning, and add a
// migration from the previous version; adding a field does not bump it.
const SchemaVersion = 1

// document is the file: the state plus its envelope. Records are shared
// pointers to the store's immutable records.
//
// The order of the members is the order in the file, and matters: the
// schema first, read before the rest; then what must never be lost, the
// quarantines, the owner's decisions and muted alert channels, written
// even when empty so that a reader knows it has them all; the bulk,
// devices with their findings, last. A file cut short or damaged in its bulk (a torn write, the read
// limit) still holds them whole (decode keeps what precedes the damage).
type document struct {
	Schema       int             `json:"schema"`
	Written      time.Time       `json:"written,omitzero"`
	NextOutboxID uint64          `json:"next_outbox_id,omitempty"`
	Quarantines  []*Quarantine   `json:"quarantines"`
	Decisions    []*Decision     `json:"decisions"`
	MutedAlerts  []string        `json:"muted_alert_channels"`
	AlertHolds   json.RawMessage `json:"alert_holds,omitempty"`
	Outbox       []*OutboxItem   `json:"outbox,omitempty"`
	Verdicts     []*Verdict      `json:"verdicts,omitempty"`
	Devices      []*DeviceRecord `json:"devices,omitempty"`

	// unreadable lists, by table, the records decode dropped.
	unreadable []unreadable
	// The quarantines, the decisions, the muted alert channels were read
	// to the end of their list (a damaged file's may have been cut
	// short); mutedListed: the file has a list of muted channels.
	quarantinesRead, decisionsRead, mutedRead, mutedListed bool
}

// unreadable is what decode dropped of one table: records it could not
// parse (a value a newer build added, a field of the wrong type), or the
// whole table as one when it is not a list.
type unreadable struct {
	table   string
	records int
	first   error // why the first one was dropped
	kept    int   // of which kept in a safe form (quarantines by MAC)
}

// Files beside the state file.
const (
	corruptInfix     = ".corrupt-" // <name>.corrupt-<timestamp>: a damaged file's copy
	newerInfix       = ".newer-"   // <name>.newer-<timestamp>: a newer build's file, kept after a downgrade
	maxCorruptCopies = 3           // older copies (by mtime) are deleted to spare flash, per infix
	maxReasonInLog   = 200
)

// What a file holds besides the tables the size cap can shorten: the
// envelope (schema, written, next_outbox_id, the tables' names) and the
// muted alert channels at their caps, each name escaped at worst.
const (
	envelopeJSON = 256
	maxMutedJSON = MaxMutedAlertChannels * (6*maxChannelNameLen + 3)
)

// readLimit bounds what Open reads into memory: maxBytes, plus what a
// write puts over it at most, all quarantines and decisions at their
// encoded bounds, since those are written even when they alone exceed
// the cap. Every file the store writes is within it (encode).
func readLimit(maxBytes, maxDevices int) int64 {
	return int64(maxBytes) + int64(maxDevices)*(maxQuarantineJSON+maxDecisionJSON+2) + envelopeJSON + maxMutedJSON + MaxAlertHolds
}

// errTruncated: the file ends inside the document (a torn write).
var errTruncated = errors.New("unexpected end of JSON input")

// decode reads a state file of any supported schema; a device keeps its
// maxFindings newest findings. It returns the schema the file had. A
// file that is not one JSON object, or of an invalid schema, is an
// error; of a newer schema than this version writes, only the records
// ownerRecordsOnly keeps are read; within it, each table and each record is decoded on
// its own, so that one record this version cannot parse costs that
// record, not the owner's decisions and the quarantines beside it
// (doc.unreadable lists what was dropped).
//
// Tables are read from the file as a stream, record by record, and a
// device's findings one by one, keeping only the newest: memory holds
// the file, the records kept and one record being read, however many
// findings a damaged or hostile file lists.
//
// A file damaged after its schema (cut short, bad JSON, bytes after the
// document) is an error with a document all the same: the records read
// whole before the damage. Nil: nothing could be read.
func decode(data []byte, maxFindings int) (*document, int, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, 0, errors.New("empty file")
	}
	if trimmed[0] != '{' {
		return nil, 0, errors.New("not a JSON object")
	}
	from, err := schemaOf(data)
	if err != nil {
		return nil, from, err
	}
	switch {
	case from < 0:
		return nil, from, fmt.Errorf("invalid schema %d", from)
	case from > SchemaVersion:
		// A newer build's file, found after a downgrade: read as this
		// version reads its own, keeping only what fails safe if misread.
		doc := &document{Schema: SchemaVersion}
		err := doc.decodeTables(json.NewDecoder(bytes.NewReader(data)), SchemaVersion, maxFindings)
		doc.ownerRecordsOnly()
		return doc, from, err
	}
	// An older file's records are migrated one by one as they are read.
	doc := &document{Schema: SchemaVersion}
	return doc, from, doc.decodeTables(json.NewDecoder(bytes.NewReader(data)), from, maxFindings)
}

// schemaOf reads the file's "schema" field: from the first member, where
// the store writes it, without parsing the rest; else (an older or
// hand-edited file) from a parse of the whole document. Absent is 0.
func schemaOf(data []byte) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err == nil && tok == json.Delim('{') {
		if key, err := dec.Token(); err == nil && key == "schema" {
			var v int
			if err := dec.Decode(&v); err != nil {
				return 0, fmt.Errorf("not a valid schema: %w", syntaxOr(err))
			}
			return v, nil
		}
	}
	var head struct {
		Schema *int `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return 0, fmt.Errorf("not a valid JSON document: %w", err)
	}
	if head.Schema == nil {
		return 0, nil
	}
	return *head.Schema, nil
}

// syntaxOr names a stream that ended inside a value as encoding/json's
// Unmarshal does.
func syntaxOr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errTruncated
	}
	return err
}

// decodeTables reads the top-level object of a file of schema from
// (at most the current one) from dec, migrating records of an older
// schema as it goes. An error is the file's (not JSON, truncated,
// trailing bytes), and doc holds what was read before it; a record's own
// is noted in doc.unreadable.
func (doc *document) decodeTables(dec *json.Decoder, from, maxFindings int) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("not a valid JSON document: %w", syntaxOr(err))
		}
		key, _ := tok.(string)
		// encoding/json matches names without regard to case; so does this.
		key = strings.ToLower(key)
		if doc.decisionsRead && !doc.mutedListed && (key == "alert_holds" || key == "verdicts" || key == "devices") {
			// Earlier builds left the muted channels out when there were
			// none. Those that wrote the decisions first wrote the muted
			// channels right after them, so one of these members after
			// the decisions says there were none. The outbox does not:
			// builds before, devices first, wrote the muted channels
			// after it.
			doc.mutedRead = true
		}
		switch key {
		case "next_outbox_id":
			// The outbox's next id is also found from the items' ids
			// (adoptOutbox).
			var raw json.RawMessage
			if err = dec.Decode(&raw); err == nil {
				if uerr := json.Unmarshal(raw, &doc.NextOutboxID); uerr != nil {
					doc.note("next_outbox_id", uerr, false)
				}
			}
		case "devices":
			doc.Devices, err = decodeList(dec, doc, "devices", func(dec *json.Decoder) (*DeviceRecord, bool, error) {
				return doc.decodeDevice(dec, maxFindings)
			})
		case "verdicts":
			doc.Verdicts, err = decodeList(dec, doc, "verdicts", rawItem(decodeRecord[*Verdict]))
		case "quarantines":
			doc.Quarantines, err = decodeList(dec, doc, "quarantines", rawItem(migrated("quarantines", from, decodeQuarantine)))
			doc.quarantinesRead = err == nil
		case "decisions":
			doc.Decisions, err = decodeList(dec, doc, "decisions", rawItem(migrated("decisions", from, decodeRecord[*Decision])))
			doc.decisionsRead = err == nil
		case "outbox":
			doc.Outbox, err = decodeList(dec, doc, "outbox", rawItem(decodeRecord[*OutboxItem]))
		case "muted_alert_channels":
			doc.MutedAlerts, err = decodeList(dec, doc, "muted_alert_channels", rawItem(decodeRecord[string]))
			doc.mutedListed, doc.mutedRead = true, err == nil
		case "alert_holds":
			var raw json.RawMessage
			if err = dec.Decode(&raw); err == nil {
				if len(raw) > MaxAlertHolds {
					doc.note("alert_holds", fmt.Errorf("%d bytes, at most %d", len(raw), MaxAlertHolds), false)
				} else {
					doc.AlertHolds = raw
				}
			}
		default: // "schema" (read already), "written", fields a newer build added
			err = skipValue(dec)
		}
		if err != nil {
			return fmt.Errorf("not a valid JSON document: %w", syntaxOr(err))
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	// One document and nothing else but white space: a second one, or
	// zeros after it, is a torn or foreign write.
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("invalid character after top-level value")
		}
		return fmt.Errorf("not a valid JSON document: %w", err)
	}
	return nil
}

// ownerRecordsOnly keeps of a newer build's file what a downgrade must
// not lose and what this version cannot misread into harm, where the
// newer schema renamed or redefined a field: the quarantines (one it
// cannot parse stays a block by its MAC, a mode it cannot read a
// block), the owner's decisions and muted channels, and the devices
// without their findings, so that they are not announced as new again.
// Findings, verdicts and queued alerts, which a misread field could turn
// into a quarantine or an alert, are left out; the devices show their
// findings again.
func (doc *document) ownerRecordsOnly() {
	for _, d := range doc.Devices {
		if d != nil {
			d.Findings, d.DroppedFindings = nil, 0
		}
	}
	doc.Verdicts, doc.Outbox, doc.NextOutboxID, doc.AlertHolds = nil, nil, 0, nil
	doc.unreadable = slices.DeleteFunc(doc.unreadable, func(u unreadable) bool {
		switch u.table {
		case "findings", "verdicts", "outbox", "next_outbox_id", "alert_holds":
			return true
		}
		return false
	})
}

// note counts one record of table that did not decode; kept: it is kept
// in a safe form all the same.
func (doc *document) note(table string, err error, kept bool) {
	i := slices.IndexFunc(doc.unreadable, func(u unreadable) bool { return u.table == table })
	if i < 0 {
		doc.unreadable = append(doc.unreadable, unreadable{table: table, first: err})
		i = len(doc.unreadable) - 1
	}
	u := &doc.unreadable[i]
	u.records++
	if kept {
		u.kept++
	}
}

// expectDelim reads one token from dec, which must be d.
func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("not a valid JSON document: %w", syntaxOr(err))
	}
	if tok != d {
		return fmt.Errorf("not a valid JSON document: %v where %v was expected", tok, d)
	}
	return nil
}

// skipValue reads past the next value in dec, token by token: a large
// value costs its largest string, not its size.
func skipValue(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	return skipRest(dec, tok)
}

// skipRest reads past the rest of a value whose first token, tok, was
// read already.
func skipRest(dec *json.Decoder, tok json.Token) error {
	depth := 0
	for {
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
		var err error
		if tok, err = dec.Token(); err != nil {
			return err
		}
	}
}

// decodeList reads the JSON list at dec record by record with item,
// which says whether to keep a record and why it did not decode. A table
// that is not a list is left out whole, as one unreadable record. The
// error is the stream's (bad JSON, truncated), returned with the records
// read whole before it; a record's own goes to doc.note.
func decodeList[T any](dec *json.Decoder, doc *document, table string, item func(*json.Decoder) (T, bool, error)) ([]T, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		if tok != nil { // null is an empty table
			doc.note(table, errors.New("not a list"), false)
		}
		return nil, skipRest(dec, tok)
	}
	var out []T
	for dec.More() {
		rec, keep, err := item(dec)
		var se streamError
		if errors.As(err, &se) {
			return out, se.err
		}
		if err != nil {
			doc.note(table, err, keep)
		}
		if keep {
			out = append(out, rec)
		}
	}
	if _, err = dec.Token(); err != nil { // ]
		return out, err
	}
	return out, nil
}

// isStreamError: Decoder.Decode failed to read a value (bad JSON, the
// end of the input), not to convert one; decoding cannot go on.
func isStreamError(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// streamError is an error of the stream, not of one record: decoding
// stops.
type streamError struct{ err error }

func (e streamError) Error() string { return e.err.Error() }

// rawItem reads one whole record from the stream and decodes it with
// decodeRaw.
func rawItem[T any](decodeRaw func(json.RawMessage) (T, bool, error)) func(*json.Decoder) (T, bool, error) {
	return func(dec *json.Decoder) (T, bool, error) {
		var b json.RawMessage
		if err := dec.Decode(&b); err != nil {
			var zero T
			return zero, false, streamError{err}
		}
		return decodeRaw(b)
	}
}

// migrated has decodeRaw decode a record of table migrated from schema
// from.
func migrated[T any](table string, from int, decodeRaw func(json.RawMessage) (T, bool, error)) func(json.RawMessage) (T, bool, error) {
	return func(b json.RawMessage) (T, bool, error) { return decodeRaw(migrateRecord(table, b, from)) }
}

// decodeRecord decodes one record as it is; a null record decodes as a
// nil pointer, which adopt drops and counts.
func decodeRecord[T any](b json.RawMessage) (T, bool, error) {
	var rec T
	err := json.Unmarshal(b, &rec)
	return rec, err == nil, err
}

// decodeDevice reads one device from the stream, finding by finding: a
// finding this version cannot parse (a severity or kind a newer build
// added) costs that finding, counted in DroppedFindings, not the
// device's identity and audit hold; and of its findings only the
// maxFindings newest are kept, the others counted in DroppedFindings as
// PutDevice would count them.
func (doc *document) decodeDevice(dec *json.Decoder, maxFindings int) (*DeviceRecord, bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, false, streamError{err}
	}
	if tok == nil {
		return nil, true, nil
	}
	if tok != json.Delim('{') {
		if err := skipRest(dec, tok); err != nil {
			return nil, false, streamError{err}
		}
		return nil, false, fmt.Errorf("a device record is an object, not %v", tok)
	}
	// The other fields are put back together and decoded as one object,
	// so that a field added to DeviceRecord needs nothing here.
	var (
		rest     = []byte{'{'}
		findings = newest{n: maxFindings}
		notList  bool
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false, streamError{err}
		}
		key, _ := tok.(string)
		if strings.EqualFold(key, "findings") {
			if notList, err = findings.read(dec); err != nil {
				return nil, false, streamError{err}
			}
			continue
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false, streamError{err}
		}
		if len(rest) > 1 {
			rest = append(rest, ',')
		}
		k, _ := json.Marshal(key) // a string always encodes
		rest = append(append(append(rest, k...), ':'), v...)
	}
	if _, err := dec.Token(); err != nil { // }
		return nil, false, streamError{err}
	}
	var rec DeviceRecord
	if err := json.Unmarshal(append(rest, '}'), &rec); err != nil {
		return nil, false, err
	}
	if notList {
		return nil, false, errors.New("findings: not a list")
	}
	for range findings.unreadable {
		doc.note("findings", findings.firstErr, false)
	}
	rec.Findings = findings.kept
	rec.DroppedFindings += findings.unreadable + findings.dropped
	return &rec, true, nil
}

// newest keeps the n newest findings read (by findingTime; of equal
// times, the later in the list), in their order in the list, as
// newestFindings would of them all.
type newest struct {
	n          int
	kept       []event.Event
	dropped    int // older than the n kept
	unreadable int
	firstErr   error
}

// read reads a list of findings from dec; notList: the value was not
// one (and was skipped). The error is the stream's.
func (k *newest) read(dec *json.Decoder) (notList bool, err error) {
	tok, err := dec.Token()
	if err != nil {
		return false, err
	}
	if tok != json.Delim('[') {
		return tok != nil, skipRest(dec, tok)
	}
	for dec.More() {
		var ev event.Event
		if err := dec.Decode(&ev); err != nil {
			if isStreamError(err) {
				return false, err
			}
			if k.unreadable == 0 {
				k.firstErr = err
			}
			k.unreadable++
			continue
		}
		k.add(ev)
	}
	_, err = dec.Token() // ]
	return false, err
}

func (k *newest) add(ev event.Event) {
	if len(k.kept) < k.n {
		k.kept = append(k.kept, ev)
		return
	}
	k.dropped++
	oldest := 0
	for i := range k.kept {
		if findingTime(&k.kept[i]).Before(findingTime(&k.kept[oldest])) {
			oldest = i
		}
	}
	if findingTime(&ev).Before(findingTime(&k.kept[oldest])) {
		return // ev is the oldest
	}
	k.kept = append(slices.Delete(k.kept, oldest, oldest+1), ev)
}

// decodeQuarantine keeps a quarantine record that does not decode as a
// quarantine of its MAC, with no end: after a reboot the kernel holds
// nothing, and dropping the record would free a device that was cut off
// for a reason. adopt makes it a block by policy, as it does a record
// that lacks its mode and author.
func decodeQuarantine(b json.RawMessage) (*Quarantine, bool, error) {
	q, ok, err := decodeRecord[*Quarantine](b)
	if ok {
		return q, true, nil
	}
	var id struct {
		MAC hwaddr.MAC `json:"mac"`
	}
	if json.Unmarshal(b, &id) != nil || id.MAC.IsZero() {
		return nil, false, err
	}
	return &Quarantine{MAC: id.MAC}, true, err
}

// trimReport says what the size cap left out of one file.
type trimReport struct {
	findings, devices, verdicts, outbox int
	overCap                             bool
}

// encode marshals doc within maxBytes, leaving out the oldest findings
// first, then whole devices (least recently seen, without quarantine or
// decision) with their verdicts, then the oldest alerts, then the
// verdicts and devices left (those of quarantined or decided devices).
// Quarantines and decisions are never left out: if they alone exceed the
// cap the file is written anyway, and then holds nothing else but the
// muted alert channels, within readLimit. doc's slices are replaced,
// never its records.
func encode(doc *document, maxBytes int) ([]byte, trimReport, error) {
	var t trimReport
	if doc.MutedAlerts == nil {
		doc.MutedAlerts = []string{} // [], not null: a reader knows it has them all
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, t, fmt.Errorf("encode state: %w", err)
	}
	if len(b) <= maxBytes {
		return b, t, nil
	}
	if b, t.findings, err = trimFindings(doc, b, maxBytes); err != nil {
		return nil, t, err
	}
	if b, t.devices, err = trimDevices(doc, b, maxBytes); err != nil {
		return nil, t, err
	}
	if b, t.outbox, err = trimOutbox(doc, b, maxBytes); err != nil {
		return nil, t, err
	}
	if b, t.verdicts, err = trimVerdicts(doc, b, maxBytes); err != nil {
		return nil, t, err
	}
	var kept int
	if b, kept, err = trimKeptDevices(doc, b, maxBytes); err != nil {
		return nil, t, err
	}
	t.devices += kept
	t.overCap = len(b) > maxBytes
	return b, t, nil
}

// shed drops candidates 0..n-1 in order until the encoding fits; apply(k)
// rebuilds doc without the first k. How many to drop per round comes from
// the bytes one candidate is worth: first the whole file's size over n (an
// overestimate, so the first round drops too few rather than too many),
// then what the previous round saved per candidate. Each round re-encodes,
// so the result is exact; it takes one or two rounds when candidates are
// alike.
func shed(doc *document, b []byte, maxBytes, n int, apply func(k int)) ([]byte, int, error) {
	if n == 0 {
		return b, 0, nil
	}
	per := float64(len(b)) / float64(n)
	k := 0
	for len(b) > maxBytes && k < n {
		step := max(1, int(math.Ceil(float64(len(b)-maxBytes)/per)))
		next := min(n, k+step)
		apply(next)
		nb, err := json.Marshal(doc)
		if err != nil {
			return nil, 0, fmt.Errorf("encode state: %w", err)
		}
		if saved := len(b) - len(nb); saved > 0 {
			per = float64(saved) / float64(next-k)
		}
		b, k = nb, next
	}
	return b, k, nil
}

func trimFindings(doc *document, b []byte, maxBytes int) ([]byte, int, error) {
	type ref struct{ dev, idx int }
	orig := doc.Devices
	var refs []ref
	for d, rec := range orig {
		for i := range rec.Findings {
			refs = append(refs, ref{d, i})
		}
	}
	slices.SortStableFunc(refs, func(a, b ref) int {
		return findingTime(&orig[a.dev].Findings[a.idx]).Compare(findingTime(&orig[b.dev].Findings[b.idx]))
	})
	apply := func(k int) {
		drop := make(map[int][]bool)
		for _, r := range refs[:k] {
			if drop[r.dev] == nil {
				drop[r.dev] = make([]bool, len(orig[r.dev].Findings))
			}
			drop[r.dev][r.idx] = true
		}
		devs := slices.Clone(orig)
		for d, marks := range drop {
			cp := *orig[d]
			cp.Findings = nil
			for i := range orig[d].Findings {
				if marks[i] {
					cp.DroppedFindings++
				} else {
					cp.Findings = append(cp.Findings, orig[d].Findings[i])
				}
			}
			devs[d] = &cp
		}
		doc.Devices = devs
	}
	return shed(doc, b, maxBytes, len(refs), apply)
}

func trimDevices(doc *document, b []byte, maxBytes int) ([]byte, int, error) {
	protected := make(map[hwaddr.MAC]bool)
	for _, q := range doc.Quarantines {
		protected[q.MAC] = true
	}
	for _, d := range doc.Decisions {
		protected[d.MAC] = true
	}
	verdict := make(map[hwaddr.MAC]*Verdict, len(doc.Verdicts))
	for _, v := range doc.Verdicts {
		verdict[v.MAC] = v
	}
	var cand []*DeviceRecord
	for _, d := range doc.Devices {
		if !protected[d.MAC] {
			cand = append(cand, d)
		}
	}
	slices.SortStableFunc(cand, func(a, b *DeviceRecord) int { return a.LastSeen.Compare(b.LastSeen) })
	origDevs, origVerdicts := doc.Devices, doc.Verdicts
	apply := func(k int) {
		gone := make(map[hwaddr.MAC]bool, k)
		for _, d := range cand[:k] {
			gone[d.MAC] = true
		}
		doc.Devices = slices.DeleteFunc(slices.Clone(origDevs), func(d *DeviceRecord) bool { return gone[d.MAC] })
		doc.Verdicts = slices.DeleteFunc(slices.Clone(origVerdicts), func(v *Verdict) bool { return gone[v.MAC] })
	}
	return shed(doc, b, maxBytes, len(cand), apply)
}

// trimVerdicts leaves out the verdicts trimDevices kept, oldest first:
// policy recomputes a verdict, and the owner's word is in the decision.
func trimVerdicts(doc *document, b []byte, maxBytes int) ([]byte, int, error) {
	base := doc.Verdicts
	orig := slices.Clone(base)
	slices.SortStableFunc(orig, func(a, b *Verdict) int { return a.Time.Compare(b.Time) })
	apply := func(k int) {
		gone := make(map[*Verdict]bool, k)
		for _, v := range orig[:k] {
			gone[v] = true
		}
		doc.Verdicts = slices.DeleteFunc(slices.Clone(base), func(v *Verdict) bool { return gone[v] })
	}
	return shed(doc, b, maxBytes, len(orig), apply)
}

// trimKeptDevices leaves out, least recently seen first, the devices
// trimDevices kept for their quarantine or decision, which stay: the
// device's identity is shown to the owner, the quarantine is enforced.
func trimKeptDevices(doc *document, b []byte, maxBytes int) ([]byte, int, error) {
	base := doc.Devices
	orig := slices.Clone(base)
	slices.SortStableFunc(orig, func(a, b *DeviceRecord) int { return a.LastSeen.Compare(b.LastSeen) })
	apply := func(k int) {
		gone := make(map[*DeviceRecord]bool, k)
		for _, d := range orig[:k] {
			gone[d] = true
		}
		doc.Devices = slices.DeleteFunc(slices.Clone(base), func(d *DeviceRecord) bool { return gone[d] })
	}
	return shed(doc, b, maxBytes, len(orig), apply)
}

func trimOutbox(doc *document, b []byte, maxBytes int) ([]byte, int, error) {
	orig := doc.Outbox // by ID: oldest first
	apply := func(k int) { doc.Outbox = orig[k:] }
	return shed(doc, b, maxBytes, len(orig), apply)
}

// siblings lists the names in path's directory that start with path's
// base name followed by infix, sorted.
func siblings(path, infix string) []string {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), base+infix) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out // ReadDir sorts by name
}

// removeAsideTemps removes the temporary files of copies kept aside
// (<name><infix><time>.tmp-<random>) that a power cut interrupted, and
// returns those it removed. Left, they would hold state on flash for
// good, and count as kept copies when the next one prunes the oldest.
func removeAsideTemps(path string) ([]string, error) {
	var removed []string
	var errs []error
	for _, infix := range []string{corruptInfix, newerInfix} {
		for _, p := range siblings(path, infix) {
			if !strings.Contains(filepath.Base(p), statefile.TempInfix) {
				continue
			}
			if err := os.Remove(p); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, p)
		}
	}
	return removed, errors.Join(errs...)
}

// Retries of a state file read the system failed.
const (
	readRetries    = 3
	readRetryDelay = 200 * time.Millisecond
)

// isReadFailure: the system failed the read (open, stat or read gave an
// error other than "no such file"); the file's content is not to blame.
func isReadFailure(err error) bool {
	var pe *fs.PathError
	return err != nil && !noFile(err) && errors.As(err, &pe)
}

// noFile: there is no state file (a part of the path is not a directory
// counts: nothing was saved there).
func noFile(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// load fills an empty store from its file, called by Open only.
func (s *Store) load() {
	path := s.opts.Path
	removed, err := statefile.RemoveTemps(path)
	copies, copyErr := removeAsideTemps(path)
	removed = append(removed, copies...)
	if err = errors.Join(err, copyErr); err != nil {
		s.log.Warn("cannot remove temporary files of an interrupted write", "path", path, "err", err)
	}
	if len(removed) > 0 {
		s.log.Info("removed temporary files of an interrupted write; the state file is unaffected", "path", path, "files", len(removed))
	}
	limit := readLimit(s.opts.MaxBytes, s.opts.MaxDevices)
	data, err := s.readFile(path, limit)
	// A read the system failed (EIO on tired flash, EACCES, EMFILE) says
	// nothing about the file: try again, and if it still fails, keep it
	// as it is for the next start rather than call it corrupt.
	for i := 0; i < readRetries && isReadFailure(err); i++ {
		time.Sleep(readRetryDelay)
		data, err = s.readFile(path, limit)
	}
	if noFile(err) {
		s.log.Info("no saved state; starting empty", "path", path)
		return
	}
	if isReadFailure(err) {
		s.mu.Lock()
		s.held = fmt.Errorf("it could not be read at start (%w)", err)
		s.stats.LastError = err
		s.mu.Unlock()
		s.log.Error("state file unreadable; starting empty and leaving the file as it is (nothing is saved until a restart reads it)",
			"path", path, "err", err)
		return
	}
	var doc *document
	from, damage := SchemaVersion, err
	switch {
	case err == nil:
		doc, from, damage = decode(data, s.opts.MaxFindingsPerDevice)
	case errors.Is(err, statefile.ErrTooLarge):
		// Its beginning may hold the quarantines and decisions whole
		// (they come first); what is over the limit is not read.
		if data, err = statefile.ReadPrefix(path, limit); err == nil {
			doc, from, _ = decode(data, s.opts.MaxFindingsPerDevice)
		}
	}
	if damage != nil && doc == nil {
		s.setAside(damage)
		return
	}
	// A newer build's file (a downgrade) is kept under a name of its
	// own, which copies of damaged files do not prune away.
	newer := from > SchemaVersion
	infix := corruptInfix
	if newer {
		infix = newerInfix
	}
	aside := ""
	switch {
	case damage != nil:
		aside = s.salvage(doc, damage, infix)
	case newer:
		aside = s.keepNewer(from)
	}
	if newer {
		s.noteDowngrade(from, doc, aside)
	}
	dropped := s.reportUnreadable(doc.unreadable, data, aside) + s.adopt(doc)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case damage != nil:
		// The damaged file stays until a write replaces it: put what was
		// kept back on flash at once, not with the next interval's write.
		s.changedLocked(true)
	case from != SchemaVersion || dropped > 0 || len(doc.unreadable) > 0:
		// Write the upgraded or cleaned state with the next routine write
		// (records dropped unread are in the copy reportUnreadable kept).
		s.gen = 1
	}
	level := slog.LevelInfo
	if dropped > 0 {
		level = slog.LevelWarn
	}
	s.log.Log(context.Background(), level, "state loaded", "path", path, "schema", from, "devices", len(s.devices),
		"quarantines", len(s.quarantines), "decisions", len(s.decisions), "alerts", len(s.outbox),
		"records_dropped", dropped)
}

// reportUnreadable keeps a copy of a state file some of whose records
// decode dropped, since the next write leaves them out, unless one was
// kept already (aside), and logs what was dropped per
// table. It returns how many records were dropped.
func (s *Store) reportUnreadable(tables []unreadable, data []byte, aside string) int {
	if len(tables) == 0 {
		return 0
	}
	path := s.opts.Path
	dst := aside
	if dst == "" {
		dst = s.asideName(corruptInfix)
		if err := statefile.Write(dst, data); err != nil {
			s.log.Error("cannot keep a copy of the state file; the records dropped from it are lost at the next write",
				"path", path, "copy", dst, "err", err)
			dst = ""
		} else {
			s.pruneAside(dst, corruptInfix)
		}
	}
	dropped := 0
	for _, t := range tables {
		dropped += t.records - t.kept
		args := []any{"path", path, "table", t.table, "records", t.records, "reason", clip(t.first.Error(), maxReasonInLog), "copy", dst}
		if t.kept > 0 {
			args = append(args, "kept_as_block_by_mac", t.kept)
		}
		s.log.Warn("unreadable records in the state file; left out, the rest is loaded", args...)
	}
	return dropped
}

// adopt takes the records of a decoded file through the same checks and
// caps as the Put methods. It returns how many records were dropped.
func (s *Store) adopt(doc *document) int {
	dropped := 0
	for _, q := range doc.Quarantines {
		if q == nil {
			dropped++
			continue
		}
		// Fail safe: a damaged quarantine record stays a quarantine, in the
		// strictest mode, rather than freeing the device.
		if q.Mode == "" {
			s.log.Warn("quarantine without a mode in the state file; using block", "mac", q.MAC)
			q.Mode = "block"
		}
		if !q.By.Valid() {
			s.log.Warn("quarantine with an unknown author in the state file; counting it as policy's", "mac", q.MAC)
			q.By = ActorPolicy
		}
		if err := s.PutQuarantine(*q); err != nil {
			s.log.Warn("quarantine in the state file not restored", "mac", q.MAC, "err", err)
			dropped++
		}
	}
	for _, d := range doc.Decisions {
		if d == nil || s.PutDecision(*d) != nil {
			dropped++
		}
	}
	n := len(doc.Devices)
	doc.Devices = slices.DeleteFunc(doc.Devices, func(d *DeviceRecord) bool { return d == nil })
	dropped += n - len(doc.Devices)
	// Least recently seen first: a full table forgets its least recently
	// seen device for each new one, so a lowered MaxDevices keeps the
	// most recently seen.
	slices.SortStableFunc(doc.Devices, func(a, b *DeviceRecord) int { return a.LastSeen.Compare(b.LastSeen) })
	for i, d := range doc.Devices {
		if s.PutDevice(*d) != nil {
			dropped++
		}
		doc.Devices[i] = nil // PutDevice copied it: the decoded one can go now, not after all
	}
	for _, v := range doc.Verdicts {
		if v == nil || s.PutVerdict(*v) != nil {
			dropped++
		}
	}
	dropped += s.adoptOutbox(doc)
	for _, name := range doc.MutedAlerts {
		if s.SetAlertChannelMuted(name, true) != nil {
			dropped++
		}
	}
	if doc.AlertHolds != nil && s.SetAlertHolds(doc.AlertHolds) != nil {
		dropped++
	}
	s.mu.Lock()
	s.gen, s.writtenGen, s.seenGen, s.writtenSeenGen = 0, 0, 0, 0
	s.mu.Unlock()
	select { // the Puts above are not owner actions
	case <-s.urgent:
	default:
	}
	return dropped
}

func (s *Store) adoptOutbox(doc *document) int {
	dropped := 0
	items := make([]OutboxItem, 0, len(doc.Outbox))
	for _, it := range doc.Outbox {
		if it == nil || it.ID == 0 || len(it.Payload) > maxPayloadLen {
			dropped++
			continue
		}
		payload, err := compactJSON(it.Payload)
		if err != nil {
			dropped++
			continue
		}
		it.Payload = payload
		items = append(items, *it)
	}
	slices.SortStableFunc(items, func(a, b OutboxItem) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	n := len(items)
	items = slices.CompactFunc(items, func(a, b OutboxItem) bool { return a.ID == b.ID })
	dropped += n - len(items)
	if extra := len(items) - s.opts.MaxOutbox; extra > 0 {
		items = items[extra:]
		dropped += extra
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outbox = items
	s.nextID = max(doc.NextOutboxID, 1)
	if n := len(items); n > 0 && items[n-1].ID >= s.nextID {
		s.nextID = items[n-1].ID + 1
	}
	return dropped
}

// setAside keeps a copy of an unreadable state file as
// <name>.corrupt-<time> for the owner or a developer to look at, and has
// the empty state written over it at once.
func (s *Store) setAside(reason error) {
	path := s.opts.Path
	why := clip(reason.Error(), maxReasonInLog)
	if fi, err := os.Lstat(path); err == nil && fi.IsDir() {
		// A directory named as the state file (/etc/config) is never
		// moved; writes to it fail, and the state stays in memory.
		s.log.Error("the state file's path is a directory; left as it is, nothing will be saved", "path", path)
		s.noteLoadError(fmt.Sprintf("the state file's path %s is a directory; nothing is saved", path))
		return
	}
	if dst, err := s.copyAside(corruptInfix); err != nil {
		s.log.Error("state file unreadable and cannot be set aside; starting with an empty state, the next write replaces it",
			"path", path, "reason", why, "err", err)
		s.noteLoadError(fmt.Sprintf("the state file was damaged (%s) and could not be set aside (%v); the saved quarantines and decisions are lost", why, err))
	} else {
		s.log.Warn("state file unreadable; set aside, starting with an empty state",
			"path", path, "copy", dst, "reason", why)
		s.noteLoadError(fmt.Sprintf("the state file was damaged (%s) and set aside as %s; the saved quarantines and decisions are lost", why, dst))
	}
	s.mu.Lock()
	s.changedLocked(true)
	s.mu.Unlock()
}

// salvage keeps a copy of a state file damaged after its beginning (cut
// short by a torn write or the read limit, bad JSON, bytes after the
// document) whose records before the damage decode read into doc, and
// says what is kept. The owner hears of it (LoadError) only if the
// quarantines, decisions or muted alert channels may be among what is
// lost: the store writes them first, so damage in the devices, the bulk,
// costs none of them. It returns the copy, "" if none was made.
func (s *Store) salvage(doc *document, damage error, infix string) string {
	path := s.opts.Path
	why := clip(damage.Error(), maxReasonInLog)
	whole := doc.quarantinesRead && doc.decisionsRead && doc.mutedRead
	kept := fmt.Sprintf("kept the %d quarantines, %d decisions and %d muted alert channels read before the damage",
		len(doc.Quarantines), len(doc.Decisions), len(doc.MutedAlerts))
	dst, err := s.copyAside(infix)
	if err != nil {
		s.log.Error("state file damaged and cannot be set aside; keeping what was read before the damage, the next write replaces it",
			"path", path, "reason", why, "err", err, "quarantines", len(doc.Quarantines), "decisions", len(doc.Decisions),
			"devices", len(doc.Devices), "owner_records_whole", whole)
		if !whole {
			s.noteLoadError(fmt.Sprintf("the state file was damaged (%s) and could not be set aside (%v); %s, any after it are lost", why, err, kept))
		}
		return ""
	}
	s.log.Warn("state file damaged; set aside, keeping what was read before the damage",
		"path", path, "copy", dst, "reason", why, "quarantines", len(doc.Quarantines), "decisions", len(doc.Decisions),
		"devices", len(doc.Devices), "owner_records_whole", whole)
	if !whole {
		s.noteLoadError(fmt.Sprintf("the state file was damaged (%s) and set aside as %s; %s, any after it are lost", why, dst, kept))
	}
	return dst
}

// copyAside copies the state file to a free <name><infix><time>, on
// flash before it returns, keeps only the newest few copies of that
// infix, and leaves the file where it is for the next write to replace
// atomically. Moving it away instead would open a window: a power cut
// before that write would leave no file, so the next start would find
// nothing, and have nothing to tell the owner. A path that is not a regular file (a FIFO) holds no state and
// cannot be copied: it is renamed.
func (s *Store) copyAside(infix string) (string, error) {
	path := s.opts.Path
	dst := s.asideName(infix)
	err := s.copyFile(dst, path)
	if errors.Is(err, statefile.ErrNotRegular) {
		if err = os.Rename(path, dst); err == nil {
			_ = statefile.SyncDir(filepath.Dir(path)) // the move is a courtesy; the next write syncs again
		}
	}
	if err != nil {
		return "", err
	}
	s.pruneAside(dst, infix)
	return dst, nil
}

// keepNewer copies a newer build's state file aside, durably, before
// anything replaces it, and returns the copy; "" if it could not be
// made.
func (s *Store) keepNewer(schema int) string {
	dst, err := s.copyAside(newerInfix)
	if err != nil {
		s.log.Error("cannot keep a copy of a newer iotgw's state file; it is not written over",
			"path", s.opts.Path, "schema", schema, "err", err)
		return ""
	}
	return dst
}

// noteDowngrade tells what became of a newer build's state file, kept
// aside (aside) or not (""): then this run never writes over it.
func (s *Store) noteDowngrade(schema int, doc *document, aside string) {
	kept := fmt.Sprintf("kept its %d quarantines, %d decisions and %d devices, not their findings, verdicts or queued alerts",
		len(doc.Quarantines), len(doc.Decisions), len(doc.Devices))
	s.mu.Lock()
	defer s.mu.Unlock()
	if aside == "" {
		s.held = fmt.Errorf("it was written by a newer iotgw (schema %d) and could not be kept aside", schema)
		s.stats.LastError = s.held
		s.stats.Downgrade = fmt.Sprintf("the state file was written by a newer iotgw (schema %d); this version %s, and saves nothing until a copy can be kept", schema, kept)
		return
	}
	s.log.Warn("state file of a newer iotgw; kept aside, reading its quarantines, decisions and devices",
		"path", s.opts.Path, "schema", schema, "copy", aside, "quarantines", len(doc.Quarantines),
		"decisions", len(doc.Decisions), "devices", len(doc.Devices))
	s.stats.Downgrade = fmt.Sprintf("the state file was written by a newer iotgw (schema %d) and kept as %s; this version %s", schema, aside, kept)
}

// asideName returns a free name for a copy of the state file kept
// aside: <name><infix><UTC time>, then -1, -2 … within one second.
func (s *Store) asideName(infix string) string {
	path := s.opts.Path
	stamp := s.clock.Now().UTC().Format("20060102T150405Z")
	dst := path + infix + stamp
	for i := 1; i < 100; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dst = fmt.Sprintf("%s%s%s-%d", path, infix, stamp, i)
	}
	return dst
}

// pruneAside keeps the copy just made (made) and the newest others of
// the same infix up to maxCorruptCopies in all, to spare flash. Newest by modification time,
// not by name: a copy named while the clock was behind (a router without
// an RTC before NTP) would sort first, and "-10" sorts before "-2".
func (s *Store) pruneAside(made, infix string) {
	type aside struct {
		path string
		mod  time.Time
	}
	var others []aside
	for _, p := range siblings(s.opts.Path, infix) {
		if p == made {
			continue
		}
		fi, err := os.Lstat(p)
		if err != nil {
			continue // gone meanwhile
		}
		others = append(others, aside{p, fi.ModTime()})
	}
	// Oldest first; within one mtime, a shorter name (no -N, a smaller N)
	// came first.
	slices.SortFunc(others, func(a, b aside) int {
		if c := a.mod.Compare(b.mod); c != 0 {
			return c
		}
		if c := len(a.path) - len(b.path); c != 0 {
			return c
		}
		return strings.Compare(a.path, b.path)
	})
	for _, old := range others[:max(0, len(others)-(maxCorruptCopies-1))] {
		if err := os.Remove(old.path); err != nil {
			s.log.Warn("cannot remove an old corrupt state copy", "path", old.path, "err", err)
		}
	}
}

func (s *Store) noteLoadError(msg string) {
	s.mu.Lock()
	s.stats.LoadError = msg
	s.mu.Unlock()
}
