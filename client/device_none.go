//go:build !malgo || !cgo

package client

import "errors"

// DeviceSupport says whether this build can use the system's sound device.
const DeviceSupport = false

// soundDevice is absent from this build.
type soundDevice struct{}

func openDevice(int) (*soundDevice, error) {
	return nil, errors.New("sound device: this build has no sound device support (build with cgo and -tags malgo)")
}

func (*soundDevice) Fill(dst []int16)    { clear(dst) }
func (*soundDevice) Write([]int16) error { return nil }
func (*soundDevice) Close() error        { return nil }
