package focus

import (
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/internal/testwait"
)

func TestJoinAndHangUp(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			u := e.ua(transport, "alice")
			_, rtpAddr := e.rtp()
			c := e.dial(u, transport, "Team", rtpAddr, "0 8 101")
			res := c.Response

			ct := res.Contact()
			if ct == nil || !ct.Params.Has("isfocus") || ct.Address.User != "team" {
				t.Fatalf("Contact %v lacks isfocus or room", res.GetHeader("Contact"))
			}
			if transport == "tcp" {
				if v, _ := ct.Address.UriParams.Get("transport"); v != "tcp" {
					t.Errorf("TCP Contact %s lacks transport=tcp", ct.Value())
				}
			}
			for _, want := range []string{"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"} {
				if h := res.GetHeader("Allow"); h == nil || !strings.Contains(h.Value(), want) {
					t.Errorf("Allow %v lacks %s", h, want)
				}
			}
			if ct := res.ContentType(); ct == nil || ct.Value() != "application/sdp" {
				t.Errorf("Content-Type %v", ct)
			}
			if !strings.Contains(string(res.Body()), "m=audio ") || !strings.Contains(string(res.Body()), "a=rtpmap:0 PCMU/8000") {
				t.Errorf("answer:\n%s", res.Body())
			}

			ev := e.waitEvent(conference.Joined, 2*time.Second)
			p := ev.Participant
			if ev.Conference != "team" || p.AOR != "sip:alice@example.test" || p.DisplayName != "Alice" || p.Audio == nil ||
				p.Audio.Codec != "PCMU" || p.Audio.CallID != c.CallID() || p.Audio.LocalTag != c.RemoteTag() ||
				p.Audio.JoiningMethod != "dialed-in" || ev.Origin != conference.OriginSIP {
				t.Errorf("joined %+v audio %+v", p, p.Audio)
			}
			if e.eng.PortsInUse() != 1 || e.f.Calls() != 1 {
				t.Errorf("ports %d calls %d", e.eng.PortsInUse(), e.f.Calls())
			}

			bye, err := c.Bye(ctxT(t, 5*time.Second))
			if err != nil || bye.StatusCode != 200 {
				t.Fatalf("BYE: %v %v", bye, err)
			}
			left := e.waitEvent(conference.Left, 2*time.Second)
			if left.Participant.ID != p.ID || left.Participant.Left.Method != conference.Departed {
				t.Errorf("left %+v", left.Participant)
			}
			if e.eng.PortsInUse() != 0 || e.f.Calls() != 0 {
				t.Errorf("after BYE: ports %d calls %d", e.eng.PortsInUse(), e.f.Calls())
			}
			// The ACK's handler may still be counting when the BYE's answer
			// is back (sipgo runs handlers concurrently, over TCP too).
			testwait.Until(t, 2*time.Second, "the ACK counted", func() bool { return e.requests("ACK") >= 1 })
			if e.requests("INVITE") != 1 || e.requests("ACK") != 1 || e.requests("BYE") != 1 {
				t.Errorf("request metrics INVITE %v ACK %v BYE %v", e.requests("INVITE"), e.requests("ACK"), e.requests("BYE"))
			}
			if e.responses("INVITE", "1xx") != 1 || e.responses("INVITE", "2xx") != 1 || e.responses("BYE", "2xx") != 1 {
				t.Errorf("response metrics 1xx %v 2xx %v BYE %v", e.responses("INVITE", "1xx"), e.responses("INVITE", "2xx"), e.responses("BYE", "2xx"))
			}
		})
	}
}
