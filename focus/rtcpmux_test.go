package focus

import (
	"fmt"
	"strings"
	"testing"

	"cusax.dev/bridge/mixer"
)

// TestRTCPMuxAnswer: a=rtcp-mux offered (RFC 5761) is accepted in the
// answer and negotiated for the leg; not offered, it is neither.
func TestRTCPMuxAnswer(t *testing.T) {
	for _, offered := range []bool{true, false} {
		var extra []string
		if offered {
			extra = []string{"a=rtcp-mux"}
		}
		n, body, err := answerOffer(offerSDP("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 0", extra...), local4)
		if err != nil {
			t.Fatal(err)
		}
		if n.RTCPMux != offered || strings.Contains(string(body), "a=rtcp-mux") != offered {
			t.Errorf("offered %v: negotiated %v, answer:\n%s", offered, n.RTCPMux, body)
		}
	}
}

// TestRTCPMuxSticky: once the call's leg is muxed (its RTCP port closed), an
// offer without a=rtcp-mux is answered with a=rtcp naming the RTP port, never
// with a=rtcp-mux (RFC 8035); an offer with it gets a=rtcp-mux alone.
func TestRTCPMuxSticky(t *testing.T) {
	local := local4
	local.RTCPMuxed = true
	rtcpAttr := fmt.Sprintf("a=rtcp:%d\r\n", local.Port)
	for _, offered := range []bool{true, false} {
		var extra []string
		if offered {
			extra = []string{"a=rtcp-mux"}
		}
		n, body, err := answerOffer(offerSDP("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 0", extra...), local)
		if err != nil {
			t.Fatal(err)
		}
		ans := string(body)
		if n.RTCPMux != offered || strings.Contains(ans, "a=rtcp-mux") != offered || strings.Contains(ans, rtcpAttr) == offered {
			t.Errorf("muxed leg, offered %v: negotiated %v, answer:\n%s", offered, n.RTCPMux, ans)
		}
	}
	// a leg never muxed: no a=rtcp (RTCP on the RTP port + 1)
	if _, body, _ := answerOffer(offerSDP("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 0"), local4); strings.Contains(string(body), "a=rtcp") {
		t.Errorf("answer names RTCP:\n%s", body)
	}
}

// TestOfferRTCPMux: the focus's offers propose a=rtcp-mux with a=rtcp for
// the fallback (RFC 5761 §5.1.1): the RTP port + 1, or the RTP port itself
// once the leg is muxed; an answer's a=rtcp-mux is negotiated.
func TestOfferRTCPMux(t *testing.T) {
	for _, muxed := range []bool{false, true} {
		local := local4
		local.RTCPMuxed = muxed
		want := local.Port + 1
		if muxed {
			want = local.Port
		}
		off := string(createOffer(local, mixer.SendRecv))
		if !strings.Contains(off, "a=rtcp-mux\r\n") || !strings.Contains(off, fmt.Sprintf("a=rtcp:%d\r\n", want)) {
			t.Errorf("muxed %v: offer:\n%s", muxed, off)
		}
	}
	for _, accepted := range []bool{true, false} {
		var extra []string
		if accepted {
			extra = []string{"a=rtcp-mux"}
		}
		n, err := acceptAnswer(offerSDP("c=IN IP4 192.0.2.10", "m=audio 4000 RTP/AVP 0", extra...), local4)
		if err != nil {
			t.Fatal(err)
		}
		if n.RTCPMux != accepted {
			t.Errorf("answer with a=rtcp-mux %v: negotiated %v", accepted, n.RTCPMux)
		}
	}
}
