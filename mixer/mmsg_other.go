//go:build !linux

package mixer

import (
	"net"
	"net/netip"
	"sync"
)

// Shared mode runs on Linux only (config refuses it elsewhere); these
// one-datagram-at-a-time versions keep the package building.

type batchSock struct {
	c  *net.UDPConn
	v6 bool
}

func newBatchSock(c *net.UDPConn, v6 bool) (*batchSock, error) { return &batchSock{c: c, v6: v6}, nil }

type batchReader struct {
	mu  sync.Mutex
	buf []byte
	n   int
	src netip.AddrPort
}

func newBatchReader(_, bufLen int) *batchReader { return &batchReader{buf: make([]byte, bufLen)} }

func (r *batchReader) read(s *batchSock) (int, error) {
	n, src, err := s.c.ReadFromUDPAddrPort(r.buf)
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	r.n, r.src = n, unmap(src)
	return 1, nil
}

func (r *batchReader) drain(*batchSock) (int, bool) { return 0, false }

func (r *batchReader) msg(int) ([]byte, netip.AddrPort) { return r.buf[:r.n], r.src }

type batchWriter struct {
	pkts [][]byte
	dsts []netip.AddrPort
}

func newBatchWriter(size int) *batchWriter {
	return &batchWriter{pkts: make([][]byte, 0, size), dsts: make([]netip.AddrPort, 0, size)}
}

func (w *batchWriter) queued() int { return len(w.pkts) }

func (w *batchWriter) full() bool { return len(w.pkts) == cap(w.pkts) }

func (w *batchWriter) add(pkt []byte, dst netip.AddrPort, _ bool) {
	w.pkts, w.dsts = append(w.pkts, pkt), append(w.dsts, dst)
}

func (w *batchWriter) flush(s *batchSock) (failed int, err error) {
	for i, p := range w.pkts {
		if _, e := s.c.WriteToUDPAddrPort(p, w.dsts[i]); e != nil {
			failed++
			if err == nil {
				err = e
			}
		}
		w.pkts[i] = nil
	}
	w.pkts, w.dsts = w.pkts[:0], w.dsts[:0]
	return failed, err
}
