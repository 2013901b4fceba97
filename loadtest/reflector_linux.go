//go:build linux

package loadtest

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// RunPoll is Run with the bridge's receive design (mixer's poller): every
// socket in one level-triggered epoll set, one goroutine that reads each
// ready socket with one non-blocking recvfrom and echoes with one sendto.
// It is the I/O floor of the bridge's per-call mode: the same system
// calls per packet, no mixing. It returns when ctx ends.
func (r *Reflector) RunPoll(ctx context.Context) error {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	defer unix.Close(epfd)
	raws := make([]syscall.RawConn, len(r.conns))
	for i, c := range r.conns {
		if raws[i], err = c.SyscallConn(); err != nil {
			return err
		}
		var cerr error
		if err := raws[i].Control(func(fd uintptr) {
			ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}
			cerr = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
		}); err != nil || cerr != nil {
			return errors.Join(err, cerr)
		}
	}
	events := make([]unix.EpollEvent, 256)
	buf := make([]byte, 1500)
	var rsa unix.RawSockaddrAny
	var rlen uint32
	echo := func(fd uintptr) bool {
		rlen = uint32(unsafe.Sizeof(rsa))
		n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
			unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&rlen)))
		if errno == 0 && n > 0 {
			_, _, _ = unix.Syscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&buf[0])), n, 0,
				uintptr(unsafe.Pointer(&rsa)), uintptr(rlen))
		}
		return true
	}
	for ctx.Err() == nil {
		n, err := unix.EpollWait(epfd, events, int(100*time.Millisecond/time.Millisecond))
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return os.NewSyscallError("epoll_wait", err)
		}
		for _, ev := range events[:n] {
			_ = raws[ev.Fd].Read(echo)
		}
	}
	r.Close()
	return nil
}
