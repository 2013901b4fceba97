package loadtest

import (
	"context"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenLoopbackAny binds a UDP socket on the wildcard address restricted
// to the loopback device (SO_BINDTODEVICE "lo"): it receives what is sent
// to any 127/8 address on its port and nothing from another interface, so
// that a few sockets can give thousands of callers their own source
// address (IP_PKTINFO) — the bridge's shared mode tells callers apart by
// their exact address.
func listenLoopbackAny() (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, "lo") }); err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", "0.0.0.0:0")
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}
