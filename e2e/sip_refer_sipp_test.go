package e2e

import (
	"context"
	"net"
	"testing"
	"time"

	"cusax.dev/bridge/config"
	"cusax.dev/bridge/e2e/sipua"
)

// moderatedBridge starts a bridge whose room "team" lists alice's digest
// AOR (sip:alice@127.0.0.1, the harness's sip.domain) as moderator; carol
// has an account but no rights.
func moderatedBridge(t *testing.T, mutate func(*config.Config)) *Bridge {
	return StartBridge(t, func(c *config.Config) {
		c.SIP.Auth.Realm = "cusax-test"
		c.SIP.Auth.Accounts = []config.Account{{User: "alice", Password: "alice-secret"}, {User: "carol", Password: "carol-secret"}}
		c.Rooms = []config.Room{{Name: "team", Moderators: []string{"sip:alice@127.0.0.1"}}}
		if mutate != nil {
			mutate(c)
		}
	})
}

// joinCall makes a Go UA called user dial sip:team@bridge and ACKs the 200.
func joinCall(t *testing.T, b *Bridge, ctx context.Context, cfg sipua.Config) (*sipua.UA, *sipua.Call) {
	t.Helper()
	ua, err := sipua.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	rtp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rtp.Close() })
	call, err := ua.Invite(ctx, ua.Target("team", b.SIPAddr), sipua.Offer(rtp.LocalAddr().(*net.UDPAddr).AddrPort(), "0"))
	if err != nil || call.Response.StatusCode != 200 {
		t.Fatalf("%s INVITE: %v %v", cfg.User, call.Response, err)
	}
	if err := call.Ack(nil); err != nil {
		t.Fatal(err)
	}
	return ua, call
}

// A Go UA (bob) is in the call. sipp as carol (authenticated, no rights)
// REFERs bob out: 403, and bob stays. sipp as alice (a listed moderator)
// REFERs bob out: 401, 202, refer NOTIFYs 100 Trying and 200 OK, and bob
// gets the BYE.
func TestSippReferEject(t *testing.T) {
	sipp(t)
	b := moderatedBridge(t, nil)
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, bob := joinCall(t, b, ctx, sipua.Config{User: "bob", Transport: transport})
			WaitFor(t, 5*time.Second, "bob in the conference", func() bool { return b.Metric("cusax_participants_active") == 1 })

			runSippArgs(t, b, "uac_refer_forbidden.xml", transport, t.TempDir(), "-au", "carol", "-ap", "carol-secret",
				"-key", "moderator", "carol", "-key", "domain", "127.0.0.1", "-key", "target", "sip:bob@127.0.0.1")
			if n := b.Metric("cusax_participants_active"); n != 1 {
				t.Fatalf("%v participants after the refused REFER", n)
			}

			runSippArgs(t, b, "uac_refer_eject.xml", transport, t.TempDir(), "-au", "alice", "-ap", "alice-secret",
				"-key", "moderator", "alice", "-key", "domain", "127.0.0.1", "-key", "target", "sip:bob@127.0.0.1")
			bye, err := bob.WaitBye(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if bye.CallID().Value() != bob.CallID() {
				t.Errorf("BYE for %s", bye.CallID().Value())
			}
			WaitFor(t, 5*time.Second, "bob gone", func() bool { return b.Metric("cusax_participants_active") == 0 })
			if n := b.Metric("cusax_moderation_actions_total", `action="kick"`, `origin="sip"`); n < 1 {
				t.Errorf("kick by SIP not counted (%v)", n)
			}
		})
	}
	if n := b.Metric("cusax_notify_sent_total", `event="refer"`); n != 4 {
		t.Errorf("%v refer NOTIFYs sent, want 4", n)
	}
}
