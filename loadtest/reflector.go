package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// Reflector is the I/O floor: one UDP socket and one reader goroutine per
// leg, like the bridge's per-call mode, sending every datagram straight
// back to its source. It moves the packets the bridge moves and mixes
// nothing.
type Reflector struct {
	conns []*net.UDPConn
	wg    sync.WaitGroup
}

// NewReflector binds n sockets on ip (ports chosen by the kernel).
func NewReflector(ip netip.Addr, n int) (*Reflector, error) {
	r := &Reflector{}
	for range n {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("loadtest: reflector bind: %w", err)
		}
		r.conns = append(r.conns, c)
	}
	return r, nil
}

// Ports are the reflector's ports, one per leg.
func (r *Reflector) Ports() []int {
	ps := make([]int, len(r.conns))
	for i, c := range r.conns {
		ps[i] = c.LocalAddr().(*net.UDPAddr).Port
	}
	return ps
}

// Run echoes until ctx ends, then closes the sockets.
func (r *Reflector) Run(ctx context.Context) {
	for _, c := range r.conns {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			buf := make([]byte, 1500)
			for {
				n, src, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					if errors.Is(err, net.ErrClosed) {
						return
					}
					continue
				}
				_, _ = c.WriteToUDPAddrPort(buf[:n], src)
			}
		}()
	}
	<-ctx.Done()
	r.Close()
	r.wg.Wait()
}

// Close closes every socket.
func (r *Reflector) Close() {
	for _, c := range r.conns {
		c.Close()
	}
}
