package mixer

import "errors"

// errShortDTMF reports a telephone-event payload shorter than 4 bytes.
var errShortDTMF = errors.New("mixer: telephone-event payload shorter than 4 bytes")

// dtmfDigit maps an RFC 4733 §3.2 event code to its digit, 0 for none.
func dtmfDigit(event uint8) rune {
	switch {
	case event <= 9:
		return rune('0' + event)
	case event == 10:
		return '*'
	case event == 11:
		return '#'
	case event <= 15:
		return rune('A' + event - 12)
	}
	return 0
}

// dtmfDecoder turns RFC 4733 telephone-event packets into digits, one per
// event. An event is identified by its RTP timestamp (§2.5.2.2), not by the
// marker bit. The digit is reported on the first end packet (E bit); the
// two retransmitted end packets are ignored. If the end packets are lost
// the digit is reported when the next event starts, when audio resumes
// (flush) or on a timeout (flush).
type dtmfDecoder struct {
	active bool   // ts/event describe an event seen
	done   bool   // its digit was reported (or it has none)
	ts     uint32 // RTP timestamp of the event
	event  uint8
}

// dtmfDigits is up to three digits reported by one packet: the pending one of
// an event whose end was lost, and the new one if it ends at once.
type dtmfDigits struct {
	d [3]rune
	n int
}

func (ds *dtmfDigits) add(r rune) {
	if r != 0 && ds.n < len(ds.d) {
		ds.d[ds.n] = r
		ds.n++
	}
}

// feed processes the payload of a telephone-event packet with timestamp ts.
func (dd *dtmfDecoder) feed(ts uint32, p []byte) (dtmfDigits, error) {
	var out dtmfDigits
	if len(p) < 4 {
		return out, errShortDTMF
	}
	event, end := p[0], p[1]&0x80 != 0
	if dd.active {
		if ts == dd.ts { // same event: update or end (maybe repeated)
			if end && !dd.done {
				dd.done = true
				out.add(dtmfDigit(dd.event))
			}
			return out, nil
		}
		if int32(ts-dd.ts) < 0 { // a straggler of an older event
			return out, nil
		}
		if !dd.done { // the previous event's end packets were lost
			out.add(dtmfDigit(dd.event))
		}
	}
	dd.active, dd.done, dd.ts, dd.event = true, end, ts, event
	if end {
		out.add(dtmfDigit(event))
	}
	return out, nil
}

// pending reports whether an event has started but not been reported.
func (dd *dtmfDecoder) pending() bool { return dd.active && !dd.done }

// flush reports the pending event's digit (audio resumed or timeout).
func (dd *dtmfDecoder) flush() rune {
	if !dd.pending() {
		return 0
	}
	dd.done = true
	return dtmfDigit(dd.event)
}

// flushBefore reports the pending digit if audio with timestamp ts, later
// than the event's start, has resumed.
func (dd *dtmfDecoder) flushBefore(ts uint32) rune {
	if dd.pending() && int32(ts-dd.ts) > 0 {
		return dd.flush()
	}
	return 0
}

func (dd *dtmfDecoder) reset() { *dd = dtmfDecoder{} }
