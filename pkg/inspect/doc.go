// Package inspect owns the packet path from a frame to what it reveals:
// the Decoder, which reads link, IP and transport headers in place and
// puts IP fragments of TCP and UDP together again in a fixed pool; the
// Engine's flow table, which follows every TCP connection and UDP
// conversation with a fixed memory budget and delivers their bytes in
// order to one Analyzer per flow; and the privacy boundary for
// credentials, where a login an analyzer read (Login) is classified
// against the default and common password lists and leaves as a
// Credential that holds only its class, a keyed hash and a redacted form.
// Host names a device chose (a DNS question, a TLS server name, an HTTP
// Host) leave with the labels that hold its identifier masked
// (IDMaskedHost), by one rule for every analyzer.
//
// The protocol analyzers live in sub-packages (pkg/inspect/<protocol>),
// listed in pkg/inspect/protocols. Analyzers borrow the bytes they are
// handed and must not keep a *Flow after Close; in steady state the
// whole path allocates nothing per packet.
package inspect
