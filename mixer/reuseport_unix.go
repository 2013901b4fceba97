//go:build unix

package mixer

import "golang.org/x/sys/unix"

// setReusePort sets SO_REUSEPORT on a socket before it binds (shared mode).
func setReusePort(fd uintptr) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
}
