package mixer

import "math"

// Prompts: a short sound a leg hears on top of the mix, alone (a
// confirmation in one caller's ear). The clock adds it sample by sample
// to what that leg receives; others hear nothing of it.

// ToneStep is one step of a tone pattern: Hz for Duration milliseconds;
// Hz 0 is a pause.
type ToneStep struct {
	Hz         float64
	DurationMs int
}

// promptLevel is the prompt's amplitude, about -12 dBFS: clearly audible,
// well clear of clipping the mix it rides on.
const promptLevel = 8000

// maxPrompt bounds a prompt (samples): ten seconds at 8 kHz.
const maxPrompt = 80000

// TonePattern renders steps at rate Hz into 16-bit samples, each tone with
// 5 ms ramps so that it does not click. The result is at most ten seconds
// at 8 kHz.
func TonePattern(rate int, steps ...ToneStep) []int16 {
	var out []int16
	ramp := rate / 200
	for _, st := range steps {
		n := rate * st.DurationMs / 1000
		if len(out)+n > maxPrompt {
			n = maxPrompt - len(out)
		}
		for i := 0; i < n; i++ {
			if st.Hz == 0 {
				out = append(out, 0)
				continue
			}
			g := 1.0
			if i < ramp {
				g = float64(i) / float64(ramp)
			} else if n-i < ramp {
				g = float64(n-i) / float64(ramp)
			}
			out = append(out, int16(promptLevel*g*math.Sin(2*math.Pi*st.Hz*float64(i)/float64(rate))))
		}
	}
	return out
}

// Play makes the leg hear samples (at the mixing rate) on top of the mix,
// from the next tick on; a prompt playing is replaced. Only this leg hears
// it. samples is not copied: the caller must not change it afterwards.
func (l *Leg) Play(samples []int16) {
	if len(samples) > maxPrompt {
		samples = samples[:maxPrompt]
	}
	l.mu.Lock()
	l.prompt, l.promptPos = samples, 0
	l.mu.Unlock()
}

// takePrompt copies the prompt's next frame into dst (zero-padded) and
// reports whether there was one. Called by pull with l.mu held.
func (l *Leg) takePrompt(dst []int16) bool {
	if l.promptPos >= len(l.prompt) {
		l.prompt = nil
		return false
	}
	n := copy(dst, l.prompt[l.promptPos:])
	clear(dst[n:])
	l.promptPos += n
	return true
}

// withPrompt is the payload of a leg with a prompt this tick: its mix (the
// sum minus its own frame when it contributes) plus the prompt, encoded for
// this leg alone.
func withPrompt(s *mixSlot, sum []int32) []byte {
	out, cue := s.out[:len(sum)], s.cue[:len(sum)]
	for i := range out {
		v := sum[i] + int32(cue[i])
		if s.contrib {
			v -= int32(s.in[i])
		}
		out[i] = saturate(v)
	}
	s.kind.encode(s.payload, out)
	return s.payload
}
