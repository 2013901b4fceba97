package mixer

import "time"

// RFC 3550 A.1 constants.
const (
	seqMod      = 1 << 16
	maxDropout  = 3000
	maxMisorder = 100
)

// rxStats keeps the reception statistics of one remote source as in RFC 3550
// appendix A.1 (extended sequence numbers), A.3 (loss) and A.8 (interarrival
// jitter). A new source is accepted on its first packet (no probation: the
// leg has already latched onto it).
type rxStats struct {
	started       bool
	maxSeq        uint16
	cycles        uint32 // count of sequence number wraps, shifted left 16
	baseSeq       uint32
	badSeq        uint32
	received      uint32
	expectedPrior uint32
	receivedPrior uint32

	haveTransit bool
	transit     uint32
	jitter      uint32 // estimate ×16, in timestamp units (A.8)

	fraction uint8 // fraction lost of the last report interval, /256
}

func (s *rxStats) initSeq(seq uint16) {
	s.started = true
	s.baseSeq = uint32(seq)
	s.maxSeq = seq
	s.badSeq = seqMod + 1
	s.cycles = 0
	s.received = 0
	s.receivedPrior = 0
	s.expectedPrior = 0
}

// update is RFC 3550 A.1 update_seq: it returns false for a packet after a
// very large sequence jump that is not (yet) confirmed by its successor.
func (s *rxStats) update(seq uint16) bool {
	if !s.started {
		s.initSeq(seq)
		s.received++
		return true
	}
	udelta := seq - s.maxSeq
	switch {
	case udelta < maxDropout: // in order, with permissible gap
		if seq < s.maxSeq {
			s.cycles += seqMod
		}
		s.maxSeq = seq
	case uint32(udelta) <= seqMod-maxMisorder: // very large jump
		if uint32(seq) == s.badSeq { // two sequential packets: the source restarted
			s.initSeq(seq)
			s.haveTransit = false
		} else {
			s.badSeq = (uint32(seq) + 1) & (seqMod - 1)
			return false
		}
	default: // duplicate or reordered
	}
	s.received++
	return true
}

// arrival feeds RFC 3550 A.8: ts is the packet's RTP timestamp and arrival
// the receive time in the same units.
func (s *rxStats) arrival(ts, arrival uint32) {
	transit := arrival - ts
	if s.haveTransit {
		d := int64(int32(transit - s.transit))
		if d < 0 {
			d = -d
		}
		j := int64(s.jitter)
		j += d - ((j + 8) >> 4)
		s.jitter = uint32(max(j, 0))
	}
	s.transit = transit
	s.haveTransit = true
}

// resetTransit forgets the jitter reference after a timestamp discontinuity.
func (s *rxStats) resetTransit() { s.haveTransit = false }

func (s *rxStats) extendedMax() uint32 { return s.cycles + uint32(s.maxSeq) }

func (s *rxStats) expected() uint32 { return s.extendedMax() - s.baseSeq + 1 }

// cumulativeLost is RFC 3550 A.3 (negative with duplicates).
func (s *rxStats) cumulativeLost() int64 {
	if !s.started {
		return 0
	}
	return int64(s.expected()) - int64(s.received)
}

// jitterUnits is the interarrival jitter in timestamp units.
func (s *rxStats) jitterUnits() uint32 { return s.jitter >> 4 }

// reportBlock computes the values of a reception report and starts a new
// interval (A.3).
func (s *rxStats) reportBlock() (fraction uint8, lost uint32, extMax uint32, jitter uint32) {
	expected := s.expected()
	expectedInterval := expected - s.expectedPrior
	s.expectedPrior = expected
	receivedInterval := s.received - s.receivedPrior
	s.receivedPrior = s.received
	lostInterval := int64(expectedInterval) - int64(receivedInterval)
	if expectedInterval == 0 || lostInterval <= 0 {
		s.fraction = 0
	} else {
		s.fraction = uint8(min((lostInterval<<8)/int64(expectedInterval), 255))
	}
	cum := min(max(s.cumulativeLost(), -0x800000), 0x7fffff)
	return s.fraction, uint32(cum) & 0xffffff, s.extendedMax(), s.jitterUnits()
}

// NTP timestamps (RFC 3550 §4).
const ntpEpochOffset = 2208988800 // seconds from 1900 to 1970

func ntpTime(t time.Time) uint64 {
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := (uint64(t.Nanosecond()) << 32) / 1e9
	return secs<<32 | frac
}

// ntpMiddle is the compact 32-bit NTP format used by LSR and DLSR.
func ntpMiddle(t time.Time) uint32 { return uint32(ntpTime(t) >> 16) }

// compactToDuration converts 1/65536-second units.
func compactToDuration(v uint32) time.Duration {
	return time.Duration(uint64(v) * uint64(time.Second) >> 16)
}

func durationToCompact(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return uint32(uint64(d) << 16 / uint64(time.Second))
}
