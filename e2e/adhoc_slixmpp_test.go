package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/admin"
	"cusax.dev/bridge/config"
	"cusax.dev/bridge/e2e/sipua"
)

// needSlixmpp checks for Debian's python3-slixmpp under /usr/bin/python3
// (the pyenv python3 on PATH does not have it): a skip on a developer's
// machine without it, a failure under CI.
func needSlixmpp(t testing.TB) string {
	t.Helper()
	py := NeedTool(t, "/usr/bin/python3", "python3")
	if out, err := exec.Command(py, "-c", "import slixmpp").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("python3-slixmpp is not installed (%v: %s); .ci/run installs it", err, out)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

type adhocRun struct {
	Status    string              `json:"status"`
	SessionID string              `json:"sessionid"`
	Notes     []string            `json:"notes"`
	FormType  string              `json:"form_type"`
	Fields    []string            `json:"fields"`
	Items     []map[string]string `json:"items"`
	Error     string              `json:"error"`
}

type adhocResult struct {
	Commands     [][2]string `json:"commands"`
	Who          adhocRun    `json:"who"`
	Mute         adhocRun    `json:"mute"`
	WhoAfterMute adhocRun    `json:"who_after_mute"`
	Lock         adhocRun    `json:"lock"`
	DialOutForm  adhocRun    `json:"dialout_form"`
	DialOut      adhocRun    `json:"dialout"`
	Failure      string      `json:"failure"`
}

func runAdhocClient(t *testing.T, py string, p *Prosody, user, uri string) adhocResult {
	t.Helper()
	script, _ := filepath.Abs(filepath.Join("testdata", "adhoc_client.py"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, script, user+"@"+p.Domain, e2eUsers[user], p.C2SAddr(), "team@"+p.MUCDomain,
		strings.ToUpper(user[:1])+user[1:], uri)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var res adhocResult
	if jerr := json.Unmarshal(out, &res); jerr != nil || err != nil {
		t.Fatalf("slixmpp client as %s: %v / %v\nstdout: %s\nstderr: %s", user, err, jerr, out, tail(stderr.String(), 3000))
	}
	return res
}

// TestAdHocCommandsWithSlixmpp runs the room's XEP-0050 commands from a real
// XMPP client library (slixmpp's xep_0050 plugin) through a real Prosody
// against the binary: a room moderator finds the six commands on the
// room's commands node and runs them (who is on the call, mute everyone on
// the phone, lock, call a phone), each taking effect in the core; a
// participant sees no commands and is forbidden to run one.
func TestAdHocCommandsWithSlixmpp(t *testing.T) {
	py := needSlixmpp(t)
	p := StartProsody(t, e2eUsers)
	b := StartBridge(t, func(c *config.Config) {
		c.Admin.Token = apiToken
		c.XMPP = config.XMPP{Mode: "component", Server: p.ComponentAddr(), Domain: p.MUCDomain, Secret: p.Secret,
			RoomCreation: "anyone", HistoryLength: 50}
		c.Rooms = []config.Room{{Name: "team", Moderators: []string{"xmpp:alice@" + p.Domain}}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	joinCall(t, b, ctx, sipua.Config{User: "phone", DisplayName: "Desk Phone"})
	alice := login(t, p, "alice")
	waitComponent(t, alice, p.MUCDomain, 10*time.Second)
	alice.Close()

	// A participant: no commands, and forbidden.
	bob := runAdhocClient(t, py, p, "bob", "sip:nobody@127.0.0.1:9")
	if len(bob.Commands) != 0 || bob.Who.Error != "forbidden" || bob.Mute.Error != "forbidden" || bob.Lock.Error != "forbidden" || bob.DialOutForm.Error != "forbidden" {
		t.Fatalf("a participant's view: %+v", bob)
	}
	if pv, ok := findBySIP(t, b, "team", "phone"); !ok || pv.Muted {
		t.Fatalf("the caller after a participant's commands (found %v): %+v", ok, pv)
	}

	// A moderator.
	deadPort := FreePort(t)
	// Over TCP to a closed port: the dial-out fails at once, so nothing is
	// pending at shutdown.
	uri := fmt.Sprintf("sip:nobody@127.0.0.1:%d;transport=tcp", deadPort)
	res := runAdhocClient(t, py, p, "alice", uri)
	t.Logf("slixmpp as the moderator: %+v", res)
	names := map[string]string{}
	for _, c := range res.Commands {
		names[c[0]] = c[1]
	}
	if len(res.Commands) != 6 || names["dialout"] != "Call a phone" || names["mute-phones"] != "Mute everyone on the phone" ||
		names["unmute-phones"] != "Unmute everyone" || names["lock"] != "Lock the conference" || names["unlock"] == "" || names["who"] != "Who is on the call" {
		t.Fatalf("commands %v", res.Commands)
	}
	if res.Who.Status != "completed" || len(res.Who.Items) != 1 || res.Who.Items[0]["name"] != "Desk Phone" ||
		res.Who.Items[0]["level"] != "audio" || res.Who.Items[0]["muted"] != "0" {
		t.Fatalf("who: %+v", res.Who)
	}
	if res.Mute.Status != "completed" || len(res.WhoAfterMute.Items) != 1 || res.WhoAfterMute.Items[0]["muted"] != "1" {
		t.Fatalf("mute: %+v then %+v", res.Mute, res.WhoAfterMute)
	}
	pv, ok := findBySIP(t, b, "team", "phone")
	if !ok || !pv.Muted || pv.Role != "visitor" {
		t.Fatalf("the caller after mute-phones: %+v", pv)
	}
	var room admin.Room
	if apiCall(t, b, "GET", "/rooms/team", "", &room); !room.Locked || res.Lock.Status != "completed" {
		t.Fatalf("lock: %+v, room locked=%v", res.Lock, room.Locked)
	}
	ua, err := sipua.New(sipua.Config{User: "late"})
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	late, err := ua.Invite(ctx, ua.Target("team", b.SIPAddr), sipua.Offer(ua.Addr(), "0"))
	if err != nil || late.Response.StatusCode != 403 {
		t.Fatalf("INVITE into the locked conference: %v %v", late, err)
	}
	if res.DialOutForm.Status != "executing" || res.DialOutForm.FormType != "form" || len(res.DialOutForm.Fields) != 1 || res.DialOut.Status != "completed" {
		t.Fatalf("dial-out: %+v then %+v", res.DialOutForm, res.DialOut)
	}
	WaitFor(t, 10*time.Second, "the focus dialling the URI", func() bool {
		for _, l := range strings.Split(b.Logs(), "\n") {
			if strings.Contains(l, `msg="dial-out requested"`) && strings.Contains(l, uri) && strings.Contains(l, "origin=xmpp") {
				return true
			}
		}
		return false
	})
}
