package mixer

import (
	"errors"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// poller reads the RTP sockets of many legs from one goroutine, so that a
// packet costs one recvfrom instead of a goroutine wake-up, and the clock
// never queues behind thousands of runnable socket readers (with
// GOMAXPROCS=1 a preempted clock used to wait behind every reader woken
// meanwhile). Its sockets are in a level-triggered epoll set; the epoll fd
// itself waits in Go's netpoller (it is readable while a socket is), so
// no thread blocks in epoll_wait. One poll round reads one datagram from
// every ready socket; what remains is reported again by the next round.
//
// The engine runs one poller per GOMAXPROCS; a leg belongs to the poller
// of its port-pair index. With one P (GOMAXPROCS=1) the clock also drains
// every poller at the start of a tick (drain), so that a packet that
// arrived before the tick is in its jitter buffer when the tick pulls,
// however the scheduler ordered the two goroutines: without it, under
// load, packets were read a tick late often enough to grow every jitter
// buffer to its maximum. mu makes the poller goroutine and the clock take
// turns over the scratch state.
type poller struct {
	e      *Engine
	epfd   int
	file   *os.File // epfd, registered with Go's netpoller
	rc     syscall.RawConn
	legs   []atomic.Pointer[Leg] // by port-pair index
	closed atomic.Bool

	// owned by whoever holds mu: the poller goroutine, or the clock in drain
	mu     sync.Mutex
	events []unix.EpollEvent
	ready  int
	buf    []byte
	rsa    unix.RawSockaddrAny
	rlen   uint32
	rn     int
	rerr   syscall.Errno
	waitFn func(fd uintptr) bool // method values, made once (no allocation per call)
	readFn func(fd uintptr) bool
	peekFn func(fd uintptr)
}

func newPoller(e *Engine, pairs int) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("setnonblock", err)
	}
	f := os.NewFile(uintptr(epfd), "mixer-epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	p := &poller{e: e, epfd: epfd, file: f, rc: rc, legs: make([]atomic.Pointer[Leg], pairs),
		events: make([]unix.EpollEvent, 256), buf: make([]byte, 2048)}
	p.waitFn = p.wait
	p.peekFn = p.peek
	p.readFn = p.read
	return p, nil
}

// add starts reading l's RTP socket.
func (p *poller) add(l *Leg, idx int) error {
	p.legs[idx].Store(l)
	var cerr error
	err := l.rtpRaw.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(idx)}
		cerr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err = errors.Join(err, cerr); err != nil {
		p.legs[idx].Store(nil)
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// remove stops reading l's socket; call before closing it.
func (p *poller) remove(l *Leg, idx int) {
	p.legs[idx].CompareAndSwap(l, nil)
	_ = l.rtpRaw.Control(func(fd uintptr) {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	})
}

func (p *poller) close() {
	p.closed.Store(true)
	p.file.Close()
}

// wait collects ready sockets; false parks until the epoll fd is readable.
// It returns true (done) with p.mu held.
func (p *poller) wait(uintptr) bool {
	p.mu.Lock()
	n, err := unix.EpollWait(p.epfd, p.events, 0)
	if err != nil || n <= 0 {
		p.ready = 0
		if err != nil && err != unix.EINTR && err != unix.EAGAIN {
			return true
		}
		p.mu.Unlock()
		return false
	}
	p.ready = n
	return true
}

// peek collects ready sockets without waiting; p.mu held.
func (p *poller) peek(uintptr) {
	n, err := unix.EpollWait(p.epfd, p.events, 0)
	if err != nil || n < 0 {
		n = 0
	}
	p.ready = n
}

// drain reads, on the caller's goroutine and without blocking, what the
// sockets hold now; it does nothing while the poller goroutine is reading.
func (p *poller) drain() {
	if !p.mu.TryLock() {
		return
	}
	defer p.mu.Unlock()
	for range drainRounds {
		// Control keeps epfd open meanwhile (Read would wait behind the
		// poller goroutine parked in it)
		if err := p.rc.Control(p.peekFn); err != nil || p.ready <= 0 {
			return
		}
		now := time.Now()
		for i := range p.ready {
			if l := p.legs[p.events[i].Fd].Load(); l != nil {
				p.readLeg(l, now)
			}
		}
	}
}

// read takes one datagram from a ready socket, without blocking.
func (p *poller) read(fd uintptr) bool {
	p.rlen = uint32(unsafe.Sizeof(p.rsa))
	n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p.buf[0])), uintptr(len(p.buf)),
		unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(&p.rsa)), uintptr(unsafe.Pointer(&p.rlen)))
	p.rn, p.rerr = int(n), errno
	return true
}

// run is the poller goroutine; it returns when the engine closes.
func (p *poller) run() {
	defer p.e.wg.Done()
	for {
		err := p.rc.Read(p.waitFn) // nil: p.mu held
		now := time.Now()
		if err != nil {
			if p.closed.Load() {
				return
			}
			p.e.log.Debug("RTP poll failed", "err", err)
			time.Sleep(time.Millisecond) // no busy loop on a persistent error
			continue
		}
		for i := range p.ready {
			if l := p.legs[p.events[i].Fd].Load(); l != nil {
				p.readLeg(l, now)
			}
		}
		p.mu.Unlock()
		// Under load a socket is always ready and the poller would never
		// park: yield after every round, or a clock tick that came due
		// waits for the scheduler's 10 ms preemption (GOMAXPROCS=1).
		runtime.Gosched()
	}
}

func (p *poller) readLeg(l *Leg, now time.Time) {
	p.rn, p.rerr = 0, 0
	if err := l.rtpRaw.Read(p.readFn); err != nil || p.rerr != 0 || p.rn <= 0 {
		return // closed, EAGAIN (another reader drained it) or an ICMP error
	}
	src, ok := sockaddr(&p.rsa)
	if !ok {
		return
	}
	l.receive(p.buf[:p.rn], src, now)
}

// sockaddr converts a kernel socket address without allocating.
func sockaddr(rsa *unix.RawSockaddrAny) (netip.AddrPort, bool) {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		pb := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(pb[0])<<8|uint16(pb[1])), true
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		pb := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(pb[0])<<8|uint16(pb[1])), true
	}
	return netip.AddrPort{}, false
}

// pollSupported says whether legs read through pollers on this system.
const pollSupported = true
