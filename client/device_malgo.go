//go:build malgo && cgo

package client

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/gen2brain/malgo"
)

// DeviceSupport says whether this build can use the system's sound device.
const DeviceSupport = true

// soundDevice is the system's sound device through miniaudio (malgo, which
// loads ALSA or PulseAudio at run time): one duplex stream, 16-bit mono at
// the codec's rate. The device's callback and the RTP clock meet in two
// bounded sample queues.
type soundDevice struct {
	ctx *malgo.AllocatedContext
	dev *malgo.Device

	mu       sync.Mutex
	captured []int16 // from the microphone, at most maxQueue
	playback []int16 // to the speaker, at most maxQueue
}

// maxQueue bounds each queue: 200 ms at 8 kHz.
const maxQueue = 1600

func openDevice(rate int) (*soundDevice, error) {
	ctx, err := malgo.InitContext(nil, malgo.ContextConfig{}, nil)
	if err != nil {
		return nil, fmt.Errorf("sound device: %w", err)
	}
	d := &soundDevice{ctx: ctx}
	cfg := malgo.DefaultDeviceConfig(malgo.Duplex)
	cfg.Capture.Format, cfg.Capture.Channels = malgo.FormatS16, 1
	cfg.Playback.Format, cfg.Playback.Channels = malgo.FormatS16, 1
	cfg.SampleRate = uint32(rate)
	dev, err := malgo.InitDevice(ctx.Context, cfg, malgo.DeviceCallbacks{Data: d.data})
	if err != nil {
		_ = ctx.Uninit()
		ctx.Free()
		return nil, fmt.Errorf("sound device: %w", err)
	}
	if err := dev.Start(); err != nil {
		dev.Uninit()
		_ = ctx.Uninit()
		ctx.Free()
		return nil, fmt.Errorf("sound device: %w", err)
	}
	d.dev = dev
	return d, nil
}

// data is miniaudio's callback: take the microphone's samples, give the
// speaker what the call played out (silence when there is none).
func (d *soundDevice) data(out, in []byte, frames uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := 0; i+1 < len(in); i += 2 {
		d.captured = append(d.captured, int16(binary.LittleEndian.Uint16(in[i:])))
	}
	if n := len(d.captured) - maxQueue; n > 0 {
		d.captured = d.captured[:copy(d.captured, d.captured[n:])]
	}
	for i := 0; i+1 < len(out); i += 2 {
		var s int16
		if len(d.playback) > 0 {
			s, d.playback = d.playback[0], d.playback[1:]
		}
		binary.LittleEndian.PutUint16(out[i:], uint16(s))
	}
}

// Fill is the microphone as a Source.
func (d *soundDevice) Fill(dst []int16) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := copy(dst, d.captured)
	clear(dst[n:])
	d.captured = d.captured[:copy(d.captured, d.captured[n:])]
}

// Write is the speaker as a Sink.
func (d *soundDevice) Write(frame []int16) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.playback = append(d.playback, frame...)
	if n := len(d.playback) - maxQueue; n > 0 {
		d.playback = d.playback[:copy(d.playback, d.playback[n:])]
	}
	return nil
}

// Close stops and releases the device.
func (d *soundDevice) Close() error {
	d.dev.Uninit()
	err := d.ctx.Uninit()
	d.ctx.Free()
	return err
}
