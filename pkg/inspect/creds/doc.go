// Package creds owns the gateway's lists of factory-default and common
// passwords and the classifier that holds captured logins against them.
// It implements inspect.Classifier: a secret goes in, only a verdict
// ("default" with the matching vendor and source, "weak", or no opinion)
// comes out, and no secret byte is kept.
//
// The lists are embedded data files, described in README.md:
// defaults.tsv (factory defaults, among them the complete Mirai botnet
// telnet dictionary) and common-passwords.txt.
//
// # Default credentials
//
// A cleartext login (inspect.SecretPassword) is a default when its user and
// password match an entry whose scope applies to the login's protocol:
//
//   - User names match without regard to ASCII case, passwords exactly.
//     An entry with an empty password matches an empty secret.
//   - telnet, ssh, ftp, http and rtsp form one group. Devices expose the
//     same system accounts on all of them (a camera's telnet root is its
//     web root), so an entry scoped to any protocol of the group, Mirai's
//     telnet dictionary included, applies to every protocol of the group
//     and to every other one but SNMP (pop3, imap, vnc …), MQTT too: a
//     device's own broker often takes its system accounts (a hub's
//     admin/admin), and an entry scoped to the protocol still comes
//     first.
//   - An entry scoped "any" applies to every protocol except SNMP.
//   - A password-only entry (no user: a phone's or a printer's web
//     password) applies only to the protocols it names, or to all of
//     them when scoped "any": the group rule rests on shared system
//     accounts, and a bare password names no account. "123456" on a VNC
//     login is judged weak, not a phone's default.
//   - An entry scoped only to mqtt applies only to MQTT logins: broker
//     accounts belong to broker software, not to the device.
//   - SNMP communities (inspect.SecretCommunity, or protocol "snmp") have
//     no user: the community is matched against snmp entries only, and
//     snmp entries match nothing else.
//
// The matching entries with the closest scope (protocol named, then device
// group, then "any") decide what is reported. When they all name one
// vendor, the match reports that vendor and its source: admin/meinsm over
// HTTP is Mobotix, though Mirai tries it over telnet. When they disagree
// (admin/admin over HTTP is the default of dozens of vendors), the match
// reports no vendor and the source of the closest generic entry: naming
// one of several vendors would guess at the device.
//
// # Weak passwords
//
// A cleartext secret that is not a default is weak when it is shorter than
// MinLength bytes, equal to the user name or to the user name reversed
// (ignoring case), one unit of one to four bytes repeated ("aaaaaaaa",
// "abababab"), a run of consecutive digits up or down ("12345678",
// "9876543210"), or on the common list (ignoring ASCII case). An empty
// secret that is not a default gets no opinion: the engine's "empty" class
// says more.
//
// # Challenge-response logins
//
// For inspect.SecretHashed logins with a Verify function (HTTP Digest, APOP,
// CRAM-MD5) the classifier tries the default passwords listed for the user,
// then the user name and its reverse, then the common passwords in order,
// stopping after MaxVerify calls. A default found this way is reported as
// for a cleartext login; a user-derived or common one as weak. Verify gets
// a scratch copy of each candidate, wiped before Classify returns.
//
// Tokens (inspect.SecretToken) get no opinion.
//
// # Cost
//
// The Classifier is immutable after New and safe for concurrent use. The
// cleartext path is a map lookup by lower-cased user and a few byte scans;
// it does not allocate. Candidates lists default pairs for an active audit.
package creds
