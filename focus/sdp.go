package focus

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"cusax.dev/bridge/mixer"
)

// SDP offer/answer (RFC 3264) for the focus's single audio stream. Every
// function here is pure: bytes in, negotiated parameters and bytes out.
//
// Choices:
//   - The answer carries exactly one audio codec, the first one of the
//     offer's m-line that the mixer supports (the offerer's preference),
//     with the offerer's payload type number, plus telephone-event when
//     offered at 8000 Hz (same payload type, events intersected with 0-15).
//   - Only the first usable audio m-line (RTP/AVP or RTP/AVPF, non-zero
//     port) is accepted; every other m-line is answered with port 0.
//   - Hold: the answer mirrors the offered direction (sendonly → recvonly,
//     recvonly → sendonly, inactive → inactive). An RFC 2543 hold
//     (c=0.0.0.0 or ::) counts as "the offerer does not receive".
//   - a=rtcp-mux offered (RFC 5761) is answered with a=rtcp-mux; the leg
//     then sends RTCP from its RTP port to the RTP destination and closes
//     its RTCP port. The focus's own offers propose it too, with a=rtcp
//     naming the port RTCP uses if the answer declines (RFC 5761 §5.1.1).
//     Once a call's leg is muxed it stays so (its RTCP port is gone): a
//     later offer without a=rtcp-mux is answered with a=rtcp and the RTP
//     port (RFC 3605), not a=rtcp-mux (RFC 8035: only in answer to an offer
//     of it), and the focus's re-offers name the RTP port in a=rtcp.
//   - The connection address family must be one the focus serves: its
//     advertised address's, or the second family's when media binds both
//     (rtp.bind_ip with two addresses); the answer is in the offer's
//     family, and a re-INVITE keeps the call's. Otherwise 488, Warning 301.

// ptime is the packetisation interval the focus sends and asks for.
const ptime = 20

// defaultEvents are the RFC 4733 events the mixer decodes: 0-9 * # A-D.
const defaultEvents = uint16(0xffff)

// offerDTMFPT is the telephone-event payload type of the focus's own offers.
const offerDTMFPT = 101

// sdpError is an offer or answer the focus cannot accept, with the SIP
// status and Warning (RFC 3261 §20.43) it deserves.
type sdpError struct {
	Status int    // 400 or 488
	Warn   int    // warn-code: 301, 302, 304, 305, 399
	Text   string // warn-text
}

func (e *sdpError) Error() string { return fmt.Sprintf("sdp: %d %s", e.Warn, e.Text) }

func malformed(format string, args ...any) error {
	return &sdpError{Status: 400, Warn: 399, Text: "Malformed SDP: " + headerSafe(fmt.Sprintf(format, args...))}
}

var (
	errNoAudio      = &sdpError{Status: 488, Warn: 304, Text: "No audio stream offered"}
	errNoCodec      = &sdpError{Status: 488, Warn: 305, Text: "Incompatible media format"}
	errTransport    = &sdpError{Status: 488, Warn: 302, Text: "Incompatible transport protocol"}
	errAddrFamily   = &sdpError{Status: 488, Warn: 301, Text: "Incompatible network address format"}
	errAudioRemoved = &sdpError{Status: 488, Warn: 304, Text: "Audio stream rejected"}
)

// localMedia is what the focus puts into its own SDP for one call.
type localMedia struct {
	// SRTP is the call's SRTP policy, and SRTPKey the focus's SDES key
	// (mixer.SRTPKeyLen bytes) for it, nil with SRTPOff.
	SRTP      SRTPPolicy
	SRTPKey   []byte
	Addr      netip.Addr // advertised address (c= and o=)
	Port      int        // RTP port of the call's leg
	SessionID uint64     // o= sess-id, fixed for the call
	Version   uint64     // o= sess-version, +1 for every new SDP

	// RTCPMuxed: the leg's RTCP is on its RTP port for good
	// (mixer.Leg.RTCPMuxed), whatever this exchange negotiates.
	RTCPMuxed bool
}

// negotiated is the outcome of one offer/answer exchange.
type negotiated struct {
	// Remote is where the peer receives RTP; invalid when it does not
	// receive (c=0.0.0.0 hold, or port 0).
	Remote netip.AddrPort
	// RemoteRTCP is the peer's a=rtcp address (RFC 3605), if it gave one.
	RemoteRTCP netip.AddrPort
	// Codec is the audio codec with the peer's payload type number.
	Codec mixer.Codec
	// DTMF is the telephone-event payload type, 0 when not negotiated.
	DTMF uint8
	// Events is the set of telephone events both sides handle (bit n =
	// event n), zero when DTMF is 0.
	Events uint16
	// RTCPMux: the peer offered a=rtcp-mux (RFC 5761); the answer accepts
	// it and RTCP then uses the RTP port both ways.
	RTCPMux bool
	// Peer is the direction the peer declared (after the c=0.0.0.0 rule).
	Peer mixer.Direction
	// SRTP is the peer's crypto attribute chosen (RFC 4568), nil for
	// plain RTP.
	SRTP *sdesCrypto
}

// Answer returns the direction attribute the focus answers with.
func (n negotiated) Answer() mixer.Direction { return n.Peer.Reverse() }

// Mixer returns the direction the mixer uses for the leg (from the bridge's
// point of view). It follows the SDP, except that a peer that only sends
// (it put the conference on hold) is not mixed either: what a held phone
// sends is music on hold or silence, never speech for the conference.
func (n negotiated) Mixer() mixer.Direction {
	if n.Peer == mixer.SendOnly {
		return mixer.Inactive
	}
	return n.Answer()
}

// OnHold reports whether the peer put the call on hold (it stopped
// receiving).
func (n negotiated) OnHold() bool { return n.Peer == mixer.SendOnly || n.Peer == mixer.Inactive }

// remoteAudio is the parsed audio m-line of a peer's SDP.
type remoteAudio struct {
	index   int // position among the m-lines
	addr    netip.Addr
	port    int
	formats []format // in m-line order
	dir     mixer.Direction
	rtcp    netip.AddrPort // a=rtcp, invalid when absent
	rtcpMux bool           // a=rtcp-mux
	secure  bool           // RTP/SAVP(F)
	crypto  *sdesCrypto    // the first supported a=crypto line
}

// format is one payload type of an m-line with its rtpmap and fmtp.
type format struct {
	pt       uint8
	name     string
	rate     int
	channels int
	fmtp     string
}

// parseSDP parses a peer's SDP and returns it with its usable audio m-line.
func parseSDP(raw []byte, policy SRTPPolicy) (*sdp.SessionDescription, remoteAudio, error) {
	var sd sdp.SessionDescription
	if len(raw) == 0 {
		return nil, remoteAudio{}, malformed("empty body")
	}
	if err := sd.UnmarshalString(string(raw)); err != nil {
		return nil, remoteAudio{}, malformed("%s", err.Error())
	}
	sessDir := mixer.SendRecv
	for _, a := range sd.Attributes {
		if d, ok := readDirection(a); ok {
			sessDir = d
		}
	}
	sawAudio, sawTransport := false, false
	for i, md := range sd.MediaDescriptions {
		if !strings.EqualFold(md.MediaName.Media, "audio") {
			continue
		}
		sawAudio = true
		if md.MediaName.Port.Value == 0 {
			continue // rejected or removed stream
		}
		secure, usableProto := rtpProto(md.MediaName.Protos)
		if !usableProto || (secure && policy == SRTPOff) || (!secure && policy == SRTPRequired) {
			sawTransport = true
			continue
		}
		if md.MediaName.Port.Value < 1 || md.MediaName.Port.Value > 65535 {
			return nil, remoteAudio{}, malformed("audio port %d", md.MediaName.Port.Value)
		}
		ra := remoteAudio{index: i, port: md.MediaName.Port.Value, dir: sessDir, secure: secure}
		ci := md.ConnectionInformation
		if ci == nil {
			ci = sd.ConnectionInformation
		}
		if ci == nil || ci.Address == nil {
			return nil, remoteAudio{}, malformed("no c= line for audio")
		}
		if !strings.EqualFold(ci.NetworkType, "IN") {
			return nil, remoteAudio{}, errAddrFamily
		}
		addr, err := netip.ParseAddr(ci.Address.Address)
		if err != nil {
			return nil, remoteAudio{}, errAddrFamily // FQDN or garbage: the mixer needs an IP
		}
		switch {
		case strings.EqualFold(ci.AddressType, "IP4") && addr.Is4():
		case strings.EqualFold(ci.AddressType, "IP6") && addr.Is6() && !addr.Is4In6():
		default:
			return nil, remoteAudio{}, malformed("c= address is not %s", ci.AddressType)
		}
		ra.addr = addr
		for _, a := range md.Attributes {
			if d, ok := readDirection(a); ok {
				ra.dir = d
			}
			if a.Key == "rtcp" {
				ra.rtcp = parseRTCPAttr(a.Value, addr)
			}
			if a.Key == "rtcp-mux" {
				ra.rtcpMux = true
			}
			if a.Key == "crypto" && secure && ra.crypto == nil {
				if c, ok := parseCrypto(a.Value); ok {
					ra.crypto = &c
				}
			}
		}
		if secure && ra.crypto == nil {
			sawTransport = true // SAVP without a key we can use (DTLS-SRTP, MKI, other suites)
			continue
		}
		ra.formats = formats(md)
		return &sd, ra, nil
	}
	switch {
	case sawTransport:
		return nil, remoteAudio{}, errTransport
	case sawAudio:
		return nil, remoteAudio{}, errAudioRemoved
	}
	return nil, remoteAudio{}, errNoAudio
}

// readDirection translates an SDP direction attribute (RFC 4566 §6, a
// property attribute without value) into the mixer's typed direction, as
// the peer declares it; pion's sdp.NewDirection reads the word (in any
// case, as the focus always did). ok is false for any other attribute.
func readDirection(a sdp.Attribute) (mixer.Direction, bool) {
	if a.Value != "" {
		return mixer.SendRecv, false
	}
	d, err := sdp.NewDirection(strings.ToLower(a.Key))
	if err != nil {
		return mixer.SendRecv, false
	}
	switch d {
	case sdp.DirectionSendOnly:
		return mixer.SendOnly, true
	case sdp.DirectionRecvOnly:
		return mixer.RecvOnly, true
	case sdp.DirectionInactive:
		return mixer.Inactive, true
	}
	return mixer.SendRecv, true
}

// sdpDirection is the SDP direction attribute for the mixer's d.
func sdpDirection(d mixer.Direction) sdp.Direction {
	switch d {
	case mixer.SendOnly:
		return sdp.DirectionSendOnly
	case mixer.RecvOnly:
		return sdp.DirectionRecvOnly
	case mixer.Inactive:
		return sdp.DirectionInactive
	}
	return sdp.DirectionSendRecv
}

// formats lists an m-line's payload types with their rtpmap/fmtp; static
// types without rtpmap take their RFC 3551 names.
func formats(md *sdp.MediaDescription) []format {
	var out []format
	for _, f := range md.MediaName.Formats {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > 127 {
			continue
		}
		fm := format{pt: uint8(n), channels: 1}
		switch n {
		case 0:
			fm.name, fm.rate = "PCMU", 8000
		case 8:
			fm.name, fm.rate = "PCMA", 8000
		}
		out = append(out, fm)
	}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" && a.Key != "fmtp" {
			continue
		}
		ptStr, rest, _ := strings.Cut(strings.TrimSpace(a.Value), " ")
		n, err := strconv.Atoi(ptStr)
		if err != nil {
			continue
		}
		for i := range out {
			if int(out[i].pt) != n {
				continue
			}
			if a.Key == "fmtp" {
				out[i].fmtp = strings.TrimSpace(rest)
				continue
			}
			parts := strings.Split(strings.TrimSpace(rest), "/")
			out[i].name, out[i].rate, out[i].channels = parts[0], 0, 1
			if len(parts) > 1 {
				out[i].rate, _ = strconv.Atoi(parts[1])
			}
			if len(parts) > 2 {
				if c, err := strconv.Atoi(parts[2]); err == nil {
					out[i].channels = c
				}
			}
		}
	}
	return out
}

// choose picks the audio codec (first supported, in the peer's order) and
// telephone-event from the peer's formats.
func choose(ra remoteAudio) (negotiated, error) {
	var n negotiated
	found := false
	for _, f := range ra.formats {
		if f.channels != 1 {
			continue
		}
		if c, ok := mixer.LookupCodec(f.name); ok && f.rate == c.ClockRate && !found {
			c.PayloadType = f.pt
			n.Codec, found = c, true
		}
	}
	if !found {
		return negotiated{}, errNoCodec
	}
	for _, f := range ra.formats {
		if !strings.EqualFold(f.name, mixer.TelephoneEvent) || f.rate != 8000 || f.pt == 0 || f.pt == n.Codec.PayloadType {
			continue
		}
		ev := parseEvents(f.fmtp) & defaultEvents
		if ev != 0 {
			n.DTMF, n.Events = f.pt, ev
		}
		break
	}
	n.Peer = ra.dir
	n.SRTP = ra.crypto
	if ra.addr.IsUnspecified() {
		// RFC 3264 §8.4 / RFC 2543 hold: the peer does not receive.
		switch n.Peer {
		case mixer.SendRecv:
			n.Peer = mixer.SendOnly
		case mixer.RecvOnly:
			n.Peer = mixer.Inactive
		}
	} else {
		n.Remote = netip.AddrPortFrom(ra.addr, uint16(ra.port))
		n.RemoteRTCP = ra.rtcp
	}
	n.RTCPMux = ra.rtcpMux
	return n, nil
}

// parseRTCPAttr reads "a=rtcp:port [IN IP4 addr]" (RFC 3605); the address
// defaults to the media's. Anything unusable yields an invalid AddrPort.
func parseRTCPAttr(v string, media netip.Addr) netip.AddrPort {
	f := strings.Fields(v)
	if len(f) == 0 {
		return netip.AddrPort{}
	}
	port, err := strconv.Atoi(f[0])
	if err != nil || port < 1 || port > 65535 {
		return netip.AddrPort{}
	}
	addr := media
	if len(f) == 4 {
		a, err := netip.ParseAddr(f[3])
		if err != nil || a.Is4() != media.Is4() {
			return netip.AddrPort{}
		}
		addr = a
	}
	if addr.IsUnspecified() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(addr, uint16(port))
}

// parseEvents parses an RFC 4733 event list ("0-15", "0-11,16"). An empty
// or unparsable list means the default 0-15 (RFC 4733 §2.5.1.1). Only events
// 0-15 are kept.
func parseEvents(s string) uint16 {
	s = strings.TrimSpace(s)
	if s == "" {
		return defaultEvents
	}
	var set uint16
	valid := false
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil || a < 0 || a > 255 {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil || b < a || b > 255 {
				continue
			}
		}
		valid = true
		for e := a; e <= b && e < 16; e++ {
			set |= 1 << e
		}
	}
	if !valid {
		return defaultEvents
	}
	return set
}

// formatEvents writes an event set as RFC 4733 ranges ("0-15", "0-9,11").
func formatEvents(set uint16) string {
	var b strings.Builder
	for e := 0; e < 16; {
		if set&(1<<e) == 0 {
			e++
			continue
		}
		end := e
		for end+1 < 16 && set&(1<<(end+1)) != 0 {
			end++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(e))
		if end > e {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(end))
		}
		e = end + 1
	}
	return b.String()
}

// checkFamily rejects a peer address of another family than ours.
func checkFamily(ra remoteAudio, local netip.Addr) error {
	if ra.addr.Is4() != local.Is4() {
		return errAddrFamily
	}
	return nil
}

// offer is a peer's parsed and negotiated offer.
type offer struct {
	sd    *sdp.SessionDescription
	audio remoteAudio
	n     negotiated
}

// parseOffer parses and negotiates a peer's offer for a focus advertising
// local (for the address family check). It allocates nothing, so bad
// offers are refused before any port is taken.
func parseOffer(raw []byte, local netip.Addr, policy SRTPPolicy) (offer, error) {
	sd, ra, err := parseSDP(raw, policy)
	if err != nil {
		return offer{}, err
	}
	n, err := choose(ra)
	if err != nil {
		return offer{}, err
	}
	if err := checkFamily(ra, local); err != nil {
		return offer{}, err
	}
	return offer{sd: sd, audio: ra, n: n}, nil
}

// answer returns the answer SDP to o.
func (o offer) answer(local localMedia) ([]byte, error) {
	ans := session(local)
	for i, md := range o.sd.MediaDescriptions {
		if i != o.audio.index {
			// RFC 3264 §6: a rejected stream keeps its place with port 0.
			ans.MediaDescriptions = append(ans.MediaDescriptions, &sdp.MediaDescription{MediaName: sdp.MediaName{
				Media: md.MediaName.Media, Port: sdp.RangedPort{Value: 0}, Protos: md.MediaName.Protos,
				Formats: rejectedFormats(md.MediaName.Formats),
			}})
			continue
		}
		md := audioMedia(local.Port, []mixer.Codec{o.n.Codec}, o.n.DTMF, o.n.Events, o.n.Answer())
		if o.n.SRTP != nil {
			if len(local.SRTPKey) != mixer.SRTPKeyLen {
				return nil, errors.New("answer: SRTP negotiated without a local key")
			}
			withCrypto(md, sdesCrypto{tag: o.n.SRTP.tag, suite: o.n.SRTP.suite, key: local.SRTPKey})
		}
		switch {
		case o.n.RTCPMux:
			md = md.WithPropertyAttribute("rtcp-mux")
		case local.RTCPMuxed: // RTCP stays on the RTP port
			md = md.WithValueAttribute("rtcp", strconv.Itoa(local.Port))
		}
		ans.MediaDescriptions = append(ans.MediaDescriptions, md)
	}
	out, err := ans.Marshal()
	if err != nil {
		return nil, fmt.Errorf("marshal answer: %w", err)
	}
	return out, nil
}

// rejectedFormats keeps a rejected m-line's formats (at least one is
// required by the grammar).
func rejectedFormats(f []string) []string {
	if len(f) == 0 {
		return []string{"0"}
	}
	return f
}

// createOffer returns the focus's offer for a late-offer INVITE (or a
// re-INVITE without SDP): every supported codec, telephone-event 0-15, and
// RTCP multiplexing with a=rtcp for an answer that declines it.
func createOffer(local localMedia, dir mixer.Direction) []byte {
	sd := session(local)
	md := audioMedia(local.Port, mixer.Codecs(), offerDTMFPT, defaultEvents, dir)
	rtcpPort := local.Port + 1
	if local.RTCPMuxed {
		rtcpPort = local.Port
	}
	md = md.WithValueAttribute("rtcp", strconv.Itoa(rtcpPort)).WithPropertyAttribute("rtcp-mux")
	if local.SRTP == SRTPRequired && len(local.SRTPKey) == mixer.SRTPKeyLen {
		withCrypto(md, sdesCrypto{tag: 1, suite: mixer.SuiteAES128SHA1_80, key: local.SRTPKey})
	}
	sd.MediaDescriptions = append(sd.MediaDescriptions, md)
	out, err := sd.Marshal()
	if err != nil {
		panic(fmt.Sprintf("focus: marshal own offer: %v", err)) // only our own constants go in
	}
	return out
}

// acceptAnswer reads the peer's answer to createOffer.
func acceptAnswer(answer []byte, local localMedia) (negotiated, error) {
	// The focus offers SAVP only when SRTP is required, and plain RTP
	// otherwise: the answer must match.
	policy := SRTPOff
	if local.SRTP == SRTPRequired {
		policy = SRTPRequired
	}
	_, ra, err := parseSDP(answer, policy)
	if err != nil {
		return negotiated{}, err
	}
	offered := map[string]bool{}
	for _, c := range mixer.Codecs() {
		offered[strings.ToUpper(c.Name)] = true
	}
	// An answer may only use what was offered.
	kept := ra.formats[:0:0]
	for _, f := range ra.formats {
		if offered[strings.ToUpper(f.name)] || strings.EqualFold(f.name, mixer.TelephoneEvent) {
			kept = append(kept, f)
		}
	}
	ra.formats = kept
	n, err := choose(ra)
	if err != nil {
		return negotiated{}, err
	}
	if err := checkFamily(ra, local.Addr); err != nil {
		return negotiated{}, err
	}
	return n, nil
}

// session returns the session-level part of the focus's SDP.
func session(local localMedia) *sdp.SessionDescription {
	at := "IP4"
	if !local.Addr.Is4() {
		at = "IP6"
	}
	addr := local.Addr.String()
	return &sdp.SessionDescription{
		Origin: sdp.Origin{Username: "cusax", SessionID: local.SessionID, SessionVersion: local.Version,
			NetworkType: "IN", AddressType: at, UnicastAddress: addr},
		SessionName:           "cusax-bridge",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: at, Address: &sdp.Address{Address: addr}},
		TimeDescriptions:      []sdp.TimeDescription{{Timing: sdp.Timing{}}},
	}
}

// audioMedia builds the focus's audio m-line.
func audioMedia(port int, codecs []mixer.Codec, dtmf uint8, events uint16, dir mixer.Direction) *sdp.MediaDescription {
	md := &sdp.MediaDescription{MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: port}, Protos: []string{"RTP", "AVP"}}}
	for _, c := range codecs {
		md.WithCodec(c.PayloadType, c.Name, uint32(c.ClockRate), 0, "")
	}
	if dtmf != 0 {
		md.WithCodec(dtmf, mixer.TelephoneEvent, 8000, 0, formatEvents(events))
	}
	return md.WithValueAttribute("ptime", strconv.Itoa(ptime)).WithPropertyAttribute(sdpDirection(dir).String())
}

// headerSafe makes text fit a quoted Warning header: no quotes, controls or
// non-ASCII bytes, at most 100 bytes.
func headerSafe(s string) string {
	b := []byte(s)
	if len(b) > 100 {
		b = b[:100]
	}
	for i, c := range b {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b[i] = '\''
		}
	}
	return string(b)
}

// asSDPError returns err as an *sdpError, or a generic 488.
func asSDPError(err error) *sdpError {
	var se *sdpError
	if errors.As(err, &se) {
		return se
	}
	return &sdpError{Status: 488, Warn: 399, Text: "Unacceptable SDP"}
}
