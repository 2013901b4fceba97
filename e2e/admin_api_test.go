package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/admin"
	"cusax.dev/bridge/config"
	"cusax.dev/bridge/confinfo"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/mixer/audiotest"
)

const apiToken = "e2e-admin-token"

// startAPIBridge runs the binary with the admin API on and the MUC
// component on p (when p is not nil).
func startAPIBridge(t *testing.T, p *Prosody) *Bridge {
	t.Helper()
	return StartBridge(t, func(c *config.Config) {
		c.Admin.Token = apiToken
		if p != nil {
			c.XMPP = config.XMPP{Mode: "component", Server: p.ComponentAddr(), Domain: p.MUCDomain, Secret: p.Secret,
				RoomCreation: "anyone", HistoryLength: 50}
		}
	})
}

// apiCall sends one API request with the token and decodes a JSON answer
// into out (when not nil).
func apiCall(t *testing.T, b *Bridge, method, path, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, b.AdminURL+"/api/v1"+path, rd)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	if res.StatusCode >= 300 {
		t.Logf("%s %s: %d %s", method, path, res.StatusCode, data)
	}
	return res.StatusCode
}

// findBySIP returns the participant of room whose sip identity has user.
func findBySIP(t *testing.T, b *Bridge, room, user string) (admin.Participant, bool) {
	t.Helper()
	var r admin.Room
	if code := apiCall(t, b, "GET", "/rooms/"+room, "", &r); code != 200 {
		return admin.Participant{}, false
	}
	for _, p := range r.Participants {
		if strings.HasPrefix(p.Identities.SIP, "sip:"+user+"@") {
			return p, true
		}
	}
	return admin.Participant{}, false
}

// TestAdminAPIMirrorsOnBothSides drives the real binary through its admin
// API with two SIP callers sending tones, a SIP subscriber, and chat users
// through a real Prosody: an API mute takes the tone out of the mix within
// 200 ms, shows muted-via-focus in conference-info and the visitor role in
// the MUC; an API ban sends the caller a BYE, refuses its new INVITE with
// 403 and removes it from the MUC with 301, and a banned JID's join is
// forbidden; an API dial-out makes the focus call a sipp UAS, which answers
// and is in the room until the API ends the conference.
func TestAdminAPIMirrorsOnBothSides(t *testing.T) {
	sippBin := NeedTool(t, "sipp", "sip-tester")
	p := StartProsody(t, e2eUsers)
	b := startAPIBridge(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const rate = 8000

	// Two callers with tones.
	freqs := []float64{500, 900}
	var phones []*audiotest.Phone
	var calls []*sipua.Call
	var uas []*sipua.UA
	for i, f := range freqs {
		phone, err := audiotest.NewPhone(audiotest.PhoneConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { phone.Close() })
		phone.SetSource(audiotest.Tone(f, 8000, rate).Fill)
		ua, err := sipua.New(sipua.Config{User: fmt.Sprintf("caller%d", i), DisplayName: fmt.Sprintf("Caller %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ua.Close() })
		call, err := ua.Invite(ctx, ua.Target("team", b.SIPAddr), sipua.Offer(phone.Addr(), "0 101"))
		if err != nil || call.Response.StatusCode != 200 {
			t.Fatalf("caller %d INVITE: %v %v", i, call, err)
		}
		if err := call.Ack(nil); err != nil {
			t.Fatal(err)
		}
		dst, err := sipua.AudioPort(call.Response.Body())
		if err != nil {
			t.Fatal(err)
		}
		phone.Start(dst)
		phones, calls, uas = append(phones, phone), append(calls, call), append(uas, ua)
	}
	// Caller 1 watches the conference state.
	sub, err := uas[1].Subscribe(ctx, uas[1].Target("team", b.SIPAddr), "conference", 600)
	if err != nil || sub.Response.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %v %v", sub, err)
	}
	s := &subscriber{t: t, sub: sub}
	s.next(ctx)

	// Alice watches the room over XMPP.
	alice := login(t, p, "alice")
	waitComponent(t, alice, p.MUCDomain, 10*time.Second)
	roomJID := "team@" + p.MUCDomain
	alice.Join(roomJID, "Alice", "")

	c0, ok := findBySIP(t, b, "team", "caller0")
	if !ok || c0.Level != admin.LevelAudio || c0.Muted || c0.Binding != admin.BindingNone {
		t.Fatalf("caller 0 through the API: %+v %v", c0, ok)
	}
	hears := func(i int, f float64) float64 { return audiotest.PowerDB(phones[i].Tail(rate/2), f, rate) }
	WaitFor(t, 5*time.Second, "caller 1 hearing caller 0", func() bool { return hears(1, 500) > -40 })

	// API mute.
	var pv admin.Participant
	if code := apiCall(t, b, "POST", "/rooms/team/participants/"+c0.ID+"/mute", `{"muted":true,"reason":"noise"}`, &pv); code != 200 || !pv.Muted {
		t.Fatalf("mute: %d %+v", code, pv)
	}
	phones[1].ResetRecording()
	WaitFor(t, 5*time.Second, "700 ms of audio after the mute", func() bool { return len(phones[1].Recording()) >= 7*rate/10 })
	// From 200 ms after the API answered on, caller 0's tone is gone.
	after := phones[1].Recording()[rate/5:]
	if l0, l1 := audiotest.PowerDB(after, 500, rate), audiotest.PowerDB(phones[0].Tail(rate/2), 900, rate); l0 > -50 || l1 < -40 {
		t.Fatalf("200 ms after the API mute caller 1 hears caller 0 at %.1f dBFS (caller 0 hears caller 1 at %.1f dBFS)", l0, l1)
	} else {
		t.Logf("200 ms after the API mute: caller 0's tone at %.1f dBFS in caller 1's ear", l0)
	}
	s.until(ctx, "caller 0 muted-via-focus", func(d *confinfo.Document) bool {
		for _, u := range d.Users.Users {
			if strings.HasPrefix(u.Entity, "sip:caller0@") && len(u.Endpoints) > 0 {
				return u.Endpoints[0].Status == confinfo.StatusMutedViaFocus
			}
		}
		return false
	})
	vis := alice.Next("caller 0 as visitor", func(e *Elem) bool {
		return e.Attr("from") == roomJID+"/Caller 0" && e.Item() != nil && e.Item().Attr("role") == "visitor"
	})
	t.Logf("MUC presence after the API mute: %s", vis)

	// API ban of caller 0's SIP identity.
	ident := url.PathEscape(c0.Identities.SIP)
	if code := apiCall(t, b, "PUT", "/rooms/team/bans/"+ident, `{"reason":"spam"}`, nil); code != 204 {
		t.Fatalf("ban: %d", code)
	}
	if bye, err := calls[0].WaitBye(ctx); err != nil || bye == nil {
		t.Fatalf("banned caller got no BYE: %v", err)
	}
	alice.Next("caller 0 banned (301)", func(e *Elem) bool {
		return e.Attr("from") == roomJID+"/Caller 0" && e.Attr("type") == "unavailable" && strings.Contains(strings.Join(e.Codes(), ","), "301")
	})
	again, err := uas[0].Invite(ctx, uas[0].Target("team", b.SIPAddr), sipua.Offer(phones[0].Addr(), "0 101"))
	if err != nil || again.Response.StatusCode != 403 {
		t.Fatalf("re-INVITE of a banned caller: %v %v", again, err)
	}
	var bans []admin.BanView
	if code := apiCall(t, b, "GET", "/rooms/team/bans", "", &bans); code != 200 || len(bans) != 1 || bans[0].Reason != "spam" {
		t.Fatalf("bans: %d %+v", code, bans)
	}
	// A banned JID may not join the room.
	if code := apiCall(t, b, "PUT", "/rooms/team/bans/"+url.PathEscape("xmpp:bob@"+p.Domain), ``, nil); code != 204 {
		t.Fatalf("ban bob: %d", code)
	}
	bob := login(t, p, "bob")
	bob.Send(`<presence to='%s/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`, roomJID)
	refused := bob.Next("bob's join refused", func(e *Elem) bool { return e.Attr("type") == "error" })
	if refused.ErrorCondition() != "forbidden" {
		t.Fatalf("banned JID's join: %s", refused)
	}

	// API dial-out to a sipp UAS.
	uasPort := FreePort(t)
	uasCmd := exec.CommandContext(ctx, sippBin, "-sn", "uas", "-i", "127.0.0.1", "-p", strconv.Itoa(uasPort), "-m", "1",
		"-mp", strconv.Itoa(FreePort(t)), "-timeout", "60s", "-timeout_error", "-nostdin")
	uasCmd.Dir = t.TempDir()
	var uasOut strings.Builder
	uasCmd.Stdout, uasCmd.Stderr = &uasOut, &uasOut
	if err := uasCmd.Start(); err != nil {
		t.Fatal(err)
	}
	uasDone := make(chan error, 1)
	go func() { uasDone <- uasCmd.Wait() }()
	t.Cleanup(func() {
		if uasCmd.ProcessState == nil {
			_ = uasCmd.Process.Kill()
		}
	})
	target := fmt.Sprintf("sip:service@127.0.0.1:%d", uasPort)
	if code := apiCall(t, b, "POST", "/rooms/team/dialout", `{"uri":"`+target+`"}`, nil); code != 202 {
		t.Fatalf("dial-out: %d", code)
	}
	var callee admin.Participant
	WaitFor(t, 15*time.Second, "the sipp UAS in the room", func() bool {
		callee, ok = findBySIP(t, b, "team", "service")
		return ok
	})
	if callee.Level != admin.LevelAudio {
		t.Fatalf("dialled-out participant %+v", callee)
	}
	alice.Next("the dialled-out callee in the MUC", func(e *Elem) bool {
		return strings.HasPrefix(e.Attr("from"), roomJID+"/") && e.Attr("type") == "" && strings.Contains(e.Attr("from"), "service")
	})
	// Ending the conference hangs the callee up: sipp's UAS scenario ends
	// with the BYE and exits 0.
	if code := apiCall(t, b, "DELETE", "/rooms/team", "", nil); code != 204 {
		t.Fatalf("end the conference: %d", code)
	}
	select {
	case err := <-uasDone:
		if err != nil {
			t.Fatalf("sipp UAS: %v\n%s", err, tail(uasOut.String(), 2000))
		}
	case <-ctx.Done():
		t.Fatalf("sipp UAS never got its BYE\n%s", tail(uasOut.String(), 2000))
	}
	if _, err := calls[1].WaitBye(ctx); err != nil {
		t.Fatalf("caller 1 got no BYE when the conference ended: %v", err)
	}
}
