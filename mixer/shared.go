package mixer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Shared mode (rtp.mode: shared, Config.Shared): for deployments behind an
// SBC or media proxy whose media comes from the exact address in each SDP.
// Every leg of a family uses one port: GOMAXPROCS UDP sockets bound to it
// with SO_REUSEPORT (the kernel spreads the sources over them), each read
// by one goroutine with recvmmsg (mmsg_linux.go: no allocation per datagram). A datagram goes to the leg
// whose SDP RTP address (or RTCP address: a=rtcp, else RTP port+1) is
// exactly its source; any other source is a stranger: dropped and counted
// (rtp_stranger), never latched. The clock's workers send their tick's
// packets with sendmmsg, one batch per worker and family.

// ErrSourceInUse is returned by Start and Update in shared mode when
// another leg already receives from the leg's SDP address.
var ErrSourceInUse = errors.New("mixer: media source address in use by another leg")

const sharedBatch = 64 // datagrams per recvmmsg/sendmmsg

type sharedRoute struct {
	l    *Leg
	rtcp bool // the address is the leg's RTCP source
}

// sharedSet is one family's shared port: its sockets and the demultiplexer.
type sharedSet struct {
	port  int
	v6    bool
	conns []*net.UDPConn // on port: RTP (and muxed RTCP)
	batch []*batchSock   // conns', for the senders
	rtcp  []*net.UDPConn // on port+1: RTCP
	rx    []*batchSock   // every socket, one reader each
	// readers[i] reads rx[i] (its goroutine, or the clock's drain)
	readers []*batchReader
	next    atomic.Uint32 // round-robin socket for senders

	mu     sync.RWMutex
	routes map[netip.AddrPort]sharedRoute
	// rtcpWant is the leg whose RTCP comes from an address, routed there
	// whenever no RTP route holds it (at most one entry per leg)
	rtcpWant map[netip.AddrPort]*Leg

	strangers atomic.Uint64
}

// openShared binds n sockets on ip:port and n on ip:port+1 with SO_REUSEPORT.
func openShared(ip netip.Addr, port, n int) (*sharedSet, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = setReusePort(fd) }); err != nil {
			return err
		}
		return serr
	}}
	network := "udp4"
	if ip.Is6() {
		network = "udp6"
	}
	s := &sharedSet{port: port, v6: ip.Is6(), routes: make(map[netip.AddrPort]sharedRoute), rtcpWant: make(map[netip.AddrPort]*Leg)}
	for i := range 2 * max(1, n) {
		p := port + i%2
		addr := netip.AddrPortFrom(ip, uint16(p)).String()
		pc, err := lc.ListenPacket(context.Background(), network, addr)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("mixer: bind shared RTP port %s: %w", addr, err)
		}
		c := pc.(*net.UDPConn)
		// one socket carries the packets of many legs: a deeper queue
		_ = c.SetReadBuffer(4 << 20)
		_ = c.SetWriteBuffer(4 << 20)
		b, err := newBatchSock(c, s.v6)
		if err != nil {
			_ = c.Close()
			s.close()
			return nil, err
		}
		s.rx = append(s.rx, b)
		s.readers = append(s.readers, newBatchReader(sharedBatch, 2048))
		if p == port {
			s.conns, s.batch = append(s.conns, c), append(s.batch, b)
		} else {
			s.rtcp = append(s.rtcp, c)
		}
	}
	return s, nil
}

func (s *sharedSet) close() {
	for _, c := range append(s.conns, s.rtcp...) {
		_ = c.Close()
	}
}

// keys are the source addresses a leg with params p receives from.
func sharedKeys(p LegParams) (rtpKey, rtcpKey netip.AddrPort) {
	if !usable(p.Remote) {
		return
	}
	rtpKey = p.Remote
	switch {
	case p.RTCPMux:
	case usable(p.RemoteRTCP):
		rtcpKey = p.RemoteRTCP
	case p.Remote.Port() < 65535:
		rtcpKey = netip.AddrPortFrom(p.Remote.Addr(), p.Remote.Port()+1)
	}
	if rtcpKey == rtpKey {
		rtcpKey = netip.AddrPort{}
	}
	return
}

// route moves l's routes from the addresses of old to those of p;
// ErrSourceInUse (and nothing changed) when another leg receives RTP from
// p's RTP address. An RTP route displaces another leg's RTCP route (a
// caller on port X+1 beside one on X whose RTCP would come from X+1); an
// RTCP address another leg holds is not routed to l. A displaced RTCP
// route comes back when the address is free again (rtcpWant).
func (s *sharedSet) route(l *Leg, old, p LegParams) error {
	or, oc := sharedKeys(old)
	nr, nc := sharedKeys(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.routes[nr]; nr.IsValid() && ok && r.l != l && !r.rtcp {
		return fmt.Errorf("%w: %v", ErrSourceInUse, nr)
	}
	s.drop(l, or, oc)
	if nr.IsValid() {
		s.routes[nr] = sharedRoute{l: l}
	}
	if w, ok := s.rtcpWant[nc]; nc.IsValid() && (!ok || w == l) {
		s.rtcpWant[nc] = l
	}
	if r, ok := s.routes[nc]; nc.IsValid() && (!ok || r.l == l) {
		s.routes[nc] = sharedRoute{l: l, rtcp: true}
	}
	s.restore(or, oc)
	return nil
}

// drop removes l's routes and RTCP wish at keys; s.mu held.
func (s *sharedSet) drop(l *Leg, keys ...netip.AddrPort) {
	for _, k := range keys {
		if r, ok := s.routes[k]; ok && r.l == l {
			delete(s.routes, k)
		}
		if s.rtcpWant[k] == l {
			delete(s.rtcpWant, k)
		}
	}
}

// restore gives freed keys back to the leg whose RTCP comes from them;
// s.mu held.
func (s *sharedSet) restore(keys ...netip.AddrPort) {
	for _, k := range keys {
		if _, taken := s.routes[k]; !taken && k.IsValid() {
			if w, ok := s.rtcpWant[k]; ok {
				s.routes[k] = sharedRoute{l: w, rtcp: true}
			}
		}
	}
}

// unroute removes every route of l.
func (s *sharedSet) unroute(l *Leg, p LegParams) {
	r, c := sharedKeys(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop(l, r, c)
	s.restore(r, c)
}

func (s *sharedSet) lookup(src netip.AddrPort) (sharedRoute, bool) {
	s.mu.RLock()
	r, ok := s.routes[src]
	s.mu.RUnlock()
	return r, ok
}

// readShared is one socket's reader: recvmmsg, then each datagram to its leg.
func (e *Engine) readShared(s *sharedSet, i int) {
	defer e.wg.Done()
	sock, r := s.rx[i], s.readers[i]
	for {
		n, err := r.read(sock)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			e.log.Debug("shared RTP read failed", "err", err)
			time.Sleep(time.Millisecond) // no busy loop on a persistent error
			continue
		}
		e.routeShared(s, r, n)
		r.mu.Unlock()
	}
}

// drainShared reads, on the clock before a tick (one P, like the pollers'
// drain), what the shared sockets hold; a socket whose reader is busy is
// left to it.
func (e *Engine) drainShared() {
	e.mu.Lock()
	sets := e.shared
	e.mu.Unlock()
	for _, s := range sets {
		if s == nil {
			continue
		}
		for i, r := range s.readers {
			for range drainRounds {
				n, ok := r.drain(s.rx[i])
				if !ok {
					break
				}
				e.routeShared(s, r, n)
				r.mu.Unlock()
				if n < sharedBatch {
					break
				}
			}
		}
	}
}

// routeShared hands the n datagrams r holds to their legs; r.mu held.
func (e *Engine) routeShared(s *sharedSet, r *batchReader, n int) {
	now := time.Now()
	for j := range n {
		b, src := r.msg(j)
		rt, ok := s.lookup(src)
		if !ok {
			s.strangers.Add(1)
			add(e.m.stranger, 1)
			add(e.m.dropped, 1)
			continue
		}
		if rt.rtcp {
			rt.l.handleRTCP(b, src, now)
			continue
		}
		rt.l.receive(b, src, now)
	}
}

// SharedStrangers is the number of datagrams the shared sockets dropped
// because no leg has their source address in its SDP.
func (e *Engine) SharedStrangers() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n uint64
	for _, s := range e.shared {
		if s != nil {
			n += s.strangers.Load()
		}
	}
	return n
}

// sharedFor opens (once) the shared port of ip's family; e.mu held.
func (e *Engine) sharedFor(ip netip.Addr) (*sharedSet, error) {
	f := 0
	if ip.Is6() {
		f = 1
	}
	if s := e.shared[f]; s != nil {
		return s, nil
	}
	s, err := openShared(ip, firstEven(e.cfg.PortMin), runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, err
	}
	e.shared[f] = s
	for i := range s.rx {
		e.wg.Add(1)
		go e.readShared(s, i)
	}
	return s, nil
}

// sendBatch collects one worker's packets of one family for sendmmsg.
type sendBatch struct {
	set *sharedSet
	w   *batchWriter
}

// writeShared queues pkt (valid until the leg's next tick) for dst in the
// worker's batch of the leg's family.
func (m *mixer) writeShared(l *Leg, pkt []byte, dst netip.AddrPort) error {
	f := 0
	if l.sh.v6 {
		f = 1
	}
	b := &m.out[f]
	if b.w == nil {
		b.w = newBatchWriter(sharedBatch)
	}
	b.set = l.sh
	b.w.add(pkt, dst, l.sh.v6)
	if b.w.full() {
		m.flushBatch(b)
	}
	return nil
}

// flush sends what the worker's batches hold.
func (m *mixer) flush() {
	for f := range m.out {
		if b := &m.out[f]; b.w != nil && b.w.queued() > 0 {
			m.flushBatch(b)
		}
	}
}

// flushBatch sends a batch on the next socket of its port; datagrams the
// kernel refused are taken off the tick's sent count.
func (m *mixer) flushBatch(b *sendBatch) {
	sock := b.set.batch[int(b.set.next.Add(1))%len(b.set.batch)]
	failed, _ := b.w.flush(sock)
	m.sent -= failed
}
