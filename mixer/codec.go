package mixer

import (
	"strings"

	"github.com/zaf/g711"
)

// Codec identifies an RTP audio payload format as negotiated in SDP.
type Codec struct {
	Name        string // encoding name as in a=rtpmap, e.g. "PCMU"
	PayloadType uint8  // RTP payload type number
	ClockRate   int    // RTP clock rate in Hz
}

// TelephoneEvent is the SDP encoding name of RFC 4733 events.
const TelephoneEvent = "telephone-event"

// PCMU returns G.711 µ-law (static payload type 0, 8000 Hz).
func PCMU() Codec { return Codec{Name: "PCMU", PayloadType: 0, ClockRate: 8000} }

// PCMA returns G.711 A-law (static payload type 8, 8000 Hz).
func PCMA() Codec { return Codec{Name: "PCMA", PayloadType: 8, ClockRate: 8000} }

// Codecs returns the audio codecs the mixer supports, in order of preference.
func Codecs() []Codec { return []Codec{PCMU(), PCMA()} }

// LookupCodec returns the supported codec with the given encoding name
// (case-insensitive), with its static payload type.
func LookupCodec(name string) (Codec, bool) {
	for _, c := range Codecs() {
		if strings.EqualFold(c.Name, name) {
			return c, true
		}
	}
	return Codec{}, false
}

// Supported reports whether the mixer can encode and decode c.
func (c Codec) Supported() bool { return c.kind() != kindNone }

func (c Codec) String() string { return c.Name }

// codecKind selects the sample codec; the payload type is per leg.
type codecKind uint8

const (
	kindNone codecKind = iota
	kindPCMU
	kindPCMA
	numKinds
)

func (c Codec) kind() codecKind {
	if c.ClockRate != 8000 {
		return kindNone
	}
	switch {
	case strings.EqualFold(c.Name, "PCMU"):
		return kindPCMU
	case strings.EqualFold(c.Name, "PCMA"):
		return kindPCMA
	}
	return kindNone
}

// decode converts len(src) G.711 bytes into dst (len(dst) >= len(src)).
func (k codecKind) decode(dst []int16, src []byte) {
	dst = dst[:len(src)]
	switch k {
	case kindPCMU:
		for i, b := range src {
			dst[i] = g711.DecodeUlawFrame(b)
		}
	case kindPCMA:
		for i, b := range src {
			dst[i] = g711.DecodeAlawFrame(b)
		}
	default:
		clear(dst)
	}
}

// encode converts src into len(src) G.711 bytes in dst.
func (k codecKind) encode(dst []byte, src []int16) {
	dst = dst[:len(src)]
	switch k {
	case kindPCMU:
		for i, s := range src {
			dst[i] = g711.EncodeUlawFrame(s)
		}
	case kindPCMA:
		for i, s := range src {
			dst[i] = g711.EncodeAlawFrame(s)
		}
	}
}

// Direction is the media direction of a leg from the bridge's point of view:
// Send means the bridge sends the mix to the leg, Recv means the bridge takes
// the leg's audio into the mix. It matches the attribute the bridge puts in
// its own SDP (an offer of a=sendonly from a phone is answered RecvOnly).
type Direction uint8

// Directions. The zero value is SendRecv.
const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

// Sends reports whether the bridge sends audio to the leg.
func (d Direction) Sends() bool { return d == SendRecv || d == SendOnly }

// Receives reports whether the leg's audio is taken into the mix.
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly }

// String names the direction for logs, with the words SDP uses; reading
// and writing SDP is the signalling's business (see the focus's sdp.go).
func (d Direction) String() string {
	switch d {
	case SendRecv:
		return "sendrecv"
	case SendOnly:
		return "sendonly"
	case RecvOnly:
		return "recvonly"
	case Inactive:
		return "inactive"
	}
	return "invalid"
}

// Reverse returns the direction seen from the other end (sendonly ↔ recvonly).
func (d Direction) Reverse() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	}
	return d
}
