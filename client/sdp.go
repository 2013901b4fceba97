package client

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pion/sdp/v3"

	"cusax.dev/bridge/mixer"
)

// offerSDP is the client's offer: PCMU, PCMA and telephone-event 101 on
// one audio m-line, with the direction given (sendrecv, or sendonly to
// hold).
func offerSDP(addr netip.Addr, port int, version uint64, direction string) ([]byte, error) {
	at := "IP4"
	if addr.Is6() {
		at = "IP6"
	}
	sd := &sdp.SessionDescription{
		Origin: sdp.Origin{Username: "-", SessionID: uint64(time.Now().UnixNano()), SessionVersion: version,
			NetworkType: "IN", AddressType: at, UnicastAddress: addr.String()},
		SessionName:           "cusax client",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: at, Address: &sdp.Address{Address: addr.String()}},
		TimeDescriptions:      []sdp.TimeDescription{{}},
	}
	md := &sdp.MediaDescription{MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: port}, Protos: []string{"RTP", "AVP"}}}
	for _, c := range mixer.Codecs() {
		md.WithCodec(c.PayloadType, c.Name, uint32(c.ClockRate), 0, "")
	}
	md.WithCodec(101, mixer.TelephoneEvent, 8000, 0, "0-16").
		WithValueAttribute("ptime", "20").WithPropertyAttribute(direction)
	return sd.WithMedia(md).Marshal()
}

// answer is what the focus's SDP answer settled.
type answer struct {
	remote netip.AddrPort
	codec  mixer.Codec
	dtmfPT uint8
}

// parseAnswer reads the audio m-line of an SDP answer.
func parseAnswer(raw []byte) (answer, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(raw); err != nil {
		return answer{}, fmt.Errorf("bad SDP answer: %w", err)
	}
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 {
			continue
		}
		c := m.ConnectionInformation
		if c == nil {
			c = sd.ConnectionInformation
		}
		if c == nil || c.Address == nil {
			return answer{}, errors.New("SDP answer without a connection address")
		}
		ip, err := netip.ParseAddr(c.Address.Address)
		if err != nil {
			return answer{}, fmt.Errorf("SDP answer address %q: %w", c.Address.Address, err)
		}
		a := answer{remote: netip.AddrPortFrom(ip, uint16(m.MediaName.Port.Value)), dtmfPT: 101}
		found := false
		for _, f := range m.MediaName.Formats {
			pt, err := strconv.Atoi(f)
			if err != nil || pt < 0 || pt > 127 {
				continue
			}
			cd, err := sd.GetCodecForPayloadType(uint8(pt))
			if err != nil {
				continue
			}
			if strings.EqualFold(cd.Name, mixer.TelephoneEvent) {
				a.dtmfPT = uint8(pt)
				continue
			}
			if mc, ok := mixer.LookupCodec(cd.Name); ok && !found && int(cd.ClockRate) == mc.ClockRate {
				mc.PayloadType = uint8(pt)
				a.codec, found = mc, true
			}
		}
		if !found {
			return answer{}, errors.New("the SDP answer has no codec the client speaks (PCMU, PCMA)")
		}
		return a, nil
	}
	return answer{}, errors.New("the SDP answer has no audio stream")
}
