package mixer

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Batched datagram I/O for shared mode: recvmmsg and sendmmsg on
// preallocated headers, iovecs and socket addresses, so a datagram costs
// no allocation (x/net's ReadBatch allocates a *net.UDPAddr per datagram
// and its WriteBatch marshals every address through a pool).

// mmsghdr is struct mmsghdr: a msghdr and the length received or sent
// (Go pads it as C does: 64 bytes on 64-bit, 32 on 32-bit systems).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// batchSock is one shared socket and its raw connection.
type batchSock struct {
	c  *net.UDPConn
	rc syscall.RawConn
	v6 bool
}

func newBatchSock(c *net.UDPConn, v6 bool) (*batchSock, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("mixer: shared socket: %w", err)
	}
	return &batchSock{c: c, rc: rc, v6: v6}, nil
}

// linkHeaders points each header at its socket address and its one iovec.
func linkHeaders(hdrs []mmsghdr, names []unix.RawSockaddrAny, iovs []unix.Iovec) {
	for i := range hdrs {
		h := &hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&names[i]))
		h.Iov = &iovs[i]
		h.SetIovlen(1)
	}
}

// batchReader is one shared socket's recvmmsg state. Its reader goroutine
// and the clock (drain) take turns through mu: read and drain return with
// it held, and the caller unlocks once it has handled the datagrams.
type batchReader struct {
	mu    sync.Mutex
	hdrs  []mmsghdr
	names []unix.RawSockaddrAny
	iovs  []unix.Iovec
	bufs  [][]byte
	n     int
	errno syscall.Errno
	recv  func(fd uintptr) bool // r.recvmmsg, bound once
	tryFd func(fd uintptr)      // r.tryRecvmmsg for Control, bound once
}

func newBatchReader(size, bufLen int) *batchReader {
	r := &batchReader{hdrs: make([]mmsghdr, size), names: make([]unix.RawSockaddrAny, size),
		iovs: make([]unix.Iovec, size), bufs: make([][]byte, size)}
	linkHeaders(r.hdrs, r.names, r.iovs)
	for i := range r.bufs {
		r.bufs[i] = make([]byte, bufLen)
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(bufLen)
	}
	r.recv = r.recvmmsg
	r.tryFd = func(fd uintptr) { r.tryRecvmmsg(fd) }
	return r
}

// recvmmsg reads without blocking; it takes r.mu first and keeps it when
// it is done (true).
func (r *batchReader) recvmmsg(fd uintptr) bool {
	r.mu.Lock()
	if !r.tryRecvmmsg(fd) || r.n == 0 && r.errno == 0 {
		r.mu.Unlock()
		return false // wait until readable
	}
	return true
}

// tryRecvmmsg reads what the socket holds without blocking; r.n is 0 when
// nothing was there. r.mu held.
func (r *batchReader) tryRecvmmsg(fd uintptr) bool {
	r.reset()
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return true
		}
		r.n, r.errno = int(n), e
		return true
	}
}

func (r *batchReader) reset() {
	for i := range r.hdrs {
		r.hdrs[i].hdr.Namelen = unix.SizeofSockaddrAny
		r.hdrs[i].n = 0
	}
	r.n, r.errno = 0, 0
}

// read blocks until at least one datagram arrived on s and returns how many
// (up to the reader's size) with r.mu held; msg gives each. On an error
// r.mu is not held.
func (r *batchReader) read(s *batchSock) (int, error) {
	if err := s.rc.Read(r.recv); err != nil {
		return 0, err
	}
	if r.errno != 0 {
		r.mu.Unlock()
		return 0, fmt.Errorf("recvmmsg: %w", r.errno)
	}
	return r.n, nil
}

// drain reads what s holds now without blocking and returns how many
// datagrams with r.mu held (ok); not ok (and nothing held) while the
// reader goroutine is reading.
func (r *batchReader) drain(s *batchSock) (n int, ok bool) {
	if !r.mu.TryLock() {
		return 0, false
	}
	// Control, not Read: the reader goroutine may be parked in Read,
	// holding the descriptor's read lock until a datagram comes
	if err := s.rc.Control(r.tryFd); err != nil || r.errno != 0 {
		r.n = 0
	}
	return r.n, true
}

// msg is the i-th datagram of the last read and its source address
// (IPv4-mapped addresses unmapped; invalid for an unknown family).
func (r *batchReader) msg(i int) ([]byte, netip.AddrPort) {
	src, _ := sockaddr(&r.names[i])
	return r.bufs[i][:r.hdrs[i].n], src
}

// setNetPort writes a port in network byte order.
func setNetPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// batchWriter is one clock worker's sendmmsg queue for one family.
type batchWriter struct {
	hdrs  []mmsghdr
	names []unix.RawSockaddrAny
	iovs  []unix.Iovec
	n     int // queued
	off   int // first not yet sent, during flush
	sent  int
	errno syscall.Errno
	send  func(fd uintptr) bool // w.sendmmsg, bound once
}

func newBatchWriter(size int) *batchWriter {
	w := &batchWriter{hdrs: make([]mmsghdr, size), names: make([]unix.RawSockaddrAny, size), iovs: make([]unix.Iovec, size)}
	linkHeaders(w.hdrs, w.names, w.iovs)
	w.send = w.sendmmsg
	return w
}

// queued is the number of datagrams waiting for flush.
func (w *batchWriter) queued() int { return w.n }

// full reports whether the queue must be flushed before the next add.
func (w *batchWriter) full() bool { return w.n == len(w.hdrs) }

// add queues pkt (which must stay valid until flush) for dst, in the
// address format of a socket of family v6.
func (w *batchWriter) add(pkt []byte, dst netip.AddrPort, v6 bool) {
	i := w.n
	sa := &w.names[i]
	h := &w.hdrs[i].hdr
	if v6 {
		sa6 := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		*sa6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: dst.Addr().As16()}
		setNetPort(&sa6.Port, dst.Port())
		h.Namelen = unix.SizeofSockaddrInet6
	} else {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: dst.Addr().Unmap().As4()}
		setNetPort(&sa4.Port, dst.Port())
		h.Namelen = unix.SizeofSockaddrInet4
	}
	w.iovs[i].Base = unsafe.SliceData(pkt)
	w.iovs[i].SetLen(len(pkt))
	w.n++
}

func (w *batchWriter) sendmmsg(fd uintptr) bool {
	for {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.hdrs[w.off])), uintptr(w.n-w.off), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EINTR {
			continue
		}
		// EAGAIN (the socket's buffer is full) is not waited for: the
		// tick must go on, the rest of the batch is dropped
		w.sent, w.errno = int(n), e
		return true
	}
}

// flush sends the queue on s and empties it; it returns the datagrams the
// kernel refused (dropped) and the first error.
func (w *batchWriter) flush(s *batchSock) (failed int, err error) {
	for w.off = 0; w.off < w.n; {
		w.sent, w.errno = 0, 0
		if err = s.rc.Write(w.send); err == nil && w.errno != 0 {
			err = fmt.Errorf("sendmmsg: %w", w.errno)
		}
		if err != nil || w.sent <= 0 {
			failed = w.n - w.off
			break
		}
		w.off += w.sent
	}
	for i := range w.iovs[:w.n] {
		w.iovs[i].Base = nil // the packets belong to their legs
	}
	w.n, w.off = 0, 0
	return failed, err
}
