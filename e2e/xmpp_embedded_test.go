package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/config"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/mixer/audiotest"
)

// Embedded is a bridge binary running its embedded XMPP service
// (xmpp.mode: embedded) on free loopback ports.
type Embedded struct {
	*Bridge
	C2SAddr   string // 127.0.0.1:port
	ProvURL   string // https://127.0.0.1:port/provision
	Host      string // xmpp.host
	MUCDomain string
}

// StartEmbedded starts the binary with the embedded XMPP service on the
// defaults (STARTTLS required, self-signed certificate), with free ports.
func StartEmbedded(t testing.TB, mutate func(*config.Config)) *Embedded {
	t.Helper()
	c2s, prov := FreePort(t), FreePort(t)
	b := StartBridge(t, func(c *config.Config) {
		c.XMPP.Mode = "embedded"
		c.XMPP.C2SListen = fmt.Sprintf("127.0.0.1:%d", c2s)
		c.Provisioning.Listen = fmt.Sprintf("127.0.0.1:%d", prov)
		if mutate != nil {
			mutate(c)
		}
	})
	t.Cleanup(func() {
		// A race-built binary reports races in its log (and exits 66).
		if code := b.Stop(); code != 0 || strings.Contains(b.Logs(), "DATA RACE") {
			t.Errorf("bridge exit code %d after SIGTERM; data race reported: %v", code, strings.Contains(b.Logs(), "DATA RACE"))
		}
	})
	return &Embedded{Bridge: b, C2SAddr: b.Config.XMPP.C2SListen, ProvURL: fmt.Sprintf("https://127.0.0.1:%d/provision", prov),
		Host: b.Config.XMPP.Host, MUCDomain: b.Config.XMPP.Domain}
}

// User runs `bridge user ARGS…` on the bridge's configuration with the
// password (if any) in a file, and returns its output; it fails the test on
// a non-zero exit unless wantFail.
func (e *Embedded) User(t testing.TB, password string, wantFail bool, args ...string) string {
	t.Helper()
	argv := append([]string{"user"}, args...)
	argv = append(argv, "--config", e.ConfigPath)
	if password != "" {
		f := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(f, []byte(password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		argv = append(argv, "--password-file", f)
	}
	out, err := exec.Command(bridgeBin, argv...).CombinedOutput()
	if (err != nil) != wantFail {
		t.Fatalf("bridge %s: err %v, output:\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// slixEvent is one line the slixmpp client printed.
type slixEvent struct {
	Event     string   `json:"event"`
	Mechanism string   `json:"mechanism"`
	JID       string   `json:"jid"`
	Items     []string `json:"items"`
	XML       string   `json:"xml"`
	Occupants []string `json:"occupants"`
	Error     string   `json:"error"`
	Condition string   `json:"condition"`
}

// slixmpp runs e2e/testdata/slixmpp_client.py and returns its events.
func slixmpp(t testing.TB, addr, jid, password, mech string, extra ...string) []slixEvent {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	args := append([]string{"testdata/slixmpp_client.py", host, port, jid, password, mech}, extra...)
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var evs []slixEvent
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var ev slixEvent
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			evs = append(evs, ev)
		}
	}
	if err != nil || len(evs) == 0 || evs[len(evs)-1].Event != "end" {
		t.Fatalf("slixmpp %s: err %v\nstdout:\n%s\nstderr:\n%s", jid, err, out, lastLines(stderr.String(), 30))
	}
	for _, ev := range evs {
		if ev.Event == "error" || ev.Event == "timeout" {
			t.Fatalf("slixmpp %s: %+v\nall: %+v\nstderr:\n%s", jid, ev, evs, lastLines(stderr.String(), 30))
		}
	}
	return evs
}

func findEvents(evs []slixEvent, name string) []slixEvent {
	var out []slixEvent
	for _, e := range evs {
		if e.Event == name {
			out = append(out, e)
		}
	}
	return out
}

// TestEmbeddedXMPPWithSlixmpp: with the embedded defaults and no external
// XMPP server, slixmpp logs in over STARTTLS with SCRAM-SHA-1 and
// SCRAM-SHA-256, fetches its roster, joins a room and sees the SIP caller
// in it; a wrong password is refused; the account and the vCard survive a
// restart, and the vCard TEL holding the SIP AOR cannot be changed by its
// owner.
func TestEmbeddedXMPPWithSlixmpp(t *testing.T) {
	needSlixmpp(t)
	e := StartEmbedded(t, nil)
	e.User(t, "s3cret-alice", false, "add", "alice")
	e.User(t, "s3cret-bob", false, "add", "bob")
	e.User(t, "other", true, "add", "alice") // exists
	if out := e.User(t, "", false, "list"); !strings.Contains(out, "alice\talice@localhost\tsip:alice@127.0.0.1") || !strings.Contains(out, "bob\t") {
		t.Fatalf("user list:\n%s", out)
	}

	// A SIP caller in room "team".
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
	call, err := ua.Invite(ctx, ua.Target("team", e.SIPAddr), sipua.Offer(phone.Addr(), "0 101"))
	if err != nil || call.Response.StatusCode != 200 {
		t.Fatalf("INVITE: %v %v", err, call)
	}
	if err := call.Ack(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		bctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_, _ = call.Bye(bctx)
	})

	room := "team@" + e.MUCDomain
	aor := "sip:alice@" + e.Config.SIP.Domain
	for _, mech := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256"} {
		evs := slixmpp(t, e.C2SAddr, "alice@"+e.Host, "s3cret-alice", mech, room, "alice-"+strings.ToLower(mech[6:]))
		if len(findEvents(evs, "tls")) != 1 || len(findEvents(evs, "auth")) != 1 || len(findEvents(evs, "bound")) != 1 {
			t.Fatalf("%s: want STARTTLS, auth, bind: %+v", mech, evs)
		}
		if r := findEvents(evs, "roster"); len(r) != 1 || len(r[0].Items) != 0 {
			t.Fatalf("%s: roster %+v", mech, r)
		}
		j := findEvents(evs, "joined")
		if len(j) != 1 || !slices.Contains(j[0].Occupants, "Carol Phone") {
			t.Fatalf("%s: the room's occupants do not include the SIP caller: %+v", mech, j)
		}
		if !strings.Contains(e.Logs(), "mechanism="+mech+" tls=true") {
			t.Fatalf("%s: the bridge did not log a %s login over TLS", mech, mech)
		}
	}

	// A wrong password is refused, and counted.
	evs := slixmpp(t, e.C2SAddr, "alice@"+e.Host, "wrong", "SCRAM-SHA-256")
	if len(findEvents(evs, "failed_auth")) == 0 || len(findEvents(evs, "bound")) != 0 {
		t.Fatalf("wrong password: %+v", evs)
	}
	if v := e.Metric("cusax_xmpp_server_events_total", `event="auth_failed"`); v < 1 {
		t.Fatalf("auth_failed metric %v", v)
	}

	// The owner tries to replace the AOR TEL and to add a number of her own.
	vc := `<vCard xmlns="vcard-temp"><FN>Alice A</FN><TEL><VOICE/><NUMBER>sip:mallory@evil.example</NUMBER></TEL>` +
		`<TEL><HOME/><NUMBER>+15550100</NUMBER></TEL></vCard>`
	evs = slixmpp(t, e.C2SAddr, "alice@"+e.Host, "s3cret-alice", "SCRAM-SHA-256", "--vcard-set", vc)
	vcards := findEvents(evs, "vcard")
	if len(vcards) != 2 || len(findEvents(evs, "vcard_set")) != 1 {
		t.Fatalf("vcard: %+v", evs)
	}
	if !strings.Contains(vcards[0].XML, aor) {
		t.Fatalf("a new account's vCard lacks the TEL %s: %s", aor, vcards[0].XML)
	}
	checkVCard := func(x string) {
		t.Helper()
		for _, want := range []string{aor, "Alice A", "+15550100", "sip:mallory@evil.example"} {
			if !strings.Contains(x, want) {
				t.Fatalf("vCard lacks %q: %s", want, x)
			}
		}
	}
	checkVCard(vcards[1].XML)
	// Removing the AOR TEL is not possible either.
	evs = slixmpp(t, e.C2SAddr, "alice@"+e.Host, "s3cret-alice", "SCRAM-SHA-1", "--vcard-set",
		`<vCard xmlns="vcard-temp"><FN>Alice A</FN><TEL><HOME/><NUMBER>+15550100</NUMBER></TEL><TEL><VOICE/><NUMBER>sip:mallory@evil.example</NUMBER></TEL></vCard>`)
	if vcards := findEvents(evs, "vcard"); len(vcards) < 2 {
		t.Fatalf("vcard after the second update: %+v", evs)
	} else {
		checkVCard(vcards[1].XML)
	}

	// Restart: the account, its password and its vCard survive.
	embeddedBridge{e}.Restart(t)
	evs = slixmpp(t, e.C2SAddr, "alice@"+e.Host, "s3cret-alice", "SCRAM-SHA-256")
	if vcards := findEvents(evs, "vcard"); len(vcards) < 1 {
		t.Fatalf("no vcard after the restart: %+v", evs)
	} else {
		checkVCard(vcards[0].XML)
	}
	if len(findEvents(evs, "bound")) != 1 {
		t.Fatalf("login after restart: %+v", evs)
	}
	// Accounts changed while the bridge runs take effect at once.
	e.User(t, "new-pass", false, "passwd", "bob")
	if evs := slixmpp(t, e.C2SAddr, "bob@"+e.Host, "s3cret-bob", "SCRAM-SHA-1"); len(findEvents(evs, "failed_auth")) == 0 {
		t.Fatalf("old password still works: %+v", evs)
	}
	if evs := slixmpp(t, e.C2SAddr, "bob@"+e.Host, "new-pass", "SCRAM-SHA-1"); len(findEvents(evs, "bound")) != 1 {
		t.Fatalf("new password refused: %+v", evs)
	}
	e.User(t, "", false, "del", "bob")
	if evs := slixmpp(t, e.C2SAddr, "bob@"+e.Host, "new-pass", "SCRAM-SHA-1"); len(findEvents(evs, "failed_auth")) == 0 {
		t.Fatalf("deleted account logged in: %+v", evs)
	}
}

// rawStream opens a c2s connection, sends the stream header and returns
// what the server sent within a short while, or until it closed.
func rawStream(t *testing.T, addr, header string, then func(c net.Conn, r *bufio.Reader) string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, header); err != nil {
		t.Fatal(err)
	}
	return then(c, bufio.NewReader(c))
}

// readUntil reads until the text contains want or the connection closes.
func readUntil(r *bufio.Reader, want string) string {
	var b strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(b.String(), want) {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

const clientHeader = `<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`

// TestEmbeddedXMPPRefusals: PLAIN without TLS is refused (by default TLS is
// required before any SASL; with allow_plaintext_loopback PLAIN is still
// not offered and an attempt fails), and a server-to-server stream gets a
// clear stream error.
func TestEmbeddedXMPPRefusals(t *testing.T) {
	plain := "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
		base64.StdEncoding.EncodeToString([]byte("\x00alice\x00s3cret")) + "</auth>"
	e := StartEmbedded(t, nil)
	e.User(t, "s3cret", false, "add", "alice")
	got := rawStream(t, e.C2SAddr, clientHeader, func(c net.Conn, r *bufio.Reader) string {
		feats := readUntil(r, "</stream:features>")
		if !strings.Contains(feats, "starttls") || !strings.Contains(feats, "<required") || strings.Contains(feats, "PLAIN") {
			t.Fatalf("features before TLS: %s", feats)
		}
		_, _ = io.WriteString(c, plain)
		return readUntil(r, "</stream:stream>")
	})
	if !strings.Contains(got, "policy-violation") || strings.Contains(got, "success") {
		t.Fatalf("PLAIN before STARTTLS: %s", got)
	}

	// A server-to-server stream.
	got = rawStream(t, e.C2SAddr, `<?xml version='1.0'?><stream:stream to='localhost' from='example.org' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`,
		func(c net.Conn, r *bufio.Reader) string { return readUntil(r, "</stream:stream>") })
	if !strings.Contains(got, "<stream:error>") || !strings.Contains(got, "federation is not provided") {
		t.Fatalf("s2s stream: %s", got)
	}

	// Plain text allowed on loopback: STARTTLS optional, SCRAM before it,
	// PLAIN refused.
	p := StartEmbedded(t, func(c *config.Config) { c.XMPP.AllowPlaintextLoopback = true })
	p.User(t, "s3cret", false, "add", "alice")
	got = rawStream(t, p.C2SAddr, clientHeader, func(c net.Conn, r *bufio.Reader) string {
		feats := readUntil(r, "</stream:features>")
		if !strings.Contains(feats, "SCRAM-SHA-256") || strings.Contains(feats, "PLAIN") || !strings.Contains(feats, "starttls") || strings.Contains(feats, "required") {
			t.Fatalf("features on plain-text loopback: %s", feats)
		}
		_, _ = io.WriteString(c, plain)
		return readUntil(r, "</failure>")
	})
	if !strings.Contains(got, "invalid-mechanism") {
		t.Fatalf("PLAIN on plain-text loopback: %s", got)
	}
}

// TestEmbeddedProvisioning: GET /provision over HTTPS with the account's
// password returns both accounts, the TLS pin of the certificate the server
// presents, and the feature switches; a wrong password gets 401.
func TestEmbeddedProvisioning(t *testing.T) {
	e := StartEmbedded(t, nil)
	e.User(t, "s3cret", false, "add", "alice")
	var pin string
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			pin = strings.ToUpper(hex.EncodeToString(sum[:]))
			return nil
		}}}}
	get := func(user, pass string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.ProvURL, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, body
	}
	if res, _ := get("", ""); res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no credentials: %d", res.StatusCode)
	}
	if res, _ := get("alice", "wrong"); res.StatusCode != 401 {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	res, body := get("alice", "s3cret")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("provision: %d %s", res.StatusCode, body)
	}
	var doc struct {
		Version int    `json:"version"`
		Account string `json:"account"`
		SIP     struct {
			AOR, AuthUser, Realm, Proxy string
			Transports                  []string
		}
		XMPP struct {
			JID      string `json:"jid"`
			Port     int    `json:"port"`
			StartTLS string `json:"starttls"`
			Pin      string `json:"tls_pin_sha256"`
			MUC      string `json:"muc_domain"`
		}
		Related  bool `json:"related_accounts"`
		Features struct {
			AV bool `json:"xmpp_audio_video"`
			IM bool `json:"sip_instant_messaging"`
		}
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	_, c2sPort, _ := net.SplitHostPort(e.C2SAddr)
	if doc.Version != 1 || doc.Account != "alice" || doc.SIP.AOR != "sip:alice@127.0.0.1" || doc.XMPP.JID != "alice@localhost" ||
		fmt.Sprint(doc.XMPP.Port) != c2sPort || doc.XMPP.StartTLS != "required" || doc.XMPP.MUC != e.MUCDomain || !doc.Related ||
		doc.Features.AV || doc.Features.IM || doc.SIP.Proxy != e.SIPAddr {
		t.Fatalf("provisioning document: %s", body)
	}
	if strings.ReplaceAll(doc.XMPP.Pin, ":", "") != pin || !strings.Contains(e.Logs(), doc.XMPP.Pin) {
		t.Fatalf("pin %s, certificate %s; the log must name it", doc.XMPP.Pin, pin)
	}
}

// embeddedBridge is the bridge binary in embedded mode as the suite's bridge.
type embeddedBridge struct{ e *Embedded }

func (b embeddedBridge) Stop(t *testing.T) {
	t.Helper()
	if code := b.e.Bridge.Stop(); code != 0 {
		t.Fatalf("bridge exit code after SIGTERM: %d", code)
	}
}
func (b embeddedBridge) Restart(t *testing.T) { b.Stop(t); b.e.Start() }
func (b embeddedBridge) Connected() bool {
	return MetricValue(b.e.Metrics(), "cusax_xmpp_component_connected") == 1
}
func (b embeddedBridge) SIPDomain() string { return b.e.Config.SIP.Domain }

// RestartsXMPP: restarting the bridge restarts its XMPP server, and the
// suite's clients log in again.
func (b embeddedBridge) RestartsXMPP() bool { return true }

// TestXMPPMUCEmbedded runs the MUC suite (the one run through Prosody)
// against the embedded server.
func TestXMPPMUCEmbedded(t *testing.T) {
	e := StartEmbedded(t, func(c *config.Config) { c.XMPP.AllowPlaintextLoopback = true })
	for name, pw := range e2eUsers {
		e.User(t, pw, false, "add", name)
	}
	_, port, _ := net.SplitHostPort(e.C2SAddr)
	c2s, _ := strconv.Atoi(port)
	mucScenario(t, &XMPPServer{Domain: e.Host, MUCDomain: e.MUCDomain, C2SPort: c2s}, embeddedBridge{e})
}

// TestEmbeddedSIPDigest: the shared accounts authenticate SIP calls too
// (sip.auth.require_for_calls), with the password set by `bridge user`.
func TestEmbeddedSIPDigest(t *testing.T) {
	e := StartEmbedded(t, func(c *config.Config) { c.SIP.Auth.RequireForCalls = true; c.SIP.Auth.Realm = "127.0.0.1" })
	e.User(t, "s3cret", false, "add", "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	phone, err := audiotest.NewPhone(audiotest.PhoneConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phone.Close() })
	for _, tc := range []struct {
		pass string
		want int
	}{{"wrong", 403}, {"s3cret", 200}} {
		ua, err := sipua.New(sipua.Config{User: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		call, err := ua.InviteAuth(ctx, ua.Target("team", e.SIPAddr), sipua.Offer(phone.Addr(), "0"), sipua.Credentials{User: "alice", Password: tc.pass})
		if err != nil {
			ua.Close()
			t.Fatalf("INVITE with %q: %v", tc.pass, err)
		}
		if got := call.Response.StatusCode; got != tc.want {
			t.Fatalf("INVITE with password %q: %d, want %d", tc.pass, got, tc.want)
		}
		if tc.want == 200 {
			_ = call.Ack(nil)
			_, _ = call.Bye(ctx)
		}
		ua.Close()
	}
}

// TestEmbeddedVerifiedBinding: in embedded mode an account is a JID+AOR
// pair, so alice calling in (digest with her account) with Call-Info
// <xmpp:alice@localhost>;purpose=impp is bound to her occupant from the
// store, with no vCard stored by hand and no XMPP round trip: one
// participant with both legs. bob, authenticated as himself with the same
// hint, stays a separate participant.
func TestEmbeddedVerifiedBinding(t *testing.T) {
	e := StartEmbedded(t, func(c *config.Config) {
		c.XMPP.AllowPlaintextLoopback = true
		c.SIP.Auth.RequireForCalls = true
	})
	e.User(t, "alice-pw", false, "add", "alice")
	e.User(t, "bob-pw", false, "add", "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	room := "team@" + e.MUCDomain
	alice := DialXMPP(t, e.C2SAddr, "alice", e.Host, "alice-pw")
	createRoom(t, alice, room, "Alice")

	hint := sipua.WithHeader("Call-Info", "<xmpp:alice@"+e.Host+">;purpose=impp")
	ac := dial(t, ctx, e.Bridge, "alice", "Alice Phone", "alice-pw", "127.0.0.1", 600, hint)
	if ac.call.Response.StatusCode != 200 {
		t.Fatalf("alice's call: %s", ac.call.Response.StartLine())
	}
	WaitFor(t, 5*time.Second, "one participant with both legs", func() bool {
		return e.Metric("cusax_participants_active", `protocol="both"`) == 1 && e.Metric("cusax_participants_active") == 1
	})
	bc := dial(t, ctx, e.Bridge, "bob", "Bob Phone", "bob-pw", "127.0.0.1", 1100, hint)
	if bc.call.Response.StatusCode != 200 {
		t.Fatalf("bob's call: %s", bc.call.Response.StartLine())
	}
	alice.NextFrom("presence", room+"/Bob Phone")
	WaitFor(t, 5*time.Second, "bob separate and unbound", func() bool {
		return e.Metric("cusax_participants_active", `protocol="sip"`) == 1 && e.Metric("cusax_participants_active", `protocol="both"`) == 1
	})
}
