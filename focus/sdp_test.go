package focus

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"

	"cusax.dev/bridge/mixer"
)

// offerSDP builds a phone's offer from an m= line and extra lines; c= is
// session level unless the extra lines override it.
func offerSDP(conn, mline string, extra ...string) []byte {
	lines := []string{"v=0", "o=phone 123 1 IN IP4 192.0.2.10", "s=call"}
	if conn != "" {
		lines = append(lines, conn)
	}
	lines = append(lines, "t=0 0")
	if mline != "" {
		lines = append(lines, mline)
	}
	lines = append(lines, extra...)
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

var local4 = localMedia{Addr: netip.MustParseAddr("198.51.100.1"), Port: 10002, SessionID: 42, Version: 7}
var local6 = localMedia{Addr: netip.MustParseAddr("2001:db8::1"), Port: 10004, SessionID: 43, Version: 1}

// parsedAnswer is what a test checks in the focus's answer.
type parsedAnswer struct {
	sd    sdp.SessionDescription
	audio *sdp.MediaDescription
}

func parseAnswer(t *testing.T, raw []byte) parsedAnswer {
	t.Helper()
	var pa parsedAnswer
	if err := pa.sd.Unmarshal(raw); err != nil {
		t.Fatalf("answer does not parse: %v\n%s", err, raw)
	}
	for _, md := range pa.sd.MediaDescriptions {
		if md.MediaName.Media == "audio" && md.MediaName.Port.Value != 0 {
			pa.audio = md
		}
	}
	if pa.audio == nil {
		t.Fatalf("answer has no accepted audio m-line:\n%s", raw)
	}
	return pa
}

func attrs(md *sdp.MediaDescription, key string) []string {
	var out []string
	for _, a := range md.Attributes {
		if a.Key == key {
			out = append(out, a.Value)
		}
	}
	return out
}

func direction(md *sdp.MediaDescription) string {
	var d []string
	for _, a := range md.Attributes {
		if _, ok := readDirection(a); ok {
			d = append(d, a.Key)
		}
	}
	return strings.Join(d, ",")
}

func TestAnswerOffer(t *testing.T) {
	c4 := "c=IN IP4 192.0.2.10"
	tests := []struct {
		name    string
		offer   []byte
		local   localMedia
		codec   string // expected codec name
		pt      uint8  // its payload type
		formats []string
		dtmf    uint8
		fmtp    []string // expected a=fmtp values of the answer
		dir     string   // the answer's direction attribute
		mixDir  mixer.Direction
		hold    bool
		remote  string // expected negotiated.Remote ("" = invalid)
	}{
		{name: "PCMU only", offer: offerSDP(c4, "m=audio 4000 RTP/AVP 0"), local: local4,
			codec: "PCMU", pt: 0, formats: []string{"0"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "192.0.2.10:4000"},
		{name: "PCMA only", offer: offerSDP(c4, "m=audio 4000 RTP/AVP 8", "a=rtpmap:8 PCMA/8000"), local: local4,
			codec: "PCMA", pt: 8, formats: []string{"8"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "192.0.2.10:4000"},
		{name: "both, PCMU first", offer: offerSDP(c4, "m=audio 4000 RTP/AVP 0 8"), local: local4,
			codec: "PCMU", pt: 0, formats: []string{"0"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "192.0.2.10:4000"},
		{name: "both, PCMA first", offer: offerSDP(c4, "m=audio 4000 RTP/AVP 8 0"), local: local4,
			codec: "PCMA", pt: 8, formats: []string{"8"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "192.0.2.10:4000"},
		{name: "unsupported codecs first", offer: offerSDP(c4, "m=audio 4000 RTP/AVP 9 3 18 8 0", "a=rtpmap:9 G722/8000", "a=rtpmap:18 G729/8000"), local: local4,
			codec: "PCMA", pt: 8, formats: []string{"8"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "192.0.2.10:4000"},
		{name: "dynamic PT for PCMU", offer: offerSDP(c4, "m=audio 4000 RTP/AVP 96", "a=rtpmap:96 pcmu/8000/1"), local: local4,
			codec: "PCMU", pt: 96, formats: []string{"96"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "192.0.2.10:4000"},
		{name: "telephone-event mirrored", offer: offerSDP(c4, "m=audio 4000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15"), local: local4,
			codec: "PCMU", pt: 0, formats: []string{"0", "101"}, dtmf: 101, fmtp: []string{"101 0-15"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "192.0.2.10:4000"},
		{name: "telephone-event other PT and events", offer: offerSDP(c4, "m=audio 4000 RTP/AVP 8 96", "a=rtpmap:96 telephone-event/8000", "a=fmtp:96 0-11"), local: local4,
			codec: "PCMA", pt: 8, formats: []string{"8", "96"}, dtmf: 96, fmtp: []string{"96 0-11"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "192.0.2.10:4000"},
		{name: "telephone-event without fmtp means 0-15", offer: offerSDP(c4, "m=audio 4000 RTP/AVP 0 100", "a=rtpmap:100 telephone-event/8000"), local: local4,
			codec: "PCMU", pt: 0, formats: []string{"0", "100"}, dtmf: 100, fmtp: []string{"100 0-15"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "192.0.2.10:4000"},
		{name: "telephone-event 0-16 cut to 0-15", offer: offerSDP(c4, "m=audio 4000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16"), local: local4,
			codec: "PCMU", pt: 0, formats: []string{"0", "101"}, dtmf: 101, fmtp: []string{"101 0-15"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "192.0.2.10:4000"},
		{name: "telephone-event flash only is dropped", offer: offerSDP(c4, "m=audio 4000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 16"), local: local4,
			codec: "PCMU", pt: 0, formats: []string{"0"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "192.0.2.10:4000"},
		{name: "telephone-event at 16 kHz is ignored", offer: offerSDP(c4, "m=audio 4000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/16000"), local: local4,
			codec: "PCMU", pt: 0, formats: []string{"0"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "192.0.2.10:4000"},
		{name: "hold sendonly", offer: offerSDP(c4, "m=audio 4000 RTP/AVP 0", "a=sendonly"), local: local4,
			codec: "PCMU", pt: 0, formats: []string{"0"}, dir: "recvonly", mixDir: mixer.Inactive, hold: true, remote: "192.0.2.10:4000"},
		{name: "hold inactive", offer: offerSDP(c4, "m=audio 4000 RTP/AVP 0", "a=inactive"), local: local4,
			codec: "PCMU", pt: 0, formats: []string{"0"}, dir: "inactive", mixDir: mixer.Inactive, hold: true, remote: "192.0.2.10:4000"},
		{name: "listen only recvonly", offer: offerSDP(c4, "m=audio 4000 RTP/AVP 0", "a=recvonly"), local: local4,
			codec: "PCMU", pt: 0, formats: []string{"0"}, dir: "sendonly", mixDir: mixer.SendOnly, remote: "192.0.2.10:4000"},
		{name: "session-level sendonly", offer: offerSDP(c4, "a=sendonly\r\nm=audio 4000 RTP/AVP 0"), local: local4,
			codec: "PCMU", pt: 0, formats: []string{"0"}, dir: "recvonly", mixDir: mixer.Inactive, hold: true, remote: "192.0.2.10:4000"},
		{name: "media-level direction overrides session", offer: offerSDP(c4, "a=sendonly\r\nm=audio 4000 RTP/AVP 0", "a=sendrecv"), local: local4,
			codec: "PCMU", pt: 0, formats: []string{"0"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "192.0.2.10:4000"},
		{name: "old-style hold c=0.0.0.0", offer: offerSDP("c=IN IP4 0.0.0.0", "m=audio 4000 RTP/AVP 0"), local: local4,
			codec: "PCMU", pt: 0, formats: []string{"0"}, dir: "recvonly", mixDir: mixer.Inactive, hold: true},
		{name: "old-style hold with sendonly", offer: offerSDP("c=IN IP4 0.0.0.0", "m=audio 4000 RTP/AVP 0", "a=sendonly"), local: local4,
			codec: "PCMU", pt: 0, formats: []string{"0"}, dir: "recvonly", mixDir: mixer.Inactive, hold: true},
		{name: "media-level c= wins", offer: offerSDP("c=IN IP4 192.0.2.99", "m=audio 4000 RTP/AVP 0", "c=IN IP4 192.0.2.10"), local: local4,
			codec: "PCMU", pt: 0, formats: []string{"0"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "192.0.2.10:4000"},
		{name: "IPv6", offer: offerSDP("c=IN IP6 2001:db8::10", "m=audio 4000 RTP/AVP 0"), local: local6,
			codec: "PCMU", pt: 0, formats: []string{"0"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "[2001:db8::10]:4000"},
		{name: "AVPF accepted as AVP", offer: offerSDP(c4, "m=audio 4000 RTP/AVPF 0"), local: local4,
			codec: "PCMU", pt: 0, formats: []string{"0"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "192.0.2.10:4000"},
		{name: "second audio line used when first is SRTP", offer: offerSDP(c4, "m=audio 4000 RTP/SAVP 0", "m=audio 4002 RTP/AVP 8"), local: local4,
			codec: "PCMA", pt: 8, formats: []string{"8"}, dir: "sendrecv", mixDir: mixer.SendRecv, remote: "192.0.2.10:4002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ans, err := answerOffer(tt.offer, tt.local)
			if err != nil {
				t.Fatalf("answerOffer: %v", err)
			}
			if n.Codec.Name != tt.codec || n.Codec.PayloadType != tt.pt || n.Codec.ClockRate != 8000 {
				t.Errorf("codec = %+v, want %s/%d", n.Codec, tt.codec, tt.pt)
			}
			if n.DTMF != tt.dtmf {
				t.Errorf("dtmf PT = %d, want %d", n.DTMF, tt.dtmf)
			}
			if got := n.Mixer(); got != tt.mixDir {
				t.Errorf("mixer direction = %v, want %v", got, tt.mixDir)
			}
			if n.OnHold() != tt.hold {
				t.Errorf("on hold = %v, want %v", n.OnHold(), tt.hold)
			}
			if tt.remote == "" {
				if n.Remote.IsValid() {
					t.Errorf("remote = %v, want none", n.Remote)
				}
			} else if n.Remote.String() != tt.remote {
				t.Errorf("remote = %v, want %s", n.Remote, tt.remote)
			}
			pa := parseAnswer(t, ans)
			if pa.audio.MediaName.Port.Value != tt.local.Port {
				t.Errorf("answer port = %d, want %d", pa.audio.MediaName.Port.Value, tt.local.Port)
			}
			if !slices.Equal(pa.audio.MediaName.Formats, tt.formats) {
				t.Errorf("answer formats = %v, want %v", pa.audio.MediaName.Formats, tt.formats)
			}
			if got := attrs(pa.audio, "fmtp"); !slices.Equal(got, tt.fmtp) {
				t.Errorf("answer fmtp = %q, want %q", got, tt.fmtp)
			}
			if got := direction(pa.audio); got != tt.dir {
				t.Errorf("answer direction = %q, want %q", got, tt.dir)
			}
			if got := attrs(pa.audio, "ptime"); !slices.Equal(got, []string{"20"}) {
				t.Errorf("answer ptime = %v", got)
			}
			if pa.sd.Origin.SessionVersion != tt.local.Version || pa.sd.Origin.SessionID != tt.local.SessionID {
				t.Errorf("answer o= %d %d, want %d %d", pa.sd.Origin.SessionID, pa.sd.Origin.SessionVersion, tt.local.SessionID, tt.local.Version)
			}
			wantAT := "IP4"
			if tt.local.Addr.Is6() {
				wantAT = "IP6"
			}
			ci := pa.sd.ConnectionInformation
			if ci == nil || ci.AddressType != wantAT || ci.Address.Address != tt.local.Addr.String() {
				t.Errorf("answer c= %+v, want %s %s", ci, wantAT, tt.local.Addr)
			}
		})
	}
}

func TestAnswerOfferKeepsMLineOrder(t *testing.T) {
	offer := offerSDP("c=IN IP4 192.0.2.10", "m=video 5000 RTP/AVP 96", "a=rtpmap:96 H264/90000",
		"m=audio 4000 RTP/AVP 0", "m=audio 4010 RTP/AVP 8")
	_, ans, err := answerOffer(offer, local4)
	if err != nil {
		t.Fatal(err)
	}
	pa := parseAnswer(t, ans)
	var got []string
	for _, md := range pa.sd.MediaDescriptions {
		got = append(got, md.MediaName.Media+" "+md.MediaName.Port.String()+" "+strings.Join(md.MediaName.Formats, ","))
	}
	want := []string{"video 0 96", "audio 10002 0", "audio 0 8"}
	if !slices.Equal(got, want) {
		t.Errorf("m-lines = %q, want %q", got, want)
	}
}

func TestAnswerOfferRejects(t *testing.T) {
	c4 := "c=IN IP4 192.0.2.10"
	tests := []struct {
		name   string
		offer  []byte
		local  localMedia
		status int
		warn   int
	}{
		{"empty", nil, local4, 400, 399},
		{"garbage", []byte("hello world"), local4, 400, 399},
		{"no c= line", offerSDP("", "m=audio 4000 RTP/AVP 0"), local4, 400, 399},
		{"c= not an IP", offerSDP("c=IN IP4 phone.example.com", "m=audio 4000 RTP/AVP 0"), local4, 488, 301},
		{"c= IP6 address marked IP4", offerSDP("c=IN IP4 2001:db8::1", "m=audio 4000 RTP/AVP 0"), local4, 400, 399},
		{"IPv6 to an IPv4 focus", offerSDP("c=IN IP6 2001:db8::10", "m=audio 4000 RTP/AVP 0"), local4, 488, 301},
		{"IPv4 to an IPv6 focus", offerSDP(c4, "m=audio 4000 RTP/AVP 0"), local6, 488, 301},
		{"no media", offerSDP(c4, ""), local4, 488, 304},
		{"video only", offerSDP(c4, "m=video 5000 RTP/AVP 96", "a=rtpmap:96 H264/90000"), local4, 488, 304},
		{"audio port 0", offerSDP(c4, "m=audio 0 RTP/AVP 0"), local4, 488, 304},
		{"SRTP only", offerSDP(c4, "m=audio 4000 RTP/SAVP 0"), local4, 488, 302},
		{"DTLS-SRTP only", offerSDP(c4, "m=audio 4000 UDP/TLS/RTP/SAVPF 111", "a=rtpmap:111 opus/48000/2"), local4, 488, 302},
		{"no common codec", offerSDP(c4, "m=audio 4000 RTP/AVP 9 18", "a=rtpmap:9 G722/8000", "a=rtpmap:18 G729/8000"), local4, 488, 305},
		{"PCMU at a wrong rate", offerSDP(c4, "m=audio 4000 RTP/AVP 96", "a=rtpmap:96 PCMU/16000"), local4, 488, 305},
		{"stereo PCMU", offerSDP(c4, "m=audio 4000 RTP/AVP 96", "a=rtpmap:96 PCMU/8000/2"), local4, 488, 305},
		{"telephone-event only", offerSDP(c4, "m=audio 4000 RTP/AVP 101", "a=rtpmap:101 telephone-event/8000"), local4, 488, 305},
		{"static PT remapped away", offerSDP(c4, "m=audio 4000 RTP/AVP 0", "a=rtpmap:0 G722/8000"), local4, 488, 305},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ans, err := answerOffer(tt.offer, tt.local)
			if err == nil {
				t.Fatalf("accepted:\n%s", ans)
			}
			var se *sdpError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not an sdpError", err)
			}
			if se.Status != tt.status || se.Warn != tt.warn {
				t.Errorf("got %d/%d %q, want %d/%d", se.Status, se.Warn, se.Text, tt.status, tt.warn)
			}
			if strings.ContainsAny(se.Text, "\"\r\n") {
				t.Errorf("warn text %q cannot go into a Warning header", se.Text)
			}
		})
	}
}

func TestRTCPAttribute(t *testing.T) {
	tests := []struct {
		attr string
		want string
	}{
		{"a=rtcp:4001", "192.0.2.10:4001"},
		{"a=rtcp:5001 IN IP4 192.0.2.20", "192.0.2.20:5001"},
		{"a=rtcp:5001 IN IP6 2001:db8::1", "invalid AddrPort"},
		{"a=rtcp:0", "invalid AddrPort"},
		{"a=rtcp:x", "invalid AddrPort"},
	}
	for _, tt := range tests {
		n, _, err := answerOffer(offerSDP("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 0", tt.attr), local4)
		if err != nil {
			t.Fatalf("%s: %v", tt.attr, err)
		}
		if got := n.RemoteRTCP.String(); got != tt.want {
			t.Errorf("%s: RemoteRTCP = %s, want %s", tt.attr, got, tt.want)
		}
	}
}

func TestEvents(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", "0-15"},
		{"0-15", "0-15"},
		{"0-16", "0-15"},
		{"0-11", "0-11"},
		{"0-9,11", "0-9,11"},
		{"1, 3 ,5-6", "1,3,5-6"},
		{"16", ""},
		{"garbage", "0-15"},
		{"15-0", "0-15"}, // unparsable range: default
		{"0-999", "0-15"},
	}
	for _, tt := range tests {
		if got := formatEvents(parseEvents(tt.in)); got != tt.want {
			t.Errorf("events(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLateOffer(t *testing.T) {
	offer := createOffer(local4, mixer.SendRecv)
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(offer); err != nil {
		t.Fatalf("own offer does not parse: %v\n%s", err, offer)
	}
	md := sd.MediaDescriptions[0]
	if md.MediaName.Port.Value != local4.Port || !slices.Equal(md.MediaName.Formats, []string{"0", "8", "101"}) {
		t.Errorf("offer m= %s", md.MediaName)
	}
	if got := attrs(md, "fmtp"); !slices.Equal(got, []string{"101 0-15"}) {
		t.Errorf("offer fmtp = %q", got)
	}
	if direction(md) != "sendrecv" {
		t.Errorf("offer direction %q", direction(md))
	}

	tests := []struct {
		name   string
		answer []byte
		codec  string
		dtmf   uint8
		hold   bool
		status int // 0 = accepted
	}{
		{name: "PCMU and events", answer: offerSDP("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000"), codec: "PCMU", dtmf: 101},
		{name: "PCMA", answer: offerSDP("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 8"), codec: "PCMA"},
		{name: "answer on hold", answer: offerSDP("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 0", "a=recvonly"), codec: "PCMU"},
		{name: "answer inactive", answer: offerSDP("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 0", "a=inactive"), codec: "PCMU", hold: true},
		{name: "codec not offered", answer: offerSDP("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 9", "a=rtpmap:9 G722/8000"), status: 488},
		{name: "stream rejected", answer: offerSDP("c=IN IP4 192.0.2.10", "m=audio 0 RTP/AVP 0"), status: 488},
		{name: "garbage", answer: []byte("v=0\r\nbogus"), status: 400},
		{name: "missing", answer: nil, status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := acceptAnswer(tt.answer, local4)
			if tt.status != 0 {
				if se := asSDPError(err); err == nil || se.Status != tt.status {
					t.Fatalf("err = %v, want status %d", err, tt.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.Codec.Name != tt.codec || n.DTMF != tt.dtmf || n.OnHold() != tt.hold {
				t.Errorf("got %s dtmf %d hold %v", n.Codec.Name, n.DTMF, n.OnHold())
			}
		})
	}
}

// FuzzAnswer feeds arbitrary bytes to the offer parser and answerer: it
// must never panic, every rejection is an sdpError with a header-safe text,
// and every answer it produces parses again and carries the chosen codec.
func FuzzAnswer(f *testing.F) {
	f.Add(offerSDP("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 0 8 101", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15"))
	f.Add(offerSDP("c=IN IP6 ::", "m=audio 4000 RTP/AVP 8", "a=inactive", "a=rtcp:4001 IN IP6 ::1"))
	f.Add(offerSDP("c=IN IP4 0.0.0.0", "m=video 1 RTP/AVP 96", "m=audio 2 RTP/AVPF 96 97", "a=rtpmap:96 PCMA/8000", "a=fmtp:97 1,3-4"))
	f.Add([]byte("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 5 RTP/AVP 0\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, local := range []localMedia{local4, local6} {
			n, ans, err := answerOffer(raw, local)
			if err != nil {
				var se *sdpError
				if !errors.As(err, &se) {
					t.Fatalf("non-SDP error %v", err)
				}
				if strings.ContainsAny(se.Text, "\"\r\n") || (se.Status != 400 && se.Status != 488) {
					t.Fatalf("bad rejection %+v", se)
				}
				continue
			}
			var sd sdp.SessionDescription
			if err := sd.Unmarshal(ans); err != nil {
				t.Fatalf("answer does not parse: %v\n%s\nfrom offer\n%q", err, ans, raw)
			}
			if !n.Codec.Supported() {
				t.Fatalf("unsupported codec %+v negotiated", n.Codec)
			}
			if _, _, err := parseSDP(ans, SRTPOff); err != nil {
				t.Fatalf("own answer rejected by own parser: %v\n%s", err, ans)
			}
			if _, err := acceptAnswer(ans, local); err != nil {
				t.Fatalf("own answer not acceptable as an answer: %v\n%s", err, ans)
			}
		}
	})
}

// The SDP direction words are read with pion's sdp.NewDirection (in any
// case) and written back from the mixer's typed direction; attributes with
// a value and other words are not directions.
func TestSDPDirectionTranslation(t *testing.T) {
	for d := mixer.SendRecv; d <= mixer.Inactive; d++ {
		word := sdpDirection(d).String()
		for _, w := range []string{word, strings.ToUpper(word)} {
			got, ok := readDirection(sdp.Attribute{Key: w})
			if !ok || got != d {
				t.Errorf("readDirection(%q) = %v, %v; want %v", w, got, ok, d)
			}
		}
	}
	for _, a := range []sdp.Attribute{{Key: "sideways"}, {Key: "sendonly", Value: "x"}, {Key: "rtpmap", Value: "0 PCMU/8000"}} {
		if _, ok := readDirection(a); ok {
			t.Errorf("readDirection(%v) took it for a direction", a)
		}
	}
}
