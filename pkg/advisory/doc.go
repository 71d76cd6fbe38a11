// Package advisory owns knowledge of vulnerable and abandoned software
// versions: a comparator for the version strings devices print, an
// advisory feed shaped after the OSV schema (a signed, curated copy is
// built in), the matching of a device's software against it, and the
// outdated_firmware findings that result. A Holder swaps in a newer feed
// from a file or URL without a restart, only after its ed25519 signature,
// schema, content and version check out. docs/advisories.md describes the
// format, the ordering rules, the sources and the signing procedure.
package advisory
