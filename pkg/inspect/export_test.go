package inspect

import "net/netip"

// HostBucket is Engine.hostBucket for the tests outside the package, so
// that they can pick hosts that do not share a bucket by chance.
func HostBucket(e *Engine, a netip.Addr) uint32 { return e.hostBucket(a) }
