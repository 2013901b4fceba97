//go:build !linux

package loadtest

import (
	"errors"
	"net"
)

// listenLoopbackAny needs SO_BINDTODEVICE (Linux); elsewhere every caller
// of a shared-mode run gets its own socket.
func listenLoopbackAny() (*net.UDPConn, error) {
	return nil, errors.New("loadtest: no SO_BINDTODEVICE on this system")
}
