package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/mixer/audiotest"
)

// TestConsoleInChromium drives the moderator console in a real headless
// Chromium: it logs in with the token, opens the room, sees a SIP caller
// appear live (from the event stream) as a phone participant, mutes it
// with the button, and the caller's tone leaves the mix while the MUC shows
// it as visitor. A screenshot is kept in the test's artifact directory
// (go test -artifacts keeps it).
func TestConsoleInChromium(t *testing.T) {
	chromium := NeedTool(t, "chromium", "chromium")
	p := StartProsody(t, e2eUsers)
	b := startAPIBridge(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const rate = 8000

	dial := func(user string, freq float64) (*audiotest.Phone, *sipua.Call) {
		phone, err := audiotest.NewPhone(audiotest.PhoneConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { phone.Close() })
		phone.SetSource(audiotest.Tone(freq, 8000, rate).Fill)
		ua, err := sipua.New(sipua.Config{User: user, DisplayName: strings.ToUpper(user[:1]) + user[1:]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ua.Close() })
		call, err := ua.Invite(ctx, ua.Target("team", b.SIPAddr), sipua.Offer(phone.Addr(), "0 101"))
		if err != nil || call.Response.StatusCode != 200 {
			t.Fatalf("%s INVITE: %v %v", user, call, err)
		}
		if err := call.Ack(nil); err != nil {
			t.Fatal(err)
		}
		dst, err := sipua.AudioPort(call.Response.Body())
		if err != nil {
			t.Fatal(err)
		}
		phone.Start(dst)
		return phone, call
	}
	listener, _ := dial("listener", 900)

	alice := login(t, p, "alice")
	waitComponent(t, alice, p.MUCDomain, 10*time.Second)
	roomJID := "team@" + p.MUCDomain
	alice.Join(roomJID, "Alice", "")

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer bcancel()
	fail := func(what string, err error) {
		t.Helper()
		html, _ := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("body")))
		t.Fatalf("console: %s: %v\npage:\n%s", what, err, html)
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(bctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(c, steps...); err != nil {
			fail(what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		c, cancel := context.WithTimeout(bctx, 20*time.Second)
		defer cancel()
		v, err := chromedp.Run(c, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			fail("read "+sel, err)
		}
		return strings.TrimSpace(v)
	}
	// The browser starts with the first Run, on a context without timeout.
	if err := chromedp.Do(bctx, chromedp.Navigate(b.AdminURL+"/console/")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	do("the login form", chromedp.WaitVisible(chromedp.ID("token")))

	// A wrong token is refused and the form stays.
	do("log in with a wrong token", chromedp.SendKeys(chromedp.ID("token"), "wrong"), chromedp.Click(chromedp.ID("login-button")),
		chromedp.WaitVisible(chromedp.ID("login")))
	WaitFor(t, 10*time.Second, "the login error", func() bool { return text("#login-error") != "" })
	do("log in", chromedp.SendKeys(chromedp.ID("token"), apiToken), chromedp.Click(chromedp.ID("login-button")),
		chromedp.WaitVisible(chromedp.ID("room-team")))
	url, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil || strings.Contains(url, apiToken) {
		t.Fatalf("location %q (%v): the token must not be in the URL", url, err)
	}
	stored, err := chromedp.Run(bctx, chromedp.Evaluate[string](`sessionStorage.getItem("cusax-admin-token")`))
	if err != nil || stored != apiToken {
		t.Fatalf("session storage holds %q (%v)", stored, err)
	}
	do("open the room", chromedp.Click(chromedp.ID("room-team")), chromedp.WaitVisible(chromedp.CSS("#participants tr")))

	// A caller dials in: the console shows it live, as a phone participant.
	speaker, _ := dial("speaker", 500)
	var id string
	WaitFor(t, 10*time.Second, "the speaker in the API", func() bool {
		pv, ok := findBySIP(t, b, "team", "speaker")
		id = pv.ID
		return ok
	})
	row := "#p-" + id
	do("see the caller appear", chromedp.WaitVisible(chromedp.CSS(row)))
	if level, role := text(row+" .level"), text(row+" td.role"); level != "phone" || role != "participant" {
		t.Fatalf("the caller's row shows level %q role %q", level, role)
	}
	WaitFor(t, 5*time.Second, "the listener hearing the speaker", func() bool {
		return audiotest.PowerDB(listener.Tail(rate/2), 500, rate) > -40
	})

	// Mute with the button.
	do("mute", chromedp.Click(chromedp.CSS(row+" button.mute")), chromedp.WaitVisible(chromedp.CSS(row+" td.muted-yes")))
	if muted, role := text(row+" td.muted"), text(row+" td.role"); !strings.HasPrefix(muted, "muted") || role != "visitor" {
		t.Fatalf("after mute the row shows %q, role %q", muted, role)
	}
	listener.ResetRecording()
	WaitFor(t, 5*time.Second, "700 ms of audio after the mute", func() bool { return len(listener.Recording()) >= 7*rate/10 })
	if l := audiotest.PowerDB(listener.Recording()[rate/5:], 500, rate); l > -50 {
		t.Fatalf("after the console's mute the listener still hears the speaker at %.1f dBFS", l)
	}
	alice.Next("the speaker as visitor in the MUC", func(e *Elem) bool {
		return e.Attr("from") == roomJID+"/Speaker" && e.Item() != nil && e.Item().Attr("role") == "visitor"
	})
	_ = speaker

	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.ArtifactDir()
	path := filepath.Join(dir, "console.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the console: %s (%d bytes; go test -artifacts keeps it)", path, len(shot))
	if os.Getenv("CONSOLE_SCREENSHOT") != "" {
		_ = os.WriteFile(os.Getenv("CONSOLE_SCREENSHOT"), shot, 0o644)
	}
}
