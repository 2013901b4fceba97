package focus

import (
	"strings"
	"testing"
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
