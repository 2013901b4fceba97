package audiotest

import (
	"math"
	"strings"

	"github.com/zaf/g711"
)

// ToneGen generates a sine tone with continuous phase across calls.
type ToneGen struct {
	step  float64 // radians per sample
	amp   float64
	phase float64
}

// Tone returns a generator of a sine of freq Hz and peak amplitude
// (0–32767) at sampleRate.
func Tone(freq, amplitude float64, sampleRate int) *ToneGen {
	return &ToneGen{step: 2 * math.Pi * freq / float64(sampleRate), amp: amplitude}
}

// Fill writes the next len(dst) samples.
func (g *ToneGen) Fill(dst []int16) {
	for i := range dst {
		dst[i] = int16(math.Round(g.amp * math.Sin(g.phase)))
		g.phase += g.step
		if g.phase > 2*math.Pi {
			g.phase -= 2 * math.Pi
		}
	}
}

// Samples returns n samples of a fresh tone (a convenience for unit tests).
func Samples(freq, amplitude float64, sampleRate, n int) []int16 {
	s := make([]int16, n)
	Tone(freq, amplitude, sampleRate).Fill(s)
	return s
}

// Goertzel estimates the power of the freq component of samples, Hann
// windowed, normalised so that a full-scale sine (amplitude 32768) at freq
// gives 1.0. freq need not fall on a DFT bin.
func Goertzel(samples []int16, freq float64, sampleRate int) float64 {
	n := len(samples)
	if n == 0 {
		return 0
	}
	w := 2 * math.Pi * freq / float64(sampleRate)
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for i, v := range samples {
		hann := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n))
		s0 := float64(v)/32768*hann + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	re := s1 - s2*math.Cos(w)
	im := s2 * math.Sin(w)
	// A sine of amplitude A gives |X| ≈ A·N/4 through a Hann window.
	amp := 4 * math.Sqrt(re*re+im*im) / float64(n)
	return amp * amp
}

// PowerDB is Goertzel in dB relative to a full-scale sine (dBFS), floored
// at -200.
func PowerDB(samples []int16, freq float64, sampleRate int) float64 {
	return toDB(Goertzel(samples, freq, sampleRate))
}

// RMSDB is the RMS level of samples in dB relative to full scale (dBFS of a
// square wave; a full-scale sine reads -3 dB), floored at -200.
func RMSDB(samples []int16) float64 {
	if len(samples) == 0 {
		return -200
	}
	var e float64
	for _, v := range samples {
		f := float64(v) / 32768
		e += f * f
	}
	return toDB(e / float64(len(samples)))
}

func toDB(p float64) float64 {
	if p <= 1e-20 {
		return -200
	}
	return 10 * math.Log10(p)
}

// Encode compresses src into dst (len(src) bytes) with G.711; encoding is
// "PCMU" or "PCMA" (case-insensitive). It panics on another encoding.
func Encode(encoding string, dst []byte, src []int16) {
	ulaw := isUlaw(encoding)
	for i, v := range src {
		if ulaw {
			dst[i] = g711.EncodeUlawFrame(v)
		} else {
			dst[i] = g711.EncodeAlawFrame(v)
		}
	}
}

// Decode expands G.711 src into dst (len(src) samples).
func Decode(encoding string, dst []int16, src []byte) {
	ulaw := isUlaw(encoding)
	for i, b := range src {
		if ulaw {
			dst[i] = g711.DecodeUlawFrame(b)
		} else {
			dst[i] = g711.DecodeAlawFrame(b)
		}
	}
}

func isUlaw(encoding string) bool {
	switch {
	case strings.EqualFold(encoding, "PCMU"):
		return true
	case strings.EqualFold(encoding, "PCMA"):
		return false
	}
	panic("audiotest: unsupported encoding " + encoding)
}
