package client

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Source fills one frame of samples at a time (the microphone side).
type Source interface {
	Fill(dst []int16)
}

// Sink takes one frame of received, mixed audio at a time (the speaker
// side). Close flushes it.
type Sink interface {
	Write(frame []int16) error
	Close() error
}

// silence is a source of zeros.
type silence struct{}

func (silence) Fill(dst []int16) { clear(dst) }

// tone is a sine source.
type tone struct {
	step, phase float64
}

func (t *tone) Fill(dst []int16) {
	for i := range dst {
		dst[i] = int16(8000 * math.Sin(t.phase))
		t.phase += t.step
		if t.phase > 2*math.Pi {
			t.phase -= 2 * math.Pi
		}
	}
}

// loop plays samples over and over.
type loop struct {
	samples []int16
	pos     int
}

func (l *loop) Fill(dst []int16) {
	for i := range dst {
		dst[i] = l.samples[l.pos]
		l.pos = (l.pos + 1) % len(l.samples)
	}
}

// parseSource builds the source named by spec: "silence", "tone:HZ" or a
// WAV file (16-bit mono PCM at rate, looped). With check only the spec is
// validated.
func parseSource(spec string, check bool) (Source, error) {
	const rate = 8000
	switch {
	case spec == "silence":
		return silence{}, nil
	case strings.HasPrefix(spec, "tone:"):
		hz, err := strconv.ParseFloat(strings.TrimPrefix(spec, "tone:"), 64)
		if err != nil || hz <= 0 || hz >= rate/2 {
			return nil, fmt.Errorf("%q: want tone:HZ with 0 < HZ < %d", spec, rate/2)
		}
		return &tone{step: 2 * math.Pi * hz / rate}, nil
	case strings.HasSuffix(strings.ToLower(spec), ".wav"):
		f, err := os.Open(spec)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		s, err := readWAV(f, rate)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec, err)
		}
		if check {
			return nil, nil
		}
		return &loop{samples: s}, nil
	}
	return nil, fmt.Errorf("%q: want silence, tone:HZ or FILE.wav", spec)
}

// parseSink opens the sink named by spec: "null" or a WAV file to write.
func parseSink(spec string) (Sink, error) {
	if spec == "null" || spec == "" {
		return nullSink{}, nil
	}
	if !strings.HasSuffix(strings.ToLower(spec), ".wav") {
		return nil, fmt.Errorf("--audio-out %q: want FILE.wav or null", spec)
	}
	return createWAV(spec, 8000)
}

type nullSink struct{}

func (nullSink) Write([]int16) error { return nil }
func (nullSink) Close() error        { return nil }

// maxWAVSamples bounds a WAV file read as a source (10 minutes at 8 kHz).
const maxWAVSamples = 10 * 60 * 8000

// readWAV reads a RIFF/WAVE file of 16-bit little-endian mono PCM at rate.
func readWAV(r io.Reader, rate int) ([]int16, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("not a WAV file: %w", err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, errors.New("not a RIFF/WAVE file")
	}
	var haveFmt bool
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return nil, errors.New("no data chunk")
		}
		size := binary.LittleEndian.Uint32(ch[4:])
		switch string(ch[0:4]) {
		case "fmt ":
			if size < 16 || size > 1024 {
				return nil, errors.New("bad fmt chunk")
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, err
			}
			format := binary.LittleEndian.Uint16(b[0:])
			channels := binary.LittleEndian.Uint16(b[2:])
			sr := binary.LittleEndian.Uint32(b[4:])
			bits := binary.LittleEndian.Uint16(b[14:])
			if format != 1 || channels != 1 || int(sr) != rate || bits != 16 {
				return nil, fmt.Errorf("want 16-bit mono PCM at %d Hz, have format %d, %d channels, %d Hz, %d bits", rate, format, channels, sr, bits)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, errors.New("data before fmt")
			}
			n := int(size / 2)
			if n == 0 {
				return nil, errors.New("no samples")
			}
			if n > maxWAVSamples {
				n = maxWAVSamples
			}
			out := make([]int16, n)
			if err := binary.Read(r, binary.LittleEndian, out); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, err
			}
			return out, nil
		default:
			if size > 1<<20 {
				return nil, errors.New("chunk too large")
			}
			if _, err := io.CopyN(io.Discard, r, int64(size+size%2)); err != nil {
				return nil, err
			}
		}
	}
}

// wavFile writes 16-bit mono PCM; the header's sizes are rewritten every
// second of audio and on Close, so a file cut short still plays.
type wavFile struct {
	mu   sync.Mutex
	f    *os.File
	rate int
	n    int // samples written
	buf  []byte
}

func createWAV(path string, rate int) (*wavFile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--audio-out: %w", err)
	}
	w := &wavFile{f: f, rate: rate}
	if err := w.header(); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

func (w *wavFile) header() error {
	var h [44]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+2*w.n))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], uint32(w.rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(2*w.rate))
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(2*w.n))
	_, err := w.f.WriteAt(h[:], 0)
	return err
}

func (w *wavFile) Write(frame []int16) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = w.buf[:0]
	for _, s := range frame {
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(s))
	}
	if _, err := w.f.WriteAt(w.buf, int64(44+2*w.n)); err != nil {
		return err
	}
	before := w.n / w.rate
	w.n += len(frame)
	if w.n/w.rate != before {
		return w.header()
	}
	return nil
}

func (w *wavFile) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return errors.Join(w.header(), w.f.Close())
}

// ReadWAVFile reads a WAV file written by the client (16-bit mono 8 kHz),
// for tests and tools.
func ReadWAVFile(path string) ([]int16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readWAV(f, 8000)
}
