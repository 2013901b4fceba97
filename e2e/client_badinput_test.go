package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/client"
	"cusax.dev/bridge/config"
)

// runClientOnce runs the client in script mode with stdin, waits for it
// (bounded) and returns its exit code, stdout and stderr.
func runClientOnce(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bridgeBin, append([]string{"client", "--script"}, args...)...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir())
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errb.String()
	case <-time.After(60 * time.Second): // beyond SIP's Timer B (32 s) for a focus that never answers
		_ = cmd.Process.Kill()
		<-done // the output copiers are done: the buffers may be read
		t.Fatalf("client hung; stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
		return 0, "", ""
	}
}

// Bad input gets a clear message, no hang and the documented exit code:
// servers that do not answer, a wrong password, a room that does not
// exist, a SIP URI that is no conference focus, a focus whose chat room
// does not point back, and bad flags.
func TestClientBadInput(t *testing.T) {
	sippBin := sipp(t)
	env := startClientEnv(t, func(c *config.Config) {
		// Only alice may create rooms: for bob a new room does not exist.
		c.XMPP.RoomCreation = "listed"
		c.XMPP.Creators = []string{"alice@localhost"}
	})

	t.Run("unreachable", func(t *testing.T) {
		dead := "127.0.0.1:" + strconv.Itoa(FreePort(t))
		args := env.args(t, "bob")
		for i, a := range args {
			if a == env.p.C2SAddr() || a == env.b.SIPAddr {
				args[i] = dead
			}
		}
		code, out, errs := runClientOnce(t, "quit\n", args...)
		if code != client.ExitUnreachable || !strings.Contains(errs, "unreachable") || !strings.Contains(out, `"chat":"failed"`) || !strings.Contains(out, `"voice":"failed"`) {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
		t.Logf("stderr: %s", errs)
	})

	t.Run("wrong password", func(t *testing.T) {
		pw := filepath.Join(t.TempDir(), "pw")
		os.WriteFile(pw, []byte("not-bobs-password"), 0o600)
		code, out, errs := runClientOnce(t, "quit\n", "--jid", "bob@"+env.p.Domain, "--xmpp-server", env.p.C2SAddr(),
			"--ca-file", env.caFile, "--password-file", pw)
		if code != client.ExitAuth || !strings.Contains(errs, "password") {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
		t.Logf("stderr: %s", errs)
	})

	t.Run("one half down", func(t *testing.T) {
		// The SIP server does not answer, the chat does: the client goes on
		// and says so.
		args := env.args(t, "bob")
		for i, a := range args {
			if a == env.b.SIPAddr {
				args[i] = "127.0.0.1:" + strconv.Itoa(FreePort(t))
			}
		}
		code, out, errs := runClientOnce(t, "status\nquit\n", args...)
		if code != client.ExitOK || !strings.Contains(out, `{"event":"status","chat":"connected","voice":"failed","reason":"voice: `) {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
	})

	t.Run("room does not exist", func(t *testing.T) {
		code, out, errs := runClientOnce(t, "join xmpp:nosuch@"+env.p.MUCDomain+"\njoin xmpp:room@nowhere."+env.p.Domain+"\nquit\n", env.args(t, "bob")...)
		if code != client.ExitCommand || strings.Count(out, `"event":"error"`) != 2 || strings.Contains(out, `"event":"joined"`) {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, `"event":"error"`) {
				t.Logf("%s", l)
			}
		}
	})

	t.Run("not a focus", func(t *testing.T) {
		port := FreePort(t)
		uas := exec.Command(sippBin, "-sn", "uas", "-m", "1", "-i", "127.0.0.1", "-p", strconv.Itoa(port),
			"-mp", strconv.Itoa(FreePort(t)), "-timeout", "30s", "-nostdin")
		uas.Dir = t.TempDir()
		if err := uas.Start(); err != nil {
			t.Fatal(err)
		}
		uasDone := make(chan error, 1)
		go func() { uasDone <- uas.Wait() }()
		t.Cleanup(func() { _ = uas.Process.Kill() })
		code, out, errs := runClientOnce(t, "join sip:service@127.0.0.1:"+strconv.Itoa(port)+"\nquit\n", env.args(t, "bob")...)
		if code != client.ExitCommand || !strings.Contains(out, "is not a conference focus") || strings.Contains(out, `"event":"joined"`) {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
		// The client hung up: sipp's uas scenario ends with the BYE.
		select {
		case err := <-uasDone:
			if err != nil {
				t.Errorf("sipp uas: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("the client did not hang up the non-focus call")
		}
	})

	t.Run("unrelated chat room", func(t *testing.T) {
		// bob joins a focus whose grouptextchat names the bridge's room,
		// whose audio-video-uri names another conference: no chat join.
		port := FreePort(t)
		sf, _ := filepath.Abs(filepath.Join("testdata", "uas_fake_focus.xml"))
		fake := exec.Command(sippBin, "-sf", sf, "-set", "chat", "xmpp:team@"+env.p.MUCDomain+"?join", "-m", "1",
			"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-mp", strconv.Itoa(FreePort(t)), "-timeout", "30s", "-nostdin", "-trace_err")
		fake.Dir = t.TempDir()
		fakeOut := &strings.Builder{}
		fake.Stdout, fake.Stderr = fakeOut, fakeOut
		if err := fake.Start(); err != nil {
			t.Fatal(err)
		}
		fakeDone := make(chan error, 1)
		go func() { fakeDone <- fake.Wait() }()
		t.Cleanup(func() { _ = fake.Process.Kill() })
		// The room exists (alice's SIP call creates the conference).
		alice := StartScriptClient(t, "alice", env.args(t, "alice")...)
		waitConnected(alice)
		alice.Send("join %s", env.confURI())
		alice.WaitEvent("joined", 0, isEvent("joined"))

		bob := StartScriptClient(t, "bob", env.args(t, "bob")...)
		waitConnected(bob)
		bob.Send("join sip:fake@127.0.0.1:%d", port)
		_, j := bob.WaitEvent("joined", 0, isEvent("joined"))
		if j["related"] != false || j["chat"] != false || j["voice"] != true || j["chat_uri"] != "xmpp:team@"+env.p.MUCDomain+"?join" ||
			j["conference_uri"] != "sip:fake@127.0.0.1" {
			t.Fatalf("joined %v", j)
		}
		_, e := bob.WaitEvent("unrelated reported", 0, isEvent("error"))
		if !strings.Contains(e["message"].(string), "unrelated") {
			t.Errorf("error %v", e)
		}
		// alice's room never saw bob's chat half.
		for _, r := range alice.Rows() {
			if strings.HasPrefix(r["jid"].(string), "bob@") {
				t.Errorf("bob auto-joined the unrelated room: %s", rowsString(alice.Rows()))
			}
		}
		bob.Send("leave")
		bob.Send("quit")
		if code := bob.Wait(15 * time.Second); code != client.ExitOK {
			t.Errorf("bob exit code %d", code)
		}
		select {
		case err := <-fakeDone:
			if err != nil {
				t.Errorf("sipp fake focus: %v\n%s", err, fakeOut)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("the fake focus got no BYE\n%s", fakeOut)
		}
		alice.Send("quit")
		alice.Wait(15 * time.Second)
	})

	t.Run("unrelated conference", func(t *testing.T) {
		// bob joins the room from xmpp: with --with-voice, but his SIP
		// server is another bridge (no chat side): the conference he reaches
		// publishes no grouptextchat naming the room, so he hangs up.
		other := StartBridge(t, nil)
		args := env.args(t, "bob", "--with-voice")
		for i, a := range args {
			if a == env.b.SIPAddr {
				args[i] = other.SIPAddr
			}
		}
		bob := StartScriptClient(t, "bob", args...)
		waitConnected(bob)
		bob.Send("join xmpp:%s", env.room())
		_, j := bob.WaitEvent("joined", 0, isEvent("joined"))
		if j["chat"] != true || j["voice"] != false || j["related"] != false || j["conference_uri"] != env.confURI() {
			t.Fatalf("joined %v", j)
		}
		_, e := bob.WaitEvent("unrelated reported", 0, isEvent("error"))
		if !strings.Contains(e["message"].(string), "unrelated, hung up") {
			t.Errorf("error %v", e)
		}
		WaitFor(t, 10*time.Second, "the other bridge's call hung up", func() bool {
			return other.Metric("cusax_participants_active") == 0
		})
		bob.Send("quit")
		if code := bob.Wait(15 * time.Second); code != client.ExitOK {
			t.Errorf("exit %d", code)
		}
	})

	t.Run("registrar", func(t *testing.T) {
		// REGISTER with digest against sipp as the registrar: the right
		// password registers (voice connected), a wrong one is refused
		// (exit 4).
		for _, tc := range []struct {
			password string
			code     int
			want     string
		}{
			{e2eUsers["bob"], client.ExitOK, `"voice":"connected"`},
			{"not-bobs-password", client.ExitAuth, "wrong SIP user or password"},
		} {
			port := FreePort(t)
			sf, _ := filepath.Abs(filepath.Join("testdata", "uas_registrar.xml"))
			reg := exec.Command(sippBin, "-sf", sf, "-m", "1", "-i", "127.0.0.1", "-p", strconv.Itoa(port),
				"-timeout", "30s", "-nostdin", "-trace_err")
			reg.Dir = t.TempDir()
			regOut := &strings.Builder{}
			reg.Stdout, reg.Stderr = regOut, regOut
			if err := reg.Start(); err != nil {
				t.Fatal(err)
			}
			regDone := make(chan error, 1)
			go func() { regDone <- reg.Wait() }()
			pw := filepath.Join(t.TempDir(), "pw")
			os.WriteFile(pw, []byte(tc.password), 0o600)
			code, out, errs := runClientOnce(t, "status\nquit\n", "--sip", "sip:bob@"+env.b.Config.SIP.Domain,
				"--sip-server", env.b.SIPAddr, "--sip-registrar", "127.0.0.1:"+strconv.Itoa(port), "--sip-password-file", pw)
			if code != tc.code || !strings.Contains(out+errs, tc.want) {
				t.Errorf("password %q: exit %d\nstdout:\n%s\nstderr:\n%s\nsipp:\n%s", tc.password, code, out, errs, regOut)
			}
			select {
			case <-regDone:
			case <-time.After(10 * time.Second):
				_ = reg.Process.Kill()
				t.Errorf("the registrar saw no second REGISTER\n%s", regOut)
			}
		}
	})

	t.Run("roster call", func(t *testing.T) {
		// carol publishes a vCard whose TEL is the conference; bob has her
		// in his roster: his client lists her with the TEL and calls it.
		carol := DialXMPP(t, env.p.C2SAddr(), "carol", env.p.Domain, e2eUsers["carol"])
		if r := ownIQ(carol, `<vCard xmlns='vcard-temp'><FN>Carol</FN><TEL><VOICE/><NUMBER>`+env.confURI()+`</NUMBER></TEL></vCard>`); r.Attr("type") != "result" {
			t.Fatalf("vCard set: %s", r)
		}
		b := DialXMPP(t, env.p.C2SAddr(), "bob", env.p.Domain, e2eUsers["bob"])
		if r := ownIQ(b, `<query xmlns='jabber:iq:roster'><item jid='carol@`+env.p.Domain+`' name='Carol'/></query>`); r.Attr("type") != "result" {
			t.Fatalf("roster set: %s", r)
		}
		b.Close()
		bob := StartScriptClient(t, "bob", env.args(t, "bob")...)
		waitConnected(bob)
		_, r := bob.WaitEvent("roster", 0, isEvent("roster"))
		cs, _ := r["contacts"].([]any)
		if len(cs) != 1 || cs[0].(map[string]any)["tel"] != env.confURI() || cs[0].(map[string]any)["name"] != "Carol" {
			t.Fatalf("roster %v", r)
		}
		bob.Send("call carol@%s", env.p.Domain)
		_, j := bob.WaitEvent("the call", 0, isEvent("joined"))
		if j["voice"] != true || j["conference_uri"] != env.confURI() {
			t.Fatalf("call: %v", j)
		}
		bob.Send("quit")
		if code := bob.Wait(15 * time.Second); code != client.ExitOK {
			t.Errorf("exit %d", code)
		}
	})

	t.Run("bad flags", func(t *testing.T) {
		for _, args := range [][]string{
			{},
			{"--jid", "not a jid"},
			{"--jid", "bob@localhost"}, // no password
			{"--sip", "sip:bob@127.0.0.1", "--audio-in", "tone:abc"},
			{"--sip", "sip:bob@127.0.0.1", "--provision", "https://example.invalid/p"}, // no account name
			{"--user", "bob", "--provision", "ftp://example.invalid/p"},
			{"--sip", "sip:bob@127.0.0.1", "--audio-in", "device"}, // the e2e binary is built without -tags malgo
		} {
			code, _, errs := runClientOnce(t, "", args...)
			if code != client.ExitUsage || errs == "" {
				t.Errorf("%q: exit %d, stderr %q", args, code, errs)
			}
		}
	})
}

// ownIQ sends an IQ set to the user's own account (no to) and waits for
// the answer.
func ownIQ(c *XMPPClient, payload string) *Elem {
	c.t.Helper()
	id := "own" + strconv.FormatInt(time.Now().UnixNano(), 10)
	c.Send(`<iq xmlns='jabber:client' type='set' id=%q>%s</iq>`, id, payload)
	return c.Next("answer to "+id, func(e *Elem) bool { return e.XMLName.Local == "iq" && e.Attr("id") == id })
}
