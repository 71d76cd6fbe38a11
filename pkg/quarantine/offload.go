package quarantine

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// Flowtables names the flowtables in the ruleset ("inet fw4 ft"): fw4's
// flow offloading. A connection it offloads leaves the forward hook after
// its handshake, so the capture never sees its payload. A kernel without
// flowtable support has none.
func (n *NFTables) Flowtables(ctx context.Context) ([]string, error) {
	if err := n.mu.lock(ctx); err != nil {
		return nil, err
	}
	defer n.mu.unlock()
	c, sock, err := n.conn()
	if err != nil {
		return nil, err
	}
	defer sock.Close()
	tables, err := c.ListTables()
	if err != nil {
		return nil, fmt.Errorf("quarantine: list tables: %w", err)
	}
	var names []string
	for _, t := range tables {
		if t.Family == nftables.TableFamilyBridge || t.Family == nftables.TableFamilyARP {
			continue // flowtables live in inet, ip and ip6 tables
		}
		fts, err := c.ListFlowtables(t)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("quarantine: list flowtables of %s %s: %w", familyName(t.Family), t.Name, err)
		}
		for _, ft := range fts {
			names = append(names, familyName(t.Family)+" "+t.Name+" "+ft.Name)
		}
	}
	return names, nil
}
