package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/config"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/mixer/audiotest"
)

// tmuxPane is one tmux session on a private server socket.
type tmuxPane struct {
	t      *testing.T
	socket string
	name   string
}

func (p *tmuxPane) run(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", p.socket}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (p *tmuxPane) keys(text string) {
	p.run("send-keys", "-t", p.name, "-l", text)
	p.run("send-keys", "-t", p.name, "Enter")
}
func (p *tmuxPane) screen() string { return p.run("capture-pane", "-p", "-t", p.name) }

func (p *tmuxPane) waitFor(what, text string) {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := p.screen()
		if strings.Contains(s, text) {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("profanity: no %s (%q) within 15s; screen:\n%s", what, text, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEmbeddedXMPPWithProfanity: a second real client, profanity in tmux,
// logs in over STARTTLS (accepting the self-signed certificate), joins the
// room with a SIP caller in it, and chats with a mellium client there.
func TestEmbeddedXMPPWithProfanity(t *testing.T) {
	NeedTool(t, "tmux", "tmux")
	NeedTool(t, "profanity", "profanity")
	e := StartEmbedded(t, func(c *config.Config) { c.XMPP.AllowPlaintextLoopback = true })
	e.User(t, "pw-alice", false, "add", "alice")
	e.User(t, "pw-bob", false, "add", "bob")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	phone, err := audiotest.NewPhone(audiotest.PhoneConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phone.Close() })
	ua, err := sipua.New(sipua.Config{User: "carol", DisplayName: "Carol Phone"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	call, err := ua.Invite(ctx, ua.Target("team", e.SIPAddr), sipua.Offer(phone.Addr(), "0"))
	if err != nil || call.Response.StatusCode != 200 {
		t.Fatalf("INVITE: %v", err)
	}
	_ = call.Ack(nil)
	room := "team@" + e.MUCDomain
	bob := DialXMPP(t, e.C2SAddr, "bob", e.Host, "pw-bob")
	bob.Join(room, "Bob", "")

	home := t.TempDir()
	p := &tmuxPane{t: t, socket: fmt.Sprintf("cusax-e2e-%d", time.Now().UnixNano()), name: "prof"}
	p.run("new-session", "-d", "-s", p.name, "-x", "200", "-y", "50", "env", "HOME="+home, "TERM=xterm", "profanity")
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", p.socket, "kill-server").Run() })
	p.waitFor("profanity started", "/help")
	_, port, _ := strings.Cut(e.C2SAddr, ":")
	p.keys("/connect alice@" + e.Host + " server 127.0.0.1 port " + port + " tls force")
	p.waitFor("password prompt", "Enter password")
	p.keys("pw-alice")
	p.waitFor("certificate prompt", "/tls allow")
	p.keys("/tls allow")
	p.waitFor("login", "logged in successfully")
	p.keys("/join " + room + " nick prof")
	p.waitFor("joined", "You have joined the room as prof")
	p.waitFor("the SIP caller among the occupants", "Carol Phone")
	bob.NextFrom("presence", room+"/prof")
	p.keys("hello from profanity")
	if m := bob.NextFrom("message", room+"/prof"); m.Child("", "body").Text != "hello from profanity" {
		t.Fatalf("groupchat from profanity: %s", m)
	}
	bob.Send(`<message type='groupchat' to=%q><body>hi profanity</body></message>`, room)
	p.waitFor("bob's message", "hi profanity")
	if !strings.Contains(e.Logs(), "user=alice mechanism=SCRAM-SHA-") || !strings.Contains(e.Logs(), "jid=alice@localhost/") {
		t.Fatal("no SCRAM login of alice in the bridge log")
	}
}
