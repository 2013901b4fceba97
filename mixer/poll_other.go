//go:build !linux

package mixer

import (
	"errors"
	"syscall"
)

// poller is Linux-only (epoll); elsewhere every leg has its own reader.
type poller struct{}

const pollSupported = false

func newPoller(*Engine, int) (*poller, error) {
	return nil, errors.New("mixer: no poller on this system")
}
func (*poller) add(*Leg, int) error { return errors.ErrUnsupported }
func (*poller) remove(*Leg, int)    {}
func (*poller) close()              {}
func (*poller) run()                {}
func (*poller) drain()              {}

var _ syscall.RawConn // the leg keeps a RawConn on every system
