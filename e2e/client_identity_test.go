package e2e

import (
	"testing"
	"time"

	"cusax.dev/bridge/client"
	"cusax.dev/bridge/config"
)

// One person in both halves, end to end with the bridge's identity rules:
// alice and bob authenticate their calls by digest (same password as their
// XMPP accounts, one --password-file) and their vCards carry their AORs, so
// the bridge verifies each client's Call-Info hint and binds the two legs.
// Each client then shows the other as one row, level both, verified.
func TestClientOnePerson(t *testing.T) {
	env := startClientEnv(t, func(c *config.Config) {
		c.SIP.Auth.Realm = "cusax-test"
		c.SIP.Auth.RequireForCalls = true
		c.SIP.Auth.Accounts = []config.Account{{User: "alice", Password: e2eUsers["alice"]}, {User: "bob", Password: e2eUsers["bob"]}}
	})
	for _, u := range []string{"alice", "bob"} {
		x := DialXMPP(t, env.p.C2SAddr(), u, env.p.Domain, e2eUsers[u])
		storeVCard(t, x, "sip:"+u+"@"+env.b.Config.SIP.Domain)
		x.Close()
	}

	bob := StartScriptClient(t, "bob", env.args(t, "bob", "--with-voice")...)
	waitConnected(bob)
	bob.Send("join xmpp:%s", env.room())
	_, j := bob.WaitEvent("joined", 0, isEvent("joined"))
	if j["related"] != true || j["voice"] != true || j["chat"] != true {
		t.Fatalf("bob joined %v", j)
	}
	alice := StartScriptClient(t, "alice", env.args(t, "alice")...)
	waitConnected(alice)
	alice.Send("join %s", env.confURI())
	_, j = alice.WaitEvent("joined", 0, isEvent("joined"))
	if j["related"] != true || j["voice"] != true || j["chat"] != true {
		t.Fatalf("alice joined %v", j)
	}
	for _, c := range []*ScriptClient{alice, bob} {
		other := map[string]string{"alice": "bob", "bob": "alice"}[c.name]
		rows := c.WaitRows("one row each, both, verified", func(rows []map[string]any) bool {
			if len(rows) != 2 {
				return false
			}
			for _, r := range rows {
				if r["level"] != "both" || r["verified"] != true {
					return false
				}
				if r["self"] != true && r["sip"] != "sip:"+other+"@"+env.b.Config.SIP.Domain {
					return false
				}
			}
			return true
		})
		t.Logf("%s sees %s", c.name, rowsString(rows))
	}
	// The XMPP server goes away: each client loses its chat half, says so,
	// and stays on the call, still seeing the other through the
	// conference state.
	env.p.Stop()
	for _, c := range []*ScriptClient{alice, bob} {
		c.WaitEvent("chat lost", 0, func(ev map[string]any) bool {
			return ev["event"] == "status" && ev["chat"] == "failed" && ev["voice"] == "connected"
		})
		c.WaitEvent("chat half left", 0, func(ev map[string]any) bool { return ev["event"] == "left" && ev["half"] == "chat" })
		other := map[string]string{"alice": "bob", "bob": "alice"}[c.name]
		c.WaitRows("the other still on the call", func(rows []map[string]any) bool {
			for _, r := range rows {
				if r["self"] != true && r["sip"] == "sip:"+other+"@"+env.b.Config.SIP.Domain && r["level"] == "audio" {
					return true
				}
			}
			return false
		})
	}

	alice.Send("quit")
	bob.Send("quit")
	for _, c := range []*ScriptClient{alice, bob} {
		if code := c.Wait(15 * time.Second); code != client.ExitOK {
			t.Errorf("%s exit code %d", c.name, code)
		}
	}
}
