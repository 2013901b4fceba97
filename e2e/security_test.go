package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"cusax.dev/bridge/config"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/mixer/audiotest"
)

// Attacks on the real binary (issue 12). Each keeps a meeting of two tone
// callers going on the side and checks, after the attack, that the bridge
// is up, that the two still hear each other, that the refusal was counted
// and, where the attack held state, that goroutines and the live heap (after
// a forced GC: liveHeap) come back near their baseline.

// meeting is two callers in room team, each sending a tone.
type meeting struct {
	b       *Bridge
	callers []*caller
}

var meetingFreqs = []float64{600, 1100}

// startMeeting calls two tone callers into team over UDP from 127.0.0.1,
// each with creds when non-nil.
func startMeeting(t *testing.T, b *Bridge, creds []*sipua.Credentials) *meeting {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m := &meeting{b: b}
	for i, f := range meetingFreqs {
		phone, err := audiotest.NewPhone(audiotest.PhoneConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { phone.Close() })
		phone.SetSource(audiotest.Tone(f, 8000, 8000).Fill)
		ua, err := sipua.New(sipua.Config{User: fmt.Sprintf("member%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ua.Close() })
		var call *sipua.Call
		if creds != nil && creds[i] != nil {
			call, err = ua.InviteAuth(ctx, ua.Target("team", b.SIPAddr), sipua.Offer(phone.Addr(), "0 101"), *creds[i])
		} else {
			call, err = ua.Invite(ctx, ua.Target("team", b.SIPAddr), sipua.Offer(phone.Addr(), "0 101"))
		}
		if err != nil || call.Response.StatusCode != 200 {
			t.Fatalf("meeting caller %d: %v %v", i, call.Response, err)
		}
		if err := call.Ack(nil); err != nil {
			t.Fatal(err)
		}
		dst, err := sipua.AudioPort(call.Response.Body())
		if err != nil {
			t.Fatal(err)
		}
		phone.Start(dst)
		m.callers = append(m.callers, &caller{freq: f, ua: ua, call: call, phone: phone})
	}
	WaitFor(t, 5*time.Second, "two participants", func() bool { return b.Metric("cusax_participants_active") >= 2 })
	m.checkHearing(t, "before the attack")
	return m
}

// checkHearing records a second of each caller's audio and checks that it
// holds the other's tone (≥ -40 dBFS) and not its own (20 dB below). A
// loaded machine may deliver a second late or short: up to four tries.
func (m *meeting) checkHearing(t *testing.T, when string) {
	t.Helper()
	var problems []string
	for range 4 {
		problems = problems[:0]
		time.Sleep(300 * time.Millisecond) // jitter buffers settle
		for _, c := range m.callers {
			c.phone.ResetRecording()
		}
		time.Sleep(1500 * time.Millisecond)
		for i, c := range m.callers {
			rec := c.phone.Tail(8000)
			if len(rec) < 4000 {
				problems = append(problems, fmt.Sprintf("caller %d received only %d samples in 1.5 s", i, len(rec)))
				continue
			}
			other := m.callers[1-i]
			heard := audiotest.PowerDB(rec, other.freq, 8000)
			self := audiotest.PowerDB(rec, c.freq, 8000)
			if heard < -40 || self > heard-20 {
				problems = append(problems, fmt.Sprintf("caller %d hears the other at %.1f dBFS and itself at %.1f dBFS", i, heard, self))
			}
		}
		if len(problems) == 0 {
			return
		}
	}
	for _, p := range problems {
		t.Errorf("%s: %s", when, p)
	}
}

// stopClean stops the bridge and fails unless it exits 0 (a race found by
// the race detector in the binary exits 66).
func stopClean(t *testing.T, b *Bridge) {
	t.Helper()
	if code := b.Stop(); code != 0 {
		t.Errorf("bridge exit code %d", code)
	}
}

// goroutines reads go_goroutines from the bridge's metrics.
func goroutines(b *Bridge) float64 { return b.Metric("go_goroutines") }

// liveHeap forces a garbage collection in the bridge and returns its live
// heap just after it (go_memstats_heap_alloc_bytes from the Go collector).
// The bridge has no endpoint of its own for a GC; the heap profile of
// net/http/pprof runs runtime.GC first when asked with gc=1, so the bridge
// must run with admin.pprof on (memoryChecked). Without a forced GC the
// figure would be the heap at whatever point of the GC cycle the scrape
// falls, garbage included: useless as a baseline.
func liveHeap(t *testing.T, b *Bridge) float64 {
	t.Helper()
	res, err := http.Get(b.AdminURL + "/debug/pprof/heap?gc=1")
	if err != nil {
		t.Fatalf("forcing a GC: %v", err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("forcing a GC: /debug/pprof/heap answered %s (admin.pprof off?)", res.Status)
	}
	return b.Metric("go_memstats_heap_alloc_bytes")
}

// memoryChecked turns on admin.pprof, which liveHeap needs.
func memoryChecked(c *config.Config) { c.Admin.Pprof = true }

// heapBound is how far above its baseline the bridge's live heap may stay
// after an attack and its cleanup: max(8 MiB, 50 %). The attacks here hold
// at most a few MiB of state at their peak (figures in the notes of issue
// 12), so this catches a table that keeps its entries or a goroutine leak
// with its buffers, not a stray kilobyte; the exact tables are checked by
// their own metrics. The margin is wide because the baseline is read with
// a meeting already mixing, and what the runtime keeps after a GC (sync
// pools, timers, sipgo transactions still waiting for their timers,
// allocations since the forced GC) moves by a MiB or two from one reading to
// the next on a loaded machine, and more under -race.
func heapBound(base float64) float64 { return base + max(8<<20, base/2) }

// waitHeapBack waits until the bridge's live heap, after a forced GC, is
// back within heapBound of base, and logs the figures.
func waitHeapBack(t *testing.T, b *Bridge, base float64) {
	t.Helper()
	var now float64
	WaitFor(t, 30*time.Second, "live heap back near the baseline", func() bool {
		now = liveHeap(t, b)
		return now <= heapBound(base)
	})
	t.Logf("live heap: baseline %.1f MiB, after %.1f MiB (bound %.1f MiB)", base/(1<<20), now/(1<<20), heapBound(base)/(1<<20))
}

// readyz returns the /readyz body.
func readyz(t *testing.T, b *Bridge) string {
	t.Helper()
	res, err := http.Get(b.AdminURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return string(body)
}

// sendRaw sends one SIP request over UDP from a fresh socket and returns
// the first final response's status line (empty when none within 3 s).
func sendRaw(t *testing.T, addr, msg string) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port := c.LocalAddr().(*net.UDPAddr).Port
	msg = strings.ReplaceAll(msg, "PORT", strconv.Itoa(port))
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, "\r\n", "\n"), "\n", "\r\n")
	dst, _ := net.ResolveUDPAddr("udp", addr)
	if _, err := c.WriteTo([]byte(msg), dst); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	deadline := time.Now().Add(3 * time.Second)
	for {
		_ = c.SetReadDeadline(deadline)
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return ""
		}
		line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		if !strings.HasPrefix(line, "SIP/2.0 1") {
			return string(buf[:n])
		}
	}
}

// 1. File descriptors: a flood of idle TCP connections, first from one
// source, then from many sources until accept(2) fails with EMFILE
// (RLIMIT_NOFILE 256), must not stop the bridge: accept errors are retried,
// new calls get 503 before the RTP sockets would fail, the meeting goes on,
// and once the attacker lets go the bridge takes calls and TCP again; idle
// connections are closed after sip.tcp.idle_timeout.
func TestHostileTCPFlood(t *testing.T) {
	const nofile = 256
	b := StartBridgeLimited(t, nofile, func(c *config.Config) {
		c.SIP.TCP.MaxPerSource = 16
		c.SIP.TCP.MaxConnections = 1000                          // let descriptors run out, as with a large limit
		c.SIP.TCP.IdleTimeout = config.Duration(8 * time.Second) // longer than the flood takes
		c.Log.Level = "info"
		memoryChecked(c)
	})
	if got := b.Metric("cusax_fd_limit"); got != nofile {
		t.Fatalf("cusax_fd_limit = %v, want %d", got, nofile)
	}
	if rz := readyz(t, b); !strings.Contains(rz, "fd_limit: 256") {
		t.Errorf("/readyz does not report the limit:\n%s", rz)
	}
	m := startMeeting(t, b, nil)
	baseG := goroutines(b)
	baseH := liveHeap(t, b)

	var conns []net.Conn
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
		conns = nil
	}
	defer closeAll()
	dial := func(src string, n int) int {
		ok := 0
		for range n {
			d := net.Dialer{Timeout: 300 * time.Millisecond, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
			c, err := d.Dial("tcp", b.SIPAddr)
			if err != nil {
				continue
			}
			ok++
			conns = append(conns, c)
		}
		return ok
	}

	// One source: only max_per_source stay open.
	dial("127.0.0.1", 40)
	WaitFor(t, 5*time.Second, "16 connections from one source, the rest refused", func() bool {
		return b.Metric("cusax_sip_tcp_connections") == 16 &&
			b.Metric("cusax_security_refusals_total", `reason="tcp_per_source"`) >= 24
	})

	// Many sources until descriptors run out.
	for i := 2; i < 30; i++ {
		dial(fmt.Sprintf("127.0.0.%d", i), 16)
	}
	// Descriptors are exhausted once the admin listener cannot take a new
	// connection either (each probe needs one: no keep-alive).
	probe := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	WaitFor(t, 10*time.Second, "descriptors exhausted", func() bool {
		res, err := probe.Get(b.AdminURL + "/healthz")
		if err != nil {
			return true
		}
		res.Body.Close()
		return false
	})
	// While descriptors are exhausted a new call is refused with 503, over
	// UDP (which needs no new descriptor for signalling).
	invite := "INVITE sip:team@" + b.SIPAddr + " SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:PORT;branch=z9hG4bK-fd1\n" +
		"From: <sip:late@127.0.0.1>;tag=fd1\nTo: <sip:team@127.0.0.1>\nCall-ID: fd-flood-1\nCSeq: 1 INVITE\n" +
		"Contact: <sip:late@127.0.0.1:PORT>\nMax-Forwards: 70\nContent-Length: 0\n\n"
	res := sendRaw(t, b.SIPAddr, invite)
	if !strings.HasPrefix(res, "SIP/2.0 503") || !strings.Contains(res, "Retry-After") {
		t.Errorf("INVITE while descriptors are exhausted: %q, want 503 with Retry-After", firstLine(res))
	}
	m.checkHearing(t, "descriptors exhausted")

	closeAll()
	// The listener drains its backlog (connections the client closed
	// already) after its accept backoff; then the descriptors are back.
	lastErrors, quietSince := -1.0, time.Now()
	WaitFor(t, 20*time.Second, "every attacker connection released and the descriptors back", func() bool {
		if b.Metric("cusax_sip_tcp_connections") != 0 {
			return false
		}
		// The backlog is drained once accept has not failed for longer
		// than its longest backoff (1 s).
		if e := b.Metric("cusax_sip_tcp_accept_errors_total"); e != lastErrors {
			lastErrors, quietSince = e, time.Now()
			return false
		}
		if time.Since(quietSince) < 1500*time.Millisecond {
			return false
		}
		open := -1
		for _, l := range strings.Split(readyz(t, b), "\n") {
			if v, ok := strings.CutPrefix(l, "fd_open: "); ok {
				open, _ = strconv.Atoi(v)
			}
		}
		return open >= 0 && open < nofile-100
	})
	if b.Metric("cusax_sip_tcp_accept_errors_total") == 0 {
		t.Error("no accept error counted: the flood did not reach RLIMIT_NOFILE")
	}
	if b.Metric("cusax_security_refusals_total", `reason="fd_reserve"`) == 0 {
		t.Error("the 503 near RLIMIT_NOFILE was not counted")
	}
	// The bridge takes calls again, over TCP too.
	ua, err := sipua.New(sipua.Config{Transport: "tcp", User: "after"})
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	phone, _ := audiotest.NewPhone(audiotest.PhoneConfig{})
	defer phone.Close()
	var call *sipua.Call
	WaitFor(t, 10*time.Second, "a TCP call answered after the flood", func() bool {
		call, err = ua.Invite(ctx, ua.Target("team", b.SIPAddr), sipua.Offer(phone.Addr(), "0"))
		if err != nil {
			t.Fatalf("TCP call after the flood: %v", err)
		}
		return call.Response.StatusCode == 200
	})
	_ = call.Ack(nil)
	if _, err := call.Bye(ctx); err != nil {
		t.Error(err)
	}

	// Idle connections are closed.
	idleBefore := b.Metric("cusax_security_refusals_total", `reason="tcp_idle"`)
	dial("127.0.0.40", 5)
	WaitFor(t, 20*time.Second, "idle connections closed", func() bool {
		return b.Metric("cusax_security_refusals_total", `reason="tcp_idle"`) >= idleBefore+5
	})
	m.checkHearing(t, "after the flood")
	WaitFor(t, 10*time.Second, "goroutines back near the baseline", func() bool {
		return goroutines(b) <= baseG+30
	})
	// No peak figure: while descriptors are exhausted /metrics cannot be read.
	waitHeapBack(t, b, baseH)
	if code := b.Stop(); code != 0 {
		t.Errorf("exit code %d after the flood", code)
	}
	if strings.Contains(b.Logs(), "SIP listener failed") {
		t.Error("a SIP listener failed during the flood")
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}

// 5. Guessing digest passwords: after sip.auth.free_failures wrong answers
// the guesser's user and source are locked out for a growing delay (403
// with Retry-After, credentials not looked at: even the right password is
// refused); a guess on a nonce the bridge never issued gets a new challenge
// (stale), never a verdict; another user from another address is not
// affected; the meeting goes on.
func TestHostileDigestGuessing(t *testing.T) {
	b := StartBridge(t, func(c *config.Config) {
		c.SIP.Auth.RequireForCalls = true
		c.SIP.Auth.Accounts = []config.Account{{User: "member0", Password: "pw0"}, {User: "member1", Password: "pw1"},
			{User: "alice", Password: "wonderland"}}
		c.SIP.Auth.FreeFailures = 3
		c.SIP.Auth.MaxDelay = config.Duration(30 * time.Second)
		memoryChecked(c)
	})
	m := startMeeting(t, b, []*sipua.Credentials{{User: "member0", Password: "pw0"}, {User: "member1", Password: "pw1"}})
	baseH := liveHeap(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	guesser, err := sipua.New(sipua.Config{Host: "127.0.0.2", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	defer guesser.Close()
	phone, _ := audiotest.NewPhone(audiotest.PhoneConfig{})
	defer phone.Close()
	try := func(pass string) *sip.Response {
		call, err := guesser.InviteAuth(ctx, guesser.Target("team", b.SIPAddr), sipua.Offer(phone.Addr(), "0"),
			sipua.Credentials{User: "alice", Password: pass})
		if err != nil {
			t.Fatalf("INVITE: %v", err)
		}
		if call.Response.StatusCode == 200 {
			_ = call.Ack(nil)
			_, _ = call.Bye(ctx)
		}
		return call.Response
	}
	for i := range 3 {
		if res := try(fmt.Sprintf("guess%d", i)); res.StatusCode != 403 || res.GetHeader("Retry-After") != nil {
			t.Fatalf("guess %d: %s (Retry-After %v), want a plain 403", i, res.StartLine(), res.GetHeader("Retry-After"))
		}
	}
	res := try("guess3")
	if res.StatusCode != 403 {
		t.Fatalf("4th guess: %s", res.StartLine())
	}
	res = try("wonderland")
	if res.StatusCode != 403 || res.GetHeader("Retry-After") == nil {
		t.Fatalf("right password while locked out: %s, want 403 with Retry-After", res.StartLine())
	}
	if got := b.Metric("cusax_security_refusals_total", `reason="auth_throttled"`); got < 1 {
		t.Errorf("auth_throttled = %v", got)
	}
	if got := b.Metric("cusax_sip_auth_total", `result="bad"`); got != 4 {
		t.Errorf("sip_auth_total{bad} = %v, want 4 (the lockout answers without checking)", got)
	}
	t.Logf("live heap during the lockout: %.1f MiB", liveHeap(t, b)/(1<<20))

	// A guess on a made-up nonce is answered with a new challenge: the
	// password is not checked against a nonce the bridge never issued.
	other, err := sipua.New(sipua.Config{Host: "127.0.0.3", User: "member1"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	auth := `Digest username="member1", realm="localhost", nonce="0123456789abcdef0123456789abcdef", uri="sip:team@127.0.0.1", response="00000000000000000000000000000000", algorithm=MD5, qop=auth, nc=00000001, cnonce="x"`
	call, err := other.Invite(ctx, other.Target("team", b.SIPAddr), sipua.Offer(phone.Addr(), "0"), sipua.WithHeader("Authorization", auth))
	if err != nil {
		t.Fatal(err)
	}
	if call.Response.StatusCode != 401 || !strings.Contains(call.Response.GetHeader("WWW-Authenticate").Value(), "stale=true") {
		t.Errorf("made-up nonce: %s %v, want 401 stale=true", call.Response.StartLine(), call.Response.GetHeader("WWW-Authenticate"))
	}
	// Another user from another address still gets in.
	call, err = other.InviteAuth(ctx, other.Target("team", b.SIPAddr), sipua.Offer(phone.Addr(), "0"), sipua.Credentials{User: "member1", Password: "pw1"})
	if err != nil || call.Response.StatusCode != 200 {
		t.Fatalf("member1 from 127.0.0.3 during the lockout: %v %v", call.Response, err)
	}
	_ = call.Ack(nil)
	_, _ = call.Bye(ctx)
	m.checkHearing(t, "after the guessing")
	waitHeapBack(t, b, baseH)
	stopClean(t, b)
}

// 4. Subscriptions: one subscriber holds at most
// sip.subscriptions.per_participant (503 + Retry-After for more, counted),
// and a SUBSCRIBE whose Record-Route names a third party does not make the
// bridge send there: its NOTIFYs go back to the source.
func TestHostileSubscriptions(t *testing.T) {
	b := StartBridge(t, func(c *config.Config) {
		c.SIP.SubscribePolicy = "anyone"
		c.SIP.Subscriptions.PerParticipant = 3
		c.SIP.NotifyInterval = config.Duration(50 * time.Millisecond)
		memoryChecked(c)
	})
	m := startMeeting(t, b, nil)
	baseG := goroutines(b)
	baseH := liveHeap(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ua, err := sipua.New(sipua.Config{User: "watcher"})
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	var subs []*sipua.Subscription
	refused := 0
	for range 12 {
		s, err := ua.Subscribe(ctx, ua.Target("team", b.SIPAddr), "conference", 600)
		if err != nil {
			t.Fatal(err)
		}
		switch s.Response.StatusCode {
		case 200:
			subs = append(subs, s)
		case 503:
			if s.Response.GetHeader("Retry-After") == nil {
				t.Error("503 without Retry-After")
			}
			refused++
		default:
			t.Fatalf("SUBSCRIBE: %s", s.Response.StartLine())
		}
	}
	if len(subs) != 3 || refused != 9 {
		t.Fatalf("%d subscriptions admitted, %d refused; want 3 and 9", len(subs), refused)
	}
	if got := b.Metric("cusax_security_refusals_total", `reason="subscribe_participant"`); got != 9 {
		t.Errorf("subscribe_participant refusals = %v, want 9", got)
	}

	// A third party that must receive nothing.
	victim, err := net.ListenPacket("udp", "127.0.0.9:0")
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	rr := fmt.Sprintf("<sip:%s;lr>", victim.LocalAddr().String())
	other, err := sipua.New(sipua.Config{User: "reflector"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	s, err := other.Subscribe(ctx, other.Target("team", b.SIPAddr), "conference", 600, sipua.WithHeader("Record-Route", rr))
	if err != nil || s.Response.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE with a foreign Record-Route: %v %v", s.Response, err)
	}
	if _, err := s.NextNotify(ctx); err != nil {
		t.Fatalf("the subscriber itself got no NOTIFY: %v", err)
	}
	_ = victim.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	if n, _, err := victim.ReadFrom(make([]byte, 2048)); err == nil {
		t.Errorf("the third party named in Record-Route received %d bytes", n)
	}
	if got := b.Metric("cusax_security_refusals_total", `reason="route_set_ignored"`); got != 1 {
		t.Errorf("route_set_ignored = %v", got)
	}
	// Four subscriptions are a few KiB: growth is logged, not asserted (it
	// drowns in what a GC leaves behind from one reading to the next).
	t.Logf("live heap with 4 subscriptions held: %.1f MiB", liveHeap(t, b)/(1<<20))

	for _, s := range append(subs, s) {
		if _, err := s.Refresh(ctx, 0); err != nil {
			t.Error(err)
		}
	}
	WaitFor(t, 10*time.Second, "no subscription left", func() bool { return b.Metric("cusax_subscriptions_active") == 0 })
	// The places are given back: the watcher may subscribe again.
	s2, err := ua.Subscribe(ctx, ua.Target("team", b.SIPAddr), "conference", 600)
	if err != nil || s2.Response.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE after unsubscribing: %v %v", s2.Response, err)
	}
	_, _ = s2.Refresh(ctx, 0)
	m.checkHearing(t, "after the subscriptions")
	WaitFor(t, 10*time.Second, "goroutines back near the baseline", func() bool { return goroutines(b) <= baseG+10 })
	waitHeapBack(t, b, baseH)
	stopClean(t, b)
}

// 8. Contact: * in an INVITE or a SUBSCRIBE is refused with 400 and
// counted; the bridge never forms a dialog towards sip:*.
func TestHostileContactWildcard(t *testing.T) {
	b := StartBridge(t, nil)
	for i, method := range []string{"INVITE", "SUBSCRIBE"} {
		msg := fmt.Sprintf("%[1]s sip:team@%[2]s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:PORT;branch=z9hG4bK-wc%[3]d\n"+
			"From: <sip:x@127.0.0.1>;tag=wc%[3]d\nTo: <sip:team@127.0.0.1>\nCall-ID: wildcard-%[3]d\nCSeq: 1 %[1]s\n"+
			"Contact: *\nEvent: conference\nExpires: 60\nMax-Forwards: 70\nContent-Length: 0\n\n", method, b.SIPAddr, i)
		if res := sendRaw(t, b.SIPAddr, msg); !strings.HasPrefix(res, "SIP/2.0 400") {
			t.Errorf("%s with Contact: *: %q, want 400", method, firstLine(res))
		}
	}
	if got := b.Metric("cusax_security_refusals_total", `reason="contact_wildcard"`); got != 2 {
		t.Errorf("contact_wildcard = %v, want 2", got)
	}
	if got := b.Metric("cusax_participants_active"); got != 0 {
		t.Errorf("%v participants after wildcard INVITEs", got)
	}
	stopClean(t, b)
}

// 7. disco#items of a service with thousands of rooms went out as one
// stanza over Prosody's 512 KiB limit, and Prosody cut the component on
// every request. Now it is paged (XEP-0059) and capped: through a real
// Prosody a client gets a page with a <set/>, pages on, and the component
// link stays up.
func TestHostileDiscoItemsManyRooms(t *testing.T) {
	p := StartProsody(t, map[string]string{"eve": "pw"})
	b := StartBridge(t, func(c *config.Config) {
		c.XMPP = config.XMPP{Mode: "component", Server: p.ComponentAddr(), Domain: p.MUCDomain, Secret: p.Secret,
			RoomCreation: "anyone", HistoryLength: 50}
		for i := range 4000 {
			c.Rooms = append(c.Rooms, config.Room{Name: fmt.Sprintf("%s-%04d", strings.Repeat("r", 59), i)})
		}
		c.Log.Level = "info"
		memoryChecked(c)
	})
	WaitFor(t, 15*time.Second, "component connected", func() bool { return b.Metric("cusax_xmpp_component_connected") == 1 })
	baseH := liveHeap(t, b)
	c := DialXMPP(t, p.C2SAddr(), "eve", p.Domain, "pw")
	defer c.Close()
	const nsItems, nsRSM = "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/rsm"
	seen := map[string]bool{}
	after := ""
	for page := range 3 {
		payload := `<query xmlns='` + nsItems + `'/>`
		if after != "" {
			payload = `<query xmlns='` + nsItems + `'><set xmlns='` + nsRSM + `'><after>` + after + `</after></set></query>`
		}
		res := c.IQ(p.MUCDomain, "get", payload)
		if res.Attr("type") != "result" {
			t.Fatalf("page %d: %s", page, res)
		}
		q := res.Child(nsItems, "query")
		items := q.Children(nsItems, "item")
		set := q.Child(nsRSM, "set")
		if len(items) == 0 || len(items) > 100 || set == nil {
			t.Fatalf("page %d: %d items, set %v", page, len(items), set)
		}
		if cnt := set.Child(nsRSM, "count"); cnt == nil || cnt.Text != "4000" {
			t.Errorf("page %d: count %v", page, cnt)
		}
		for _, it := range items {
			if seen[it.Attr("jid")] {
				t.Fatalf("page %d repeats %s", page, it.Attr("jid"))
			}
			seen[it.Attr("jid")] = true
		}
		after = set.Child(nsRSM, "last").Text
	}
	if b.Metric("cusax_xmpp_component_connected") != 1 {
		t.Fatal("the component link went down")
	}
	if n := strings.Count(b.Logs(), "xmpp component connected"); n > 1 {
		t.Errorf("the component reconnected (%d connections)", n)
	}
	waitHeapBack(t, b, baseH)
	stopClean(t, b)
}

// 6. Rooms and PINs: calls to new names leave no room behind once they
// hang up (memory and store); one source cannot hold more than
// conference.max_rooms_per_creator rooms; sip.room_creation: listed is
// tested in the core. Wrong moderator PINs by DTMF lock the caller out:
// even the right PIN is then ignored, and the lockout is counted.
func TestHostileRoomsAndPIN(t *testing.T) {
	b := StartBridge(t, func(c *config.Config) {
		c.Conference.IdleGrace = 0 // destroyed at once
		c.Conference.MaxRoomsPerCreator = 5
		c.Conference.PINAttempts = 2
		c.Rooms = []config.Room{{Name: "team", PIN: "4711"}}
		c.Log.Level = "info"
		memoryChecked(c)
	})
	m := startMeeting(t, b, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	baseG := goroutines(b)
	baseH := liveHeap(t, b)

	ua, err := sipua.New(sipua.Config{Host: "127.0.0.5", User: "roomer"})
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	phone, _ := audiotest.NewPhone(audiotest.PhoneConfig{})
	defer phone.Close()
	// 60 calls to new names, each hung up: nothing stays.
	for i := range 60 {
		call, err := ua.Invite(ctx, ua.Target(fmt.Sprintf("junk-%d", i), b.SIPAddr), sipua.Offer(phone.Addr(), "0"))
		if err != nil || call.Response.StatusCode != 200 {
			t.Fatalf("call %d: %v %v", i, call.Response, err)
		}
		_ = call.Ack(nil)
		if _, err := call.Bye(ctx); err != nil {
			t.Fatal(err)
		}
	}
	WaitFor(t, 10*time.Second, "only the meeting's room left", func() bool { return b.Metric("cusax_conferences_active") == 1 })

	// Holding rooms open: the sixth from one source is refused.
	var held []*sipua.Call
	for i := range 6 {
		call, err := ua.Invite(ctx, ua.Target(fmt.Sprintf("held-%d", i), b.SIPAddr), sipua.Offer(phone.Addr(), "0"))
		if err != nil {
			t.Fatal(err)
		}
		if i < 5 && call.Response.StatusCode != 200 {
			t.Fatalf("room %d: %s", i, call.Response.StartLine())
		}
		if i == 5 && call.Response.StatusCode != 403 {
			t.Fatalf("sixth room from one source: %s, want 403", call.Response.StartLine())
		}
		if call.Response.StatusCode == 200 {
			_ = call.Ack(nil)
			held = append(held, call)
		}
	}
	if got := b.Metric("cusax_security_refusals_total", `reason="room_quota"`); got != 1 {
		t.Errorf("room_quota = %v", got)
	}
	t.Logf("live heap with 5 rooms held: %.1f MiB", liveHeap(t, b)/(1<<20))
	for _, c := range held {
		_, _ = c.Bye(ctx)
	}
	WaitFor(t, 10*time.Second, "held rooms freed", func() bool { return b.Metric("cusax_conferences_active") == 1 })

	// PIN guessing by DTMF from a meeting member.
	guesser := m.callers[0].phone
	dial := func(digits string) {
		for _, d := range digits {
			if err := guesser.SendDTMF(d, 80*time.Millisecond); err != nil {
				t.Fatal(err)
			}
		}
	}
	dial("*10000#*10001#*10002#")
	dial("*14711#")
	WaitFor(t, 10*time.Second, "the PIN lockout counted", func() bool {
		return b.Metric("cusax_security_refusals_total", `reason="pin_locked"`) >= 1
	})
	if got := b.Metric("cusax_moderation_actions_total", `action="role"`, `origin="dtmf"`); got != 0 {
		t.Errorf("the right PIN during the lockout made a moderator (%v role changes)", got)
	}
	m.checkHearing(t, "after the room flood and PIN guessing")
	WaitFor(t, 10*time.Second, "goroutines back near the baseline", func() bool { return goroutines(b) <= baseG+10 })
	waitHeapBack(t, b, baseH)
	stopClean(t, b)
}

// sprayer sends a tone as RTP (and RTCP receiver reports to port+1) from
// its own address to every even port of a range, every 20 ms, and counts
// what comes back to it.
type sprayer struct {
	rtp, rtcp *net.UDPConn
	received  atomic.Int64
	stop      chan struct{}
	done      sync.WaitGroup
}

func startSprayer(t *testing.T, ip string, lo, hi int, freq float64) *sprayer {
	t.Helper()
	s := &sprayer{stop: make(chan struct{})}
	var err error
	if s.rtp, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)}); err != nil {
		t.Fatal(err)
	}
	if s.rtcp, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*net.UDPConn{s.rtp, s.rtcp} {
		s.done.Add(1)
		go func() {
			defer s.done.Done()
			buf := make([]byte, 2048)
			for {
				if _, _, err := c.ReadFromUDP(buf); err != nil {
					return
				}
				s.received.Add(1)
			}
		}()
	}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		gen := audiotest.Tone(freq, 8000, 8000)
		pcm := make([]int16, 160)
		payload := make([]byte, 160)
		rr, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 0xbad}})
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(60 * time.Second) // bounded, whatever the test does
		for seq := uint16(0); ; seq++ {
			select {
			case <-s.stop:
				return
			case <-deadline:
				return
			case <-tick.C:
			}
			gen.Fill(pcm)
			audiotest.Encode("PCMU", payload, pcm)
			p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 0xbad}, Payload: payload}
			b, _ := p.Marshal()
			for port := lo + lo%2; port+1 <= hi; port += 2 {
				_, _ = s.rtp.WriteToUDP(b, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
				if seq%25 == 0 {
					_, _ = s.rtcp.WriteToUDP(rr, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port + 1})
				}
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *sprayer) close() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	s.rtp.Close()
	s.rtcp.Close()
	s.done.Wait()
}

// 2 and 3. RTP hijack and media to a third party. A sprayer sends a tone
// to every RTP port of the bridge, all the time, from another address:
// a caller joining meanwhile still gets its own audio and the meeting's,
// nobody hears the sprayer, and the sprayer gets no audio once the
// learning window is over; a listen-only (recvonly) caller, whose phone
// sends only RTCP, is never taken over and keeps hearing the meeting; a
// caller whose SDP names a third party that never answers, kept "alive"
// by the sprayer's RTCP, stops being sent audio after a few seconds and is
// hung up by rtp.timeout. Refusals are counted.
func TestHostileRTPHijack(t *testing.T) {
	b := StartBridge(t, func(c *config.Config) {
		c.RTP.Timeout = config.Duration(5 * time.Second)
		c.Log.Level = "info"
		memoryChecked(c)
	})
	m := startMeeting(t, b, nil)
	baseG := goroutines(b)
	baseH := liveHeap(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const sprayFreq = 1700
	sp := startSprayer(t, "127.0.0.77", b.RTPMin, b.RTPMax, sprayFreq)

	// A new caller joins under the spray.
	const cFreq = 1400
	cPhone, _ := audiotest.NewPhone(audiotest.PhoneConfig{})
	defer cPhone.Close()
	cPhone.SetSource(audiotest.Tone(cFreq, 8000, 8000).Fill)
	cUA, _ := sipua.New(sipua.Config{User: "newcomer"})
	defer cUA.Close()
	call, err := cUA.Invite(ctx, cUA.Target("team", b.SIPAddr), sipua.Offer(cPhone.Addr(), "0 101"))
	if err != nil || call.Response.StatusCode != 200 {
		t.Fatalf("newcomer: %v %v", call.Response, err)
	}
	_ = call.Ack(nil)
	dst, _ := sipua.AudioPort(call.Response.Body())
	cPhone.Start(dst)

	// A listen-only caller: sends no RTP, only RTCP once a second.
	dPhone, _ := audiotest.NewPhone(audiotest.PhoneConfig{})
	defer dPhone.Close()
	dUA, _ := sipua.New(sipua.Config{User: "listener"})
	defer dUA.Close()
	dCall, err := dUA.Invite(ctx, dUA.Target("team", b.SIPAddr), sipua.Offer(dPhone.Addr(), "0", "a=recvonly"))
	if err != nil || dCall.Response.StatusCode != 200 {
		t.Fatalf("listener: %v %v", dCall.Response, err)
	}
	_ = dCall.Ack(nil)
	dDst, _ := sipua.AudioPort(dCall.Response.Body())
	stopRTCP := make(chan struct{})
	var rtcpWG sync.WaitGroup
	rtcpWG.Add(1)
	go func() {
		defer rtcpWG.Done()
		for {
			_ = dPhone.SendRTCP(netip.AddrPortFrom(dDst.Addr(), dDst.Port()+1))
			select {
			case <-stopRTCP:
				return
			case <-time.After(time.Second):
			}
		}
	}()
	defer func() { close(stopRTCP); rtcpWG.Wait() }()

	// Past the learning window (3 s).
	time.Sleep(4 * time.Second)
	sprayedBack := sp.received.Load()

	// Everybody hears the meeting and the newcomer, nobody the sprayer.
	for _, c := range m.callers {
		c.phone.ResetRecording()
	}
	cPhone.ResetRecording()
	dPhone.ResetRecording()
	time.Sleep(1500 * time.Millisecond)
	check := func(who string, rec []int16, want []float64) {
		t.Helper()
		if len(rec) < 4000 {
			t.Errorf("%s received only %d samples", who, len(rec))
			return
		}
		spray := audiotest.PowerDB(rec, sprayFreq, 8000)
		for _, f := range want {
			db := audiotest.PowerDB(rec, f, 8000)
			if db < -40 || spray > db-20 {
				t.Errorf("%s hears %v Hz at %.1f dBFS and the sprayer at %.1f dBFS", who, f, db, spray)
			}
		}
	}
	check("member 0", m.callers[0].phone.Tail(8000), []float64{meetingFreqs[1], cFreq})
	check("member 1", m.callers[1].phone.Tail(8000), []float64{meetingFreqs[0], cFreq})
	check("the newcomer", cPhone.Tail(8000), meetingFreqs)
	check("the listener", dPhone.Tail(8000), append(slices.Clone(meetingFreqs), cFreq))
	if now := sp.received.Load(); now != sprayedBack {
		t.Errorf("the sprayer received %d packets after the learning window", now-sprayedBack)
	}
	if got := b.Metric("cusax_security_refusals_total", `reason="rtp_stranger"`); got < 100 {
		t.Errorf("rtp_stranger = %v", got)
	}
	t.Logf("the sprayer got %d packets, all before the learning window closed", sp.received.Load())
	t.Logf("live heap under the spray, 4 callers: %.1f MiB", liveHeap(t, b)/(1<<20))
	sp.close()

	// 3. A caller whose SDP names a third party that never sends, kept
	// "alive" by RTCP from the caller's own address.
	victim, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.88")})
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	var toVictim atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := victim.ReadFromUDP(buf); err != nil {
				return
			}
			toVictim.Add(1)
		}
	}()
	eUA, _ := sipua.New(sipua.Config{User: "reflector"})
	defer eUA.Close()
	eCall, err := eUA.Invite(ctx, eUA.Target("team", b.SIPAddr), sipua.Offer(victim.LocalAddr().(*net.UDPAddr).AddrPort(), "0"))
	if err != nil || eCall.Response.StatusCode != 200 {
		t.Fatalf("reflector: %v %v", eCall.Response, err)
	}
	_ = eCall.Ack(nil)
	eDst, _ := sipua.AudioPort(eCall.Response.Body())
	keep, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.77")})
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	rr, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 0xbad}})
	keepDone := make(chan struct{})
	go func() {
		defer close(keepDone)
		for range 20 {
			if _, err := keep.WriteToUDP(rr, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(eDst.Port()) + 1}); err != nil {
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
	}()
	defer func() { keep.Close(); <-keepDone }()
	WaitFor(t, 15*time.Second, "the bridge stops sending to the third party", func() bool {
		return b.Metric("cusax_security_refusals_total", `reason="rtp_unheard"`) >= 1
	})
	victimCount := toVictim.Load()
	WaitFor(t, 15*time.Second, "the call with a third party's SDP hung up by rtp.timeout", func() bool {
		return b.Metric("cusax_rtp_timeouts_total") >= 1
	})
	if now := toVictim.Load(); now > victimCount+2 {
		t.Errorf("the third party received %d more packets after the bridge stopped", now-victimCount)
	}
	if victimCount > 6*50 {
		t.Errorf("the third party received %d packets, more than about 5 s worth", victimCount)
	}
	if got := b.Metric("cusax_rtp_timeouts_total"); got != 1 {
		t.Errorf("%v calls timed out; only the third party's should", got)
	}
	m.checkHearing(t, "after the RTP attacks")
	t.Logf("the third party got %d packets in all", toVictim.Load())
	// The newcomer and the listener hang up: back to the meeting alone.
	_, _ = call.Bye(ctx)
	_, _ = dCall.Bye(ctx)
	WaitFor(t, 10*time.Second, "only the meeting's two callers left", func() bool { return b.Metric("cusax_participants_active") == 2 })
	WaitFor(t, 10*time.Second, "goroutines back near the baseline", func() bool { return goroutines(b) <= baseG+10 })
	waitHeapBack(t, b, baseH)
	stopClean(t, b)
}

// 2 (re-latch). A talking caller pauses for more than a second; an
// attacker who read its SSRC (conference state publishes it) sweeps
// sequence numbers ahead of the stream in runs of in-sequence packets with
// guessed timestamps. The latch must stay: nobody hears the attacker, it
// gets no audio, and the caller is heard again when it resumes.
func TestHostileRTPRelatchSweep(t *testing.T) {
	b := StartBridge(t, func(c *config.Config) { c.Log.Level = "info"; memoryChecked(c) })
	m := startMeeting(t, b, nil)
	baseH := liveHeap(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	// The talker: raw RTP from its SDP address, a 1400 Hz tone.
	const talkFreq, attackFreq = 1400, 1700
	sock, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	go func() { // drain what the bridge sends
		buf := make([]byte, 2048)
		for {
			if _, _, err := sock.ReadFromUDP(buf); err != nil {
				return
			}
		}
	}()
	ua, _ := sipua.New(sipua.Config{User: "talker"})
	defer ua.Close()
	call, err := ua.Invite(ctx, ua.Target("team", b.SIPAddr), sipua.Offer(sock.LocalAddr().(*net.UDPAddr).AddrPort(), "0"))
	if err != nil || call.Response.StatusCode != 200 {
		t.Fatalf("talker: %v %v", call.Response, err)
	}
	_ = call.Ack(nil)
	dst, _ := sipua.AudioPort(call.Response.Body())
	const ssrc = 0x5eed
	seq, ts := uint16(1000), uint32(50000)
	start := time.Now()
	gen := audiotest.Tone(talkFreq, 8000, 8000)
	pcm, payload := make([]int16, 160), make([]byte, 160)
	talk := func(d time.Duration) {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
			gen.Fill(pcm)
			audiotest.Encode("PCMU", payload, pcm)
			// The timestamp follows the clock, as a phone's does.
			ts = 50000 + uint32(time.Since(start).Seconds()*8000)
			p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}, Payload: payload}
			raw, _ := p.Marshal()
			_, _ = sock.WriteToUDPAddrPort(raw, dst)
			seq++
		}
	}
	talk(1500 * time.Millisecond)
	time.Sleep(1200 * time.Millisecond) // the talker pauses: the quiet interval passes

	// The sweep: runs of 4 in-sequence packets across the whole dropout
	// window, each with a guessed timestamp.
	atk, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.77")})
	if err != nil {
		t.Fatal(err)
	}
	defer atk.Close()
	var got atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := atk.ReadFromUDP(buf); err != nil {
				return
			}
			got.Add(1)
		}
	}()
	strangersBefore := b.Metric("cusax_security_refusals_total", `reason="rtp_stranger"`)
	agen := audiotest.Tone(attackFreq, 8000, 8000)
	sent := 0
	for run := uint16(1); run < 3000; run += 4 {
		guess := uint32(run) * 7919 * 160 // any timestamp the attacker may try
		for k := range uint16(4) {
			agen.Fill(pcm)
			audiotest.Encode("PCMU", payload, pcm)
			p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq + run + k, Timestamp: guess + uint32(k)*160, SSRC: ssrc}, Payload: payload}
			raw, _ := p.Marshal()
			_, _ = atk.WriteToUDPAddrPort(raw, dst)
			sent++
		}
		if run%200 == 1 {
			time.Sleep(10 * time.Millisecond) // bounded rate: about 3,000 packets in under a second
		}
	}
	WaitFor(t, 5*time.Second, "the sweep counted as a stranger's", func() bool {
		return b.Metric("cusax_security_refusals_total", `reason="rtp_stranger"`) >= strangersBefore+float64(sent)/2
	})
	if n := got.Load(); n != 0 {
		t.Errorf("the attacker received %d packets: the latch moved", n)
	}
	t.Logf("live heap after the sweep: %.1f MiB", liveHeap(t, b)/(1<<20))
	// The talker resumes; the meeting hears it (within a few seconds on a
	// loaded machine), never the attacker.
	talked := make(chan struct{})
	go func() { defer close(talked); talk(8 * time.Second) }()
	defer func() { <-talked }()
	var levels []string
	WaitFor(t, 8*time.Second, "the meeting hears the talker again", func() bool {
		for _, c := range m.callers {
			c.phone.ResetRecording()
		}
		time.Sleep(1200 * time.Millisecond)
		levels = levels[:0]
		ok := true
		for i, c := range m.callers {
			rec := c.phone.Tail(8000)
			heard, attack := audiotest.PowerDB(rec, talkFreq, 8000), audiotest.PowerDB(rec, attackFreq, 8000)
			levels = append(levels, fmt.Sprintf("member %d: talker %.1f dBFS, attacker %.1f dBFS", i, heard, attack))
			if attack > -40 {
				t.Errorf("member %d hears the attacker at %.1f dBFS", i, attack)
			}
			ok = ok && len(rec) >= 4000 && heard >= -40 && attack < heard-20
		}
		return ok
	})
	t.Log(strings.Join(levels, "; "))
	if n := got.Load(); n != 0 {
		t.Errorf("the attacker received %d packets", n)
	}
	m.checkHearing(t, "after the sweep")
	// The talker, a third caller, is still in: within the bound.
	waitHeapBack(t, b, baseH)
	stopClean(t, b)
}
