package netwatch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/internal/capdrop"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// Sizes of the rtnetlink plumbing.
const (
	// libraryQueue is the buffer of each channel the netlink library
	// writes to. Behind it sits the socket's receive buffer; when both are
	// full the kernel drops notifications (ENOBUFS), the subscription ends
	// and the watcher subscribes again, listing everything afresh.
	libraryQueue = 256
	// receiveBuffer is asked for as SO_RCVBUF (the kernel caps it at
	// net.core.rmem_max): room for a burst of a few thousand neighbour
	// messages, as when a link goes down and its entries are flushed.
	receiveBuffer = 1 << 20
	// maxLinkNames caps the interface index → name cache.
	maxLinkNames = 1024
	// userHZ is the unit of the ages in NDA_CACHEINFO (clock_t, USER_HZ,
	// which is 100 on every architecture OpenWrt runs on).
	userHZ = 100
	// maxDumpTries bounds the attempts at a consistent listing of a
	// table: the kernel marks a dump interrupted when the table changed
	// during it.
	maxDumpTries = 3
)

// netlinkSource is the kernel, over rtnetlink, in the namespace at nsPath
// (the current one when empty).
type netlinkSource struct {
	nsPath string
	// forceBuffers: the process holds CAP_NET_ADMIN, so the
	// subscriptions' buffers may be forced past net.core.rmem_max (about
	// 208 KiB by default), and overruns (ENOBUFS, a fresh subscription)
	// come later. Asked without it, the library fails the subscription
	// and leaks its socket.
	forceBuffers bool
}

// newNetlinkSource is the kernel source in the namespace at nsPath ("":
// the current one).
func newNetlinkSource(nsPath string) netlinkSource {
	st, err := capdrop.ReadState(os.Getpid())
	return netlinkSource{nsPath: nsPath, forceBuffers: err == nil && st.Effective&capdrop.NetAdmin != 0}
}

// namespace opens the configured network namespace; the caller closes it.
func (s netlinkSource) namespace() (netns.NsHandle, error) {
	if s.nsPath == "" {
		return netns.None(), nil
	}
	ns, err := netns.GetFromPath(s.nsPath)
	if err != nil {
		return netns.None(), fmt.Errorf("open network namespace %s: %w", s.nsPath, err)
	}
	return ns, nil
}

func closeNS(ns netns.NsHandle) {
	if ns.IsOpen() {
		ns.Close()
	}
}

// Subscribe implements kernelSource.
func (s netlinkSource) Subscribe(ctx context.Context, updates chan<- kernelUpdate) (err error) {
	ns, err := s.namespace()
	if err != nil {
		return err
	}
	defer closeNS(ns)
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("open rtnetlink: %w", err)
	}
	defer h.Close()
	names := newLinkNames(h)

	done := make(chan struct{})
	linkc := make(chan netlink.LinkUpdate, libraryQueue)
	addrc := make(chan netlink.AddrUpdate, libraryQueue)
	neighc := make(chan netlink.NeighUpdate, libraryQueue)
	failure := make(chan error, 1)
	onError := func(err error) {
		select {
		case failure <- err:
		default:
		}
	}
	// The library's readers close their channel once done is closed and
	// their socket with it; drain until then so that none stays blocked
	// on a send.
	var started []func()
	defer func() {
		close(done)
		for _, drain := range started {
			drain()
		}
	}()

	// The library's own listing (ListExisting) does not say where it
	// ends, and the loop needs to know, to tell what was deleted while no
	// subscription could say so: the tables are listed below instead.
	if err := netlink.LinkSubscribeWithOptions(linkc, done, netlink.LinkSubscribeOptions{
		Namespace: &ns, ErrorCallback: onError, ReceiveBufferSize: receiveBuffer, ReceiveBufferForceSize: s.forceBuffers,
	}); err != nil {
		return fmt.Errorf("subscribe to links: %w", err)
	}
	started = append(started, func() { drainChan(linkc) })
	if err := netlink.AddrSubscribeWithOptions(addrc, done, netlink.AddrSubscribeOptions{
		Namespace: &ns, ErrorCallback: onError, ReceiveBufferSize: receiveBuffer, ReceiveBufferForceSize: s.forceBuffers,
	}); err != nil {
		return fmt.Errorf("subscribe to addresses: %w", err)
	}
	started = append(started, func() { drainChan(addrc) })
	if err := netlink.NeighSubscribeWithOptions(neighc, done, netlink.NeighSubscribeOptions{
		Namespace: &ns, ErrorCallback: onError, ReceiveBufferSize: receiveBuffer, ReceiveBufferForceSize: s.forceBuffers,
	}); err != nil {
		return fmt.Errorf("subscribe to neighbours: %w", err)
	}
	started = append(started, func() { drainChan(neighc) })

	// Listed once subscribed, so that no change falls between the two:
	// changes made while listing wait in the subscriptions and follow.
	learn := func(index int, name string) { names.learn(index, name, false) }
	t, err := listTables(ctx, h, -1, true, learn, names.name)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return err
	}
	send := func(u kernelUpdate) bool {
		select {
		case updates <- u:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !send(kernelUpdate{kind: kindListStart}) {
		return nil
	}
	// Links first: they name the interfaces the other two refer to.
	for _, table := range []struct {
		kind updateKind
		list []kernelUpdate
	}{{kindLink, t.links}, {kindAddr, t.addrs}, {kindNeigh, t.neighs}} {
		for _, u := range table.list {
			if !send(u) {
				return nil
			}
		}
		if !send(kernelUpdate{kind: kindListEnd, listed: table.kind}) {
			return nil
		}
	}

	ended := func(what string) error {
		select {
		case err := <-failure:
			return fmt.Errorf("%s subscription ended: %w", what, err)
		default:
			return fmt.Errorf("%s subscription ended", what)
		}
	}
	for {
		var u kernelUpdate
		select {
		case <-ctx.Done():
			return nil
		case lu, ok := <-linkc:
			if !ok {
				return ended("link")
			}
			u = fromLinkUpdate(lu)
			names.learn(u.index, u.iface, u.deleted)
		case au, ok := <-addrc:
			if !ok {
				return ended("address")
			}
			u = fromAddrUpdate(au)
			u.iface = names.name(u.index)
		case nu, ok := <-neighc:
			if !ok {
				return ended("neighbour")
			}
			u = fromNeigh(nu.Neigh, nu.Type == unix.RTM_DELNEIGH)
			u.iface = names.name(u.index)
		}
		if !send(u) {
			return nil
		}
	}
}

// List implements kernelSource.
func (s netlinkSource) List(ctx context.Context, max int) ([]kernelUpdate, error) {
	ns, err := s.namespace()
	if err != nil {
		return nil, err
	}
	defer closeNS(ns)
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink: %w", err)
	}
	defer h.Close()
	names := map[int]string{}
	learn := func(index int, name string) { names[index] = name }
	name := func(index int) string { return names[index] }
	t, err := listTables(ctx, h, max, false, learn, name)
	if err != nil {
		return nil, err
	}
	return append(append(t.links, t.addrs...), t.neighs...), nil
}

// tables are the kernel's links, addresses and neighbours.
type tables struct {
	links, addrs, neighs []kernelUpdate
}

// listTables lists the links, addresses and neighbours, at most max of
// each (all if max is negative). Each link listed is passed to learn
// before addresses and neighbours are listed, and these are named by
// name. With consistent, a table the kernel keeps changing while it is
// listed is an error; without, it is taken as listed.
func listTables(ctx context.Context, h *netlink.Handle, max int, consistent bool,
	learn func(index int, name string), name func(index int) string) (tables, error) {
	var t tables
	links, err := dump(consistent, h.LinkList)
	if err != nil {
		return t, fmt.Errorf("list links: %w", err)
	}
	for i, l := range links {
		if i == max {
			break
		}
		u := fromLink(l.Attrs(), false)
		learn(u.index, u.iface)
		t.links = append(t.links, u)
	}
	if err := ctx.Err(); err != nil {
		return t, err
	}
	addrs, err := dump(consistent, func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return t, fmt.Errorf("list addresses: %w", err)
	}
	for i, a := range addrs {
		if i == max {
			break
		}
		u := fromAddr(a.IPNet, a.LinkIndex, false)
		u.iface = name(u.index)
		t.addrs = append(t.addrs, u)
	}
	if err := ctx.Err(); err != nil {
		return t, err
	}
	neighs, err := dump(consistent, func() ([]netlink.Neigh, error) { return h.NeighList(0, netlink.FAMILY_ALL) })
	if err != nil {
		return t, fmt.Errorf("list neighbours: %w", err)
	}
	for i, n := range neighs {
		if i == max {
			break
		}
		u := fromNeigh(n, false)
		u.iface = name(u.index)
		t.neighs = append(t.neighs, u)
	}
	return t, nil
}

// dump runs a listing. One the kernel marks interrupted may lack entries
// or hold stale ones: with consistent it is tried again, up to
// maxDumpTries times, and then is an error; without, it is taken.
func dump[T any](consistent bool, list func() ([]T, error)) ([]T, error) {
	for try := 1; ; try++ {
		v, err := list()
		switch {
		case err == nil:
			return v, nil
		case !errors.Is(err, netlink.ErrDumpInterrupted):
			return nil, err
		case !consistent:
			return v, nil
		case try == maxDumpTries:
			return nil, fmt.Errorf("%d tries: %w", try, err)
		}
	}
}

func drainChan[T any](c <-chan T) {
	for range c {
	}
}

func fromLinkUpdate(lu netlink.LinkUpdate) kernelUpdate {
	if lu.Link == nil {
		return kernelUpdate{kind: kindLink, index: int(lu.Index), deleted: lu.Header.Type == unix.RTM_DELLINK}
	}
	return fromLink(lu.Attrs(), lu.Header.Type == unix.RTM_DELLINK)
}

func fromLink(a *netlink.LinkAttrs, deleted bool) kernelUpdate {
	const upRunning = unix.IFF_UP | unix.IFF_RUNNING
	u := kernelUpdate{
		kind:    kindLink,
		deleted: deleted,
		index:   a.Index,
		iface:   a.Name,
		up:      !deleted && a.RawFlags&upRunning == upRunning,
	}
	if len(a.HardwareAddr) == 6 {
		u.mac = hwaddr.FromBytes(a.HardwareAddr)
		u.hasMAC = true
	}
	return u
}

func fromAddrUpdate(au netlink.AddrUpdate) kernelUpdate {
	return fromAddr(&au.LinkAddress, au.LinkIndex, !au.NewAddr)
}

func fromAddr(ipn *net.IPNet, index int, deleted bool) kernelUpdate {
	u := kernelUpdate{kind: kindAddr, deleted: deleted, index: index}
	if ipn == nil {
		return u
	}
	addr, ok := netip.AddrFromSlice(ipn.IP)
	if !ok {
		return u
	}
	addr = addr.Unmap()
	ones, bits := ipn.Mask.Size()
	if bits != addr.BitLen() {
		ones = addr.BitLen()
	}
	u.prefix = netip.PrefixFrom(addr, ones)
	return u
}

func fromNeigh(n netlink.Neigh, deleted bool) kernelUpdate {
	u := kernelUpdate{
		kind:         kindNeigh,
		deleted:      deleted,
		index:        n.LinkIndex,
		family:       n.Family,
		state:        uint16(n.State),
		flags:        uint8(n.Flags),
		confirmedAgo: ticks(n.Confirmed),
		updatedAgo:   ticks(n.Updated),
	}
	if ip, ok := netip.AddrFromSlice(n.IP); ok {
		u.ip = ip.Unmap()
	}
	if len(n.HardwareAddr) == 6 {
		u.mac = hwaddr.FromBytes(n.HardwareAddr)
		u.hasMAC = true
	}
	return u
}

// ticks converts an NDA_CACHEINFO age to a duration.
func ticks(t uint32) time.Duration {
	return time.Duration(t) * (time.Second / userHZ)
}

// linkNames resolves interface indexes for address and neighbour updates.
// The link subscription keeps it current; an index it does not know yet
// (the three subscriptions are not ordered with respect to each other) is
// asked of the kernel.
type linkNames struct {
	h     *netlink.Handle
	names map[int]string
	// gone keeps the names of deleted links: the kernel sends a link's
	// neighbour deletions before its own, but the two subscriptions are
	// read in any order, and a neighbour deleted after its link must
	// still name it.
	gone map[int]string
}

// maxGoneNames bounds the names of deleted links kept.
const maxGoneNames = 64

func newLinkNames(h *netlink.Handle) *linkNames {
	return &linkNames{h: h, names: map[int]string{}, gone: map[int]string{}}
}

func (n *linkNames) learn(index int, name string, deleted bool) {
	if !deleted {
		delete(n.gone, index)
	}
	switch {
	case deleted:
		if old, ok := n.names[index]; ok {
			if len(n.gone) >= maxGoneNames {
				clear(n.gone)
			}
			n.gone[index] = old
		}
		delete(n.names, index)
	case name == "":
	case len(n.names) < maxLinkNames:
		n.names[index] = name
	default:
		if _, ok := n.names[index]; ok {
			n.names[index] = name
		}
	}
}

func (n *linkNames) name(index int) string {
	if name, ok := n.names[index]; ok {
		return name
	}
	if name, ok := n.gone[index]; ok {
		return name
	}
	l, err := n.h.LinkByIndex(index)
	if err != nil {
		return ""
	}
	n.learn(index, l.Attrs().Name, false)
	return l.Attrs().Name
}
