package focus

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/focus/digest"
	"cusax.dev/bridge/metrics"
	"cusax.dev/bridge/mixer"
)

// env is a focus on random loopback ports with its registry and mixer.
type env struct {
	t       *testing.T
	reg     *conference.Registry
	eng     *mixer.Engine
	f       *Focus
	m       *metrics.Metrics
	udp     string // focus UDP address
	tcp     string // focus TCP address
	domain  string
	stop    context.CancelFunc
	stopped chan error
	events  *conference.Stream
}

type envOptions struct {
	rooms       []conference.RoomSpec
	pairs       int // RTP port pairs; default 8
	ackTimeout  time.Duration
	answerDelay time.Duration
	advertised  string

	policy        string        // subscribe policy; default participants
	interval      time.Duration // notify interval; default 50 ms
	expires       time.Duration // subscription expires; default 1 h
	mucDomain     string        // default muc.example.test
	accounts      map[string]string
	requireAuth   bool
	dialTimeout   time.Duration
	notifyTimeout time.Duration
	rtpTimeout    time.Duration // default 0: disabled
	holdTimeout   time.Duration // default 0: disabled
	hook          func(*Focus, hookPoint, *call)
	shutdown      time.Duration // ShutdownTimeout; default 3 s
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("FOCUS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// freePairs finds n consecutive free RTP/RTCP pairs on loopback.
func freePairs(t *testing.T, n int) (int, int) {
	t.Helper()
	for range 200 {
		lo := 20000 + 2*rand.IntN(20000)
		hi := lo + 2*n - 1
		ok := true
		for p := lo; p <= hi && ok; p++ {
			c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			c.Close()
		}
		if ok {
			return lo, hi
		}
	}
	t.Fatal("no free RTP port range")
	return 0, 0
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	if o.pairs == 0 {
		o.pairs = 8
	}
	if o.ackTimeout == 0 {
		o.ackTimeout = 5 * time.Second
	}
	log := testLogger(t)
	e := &env{t: t, m: metrics.New(), domain: "conf.example.test", stopped: make(chan error, 1)}
	e.reg = conference.NewRegistry(conference.Options{Rooms: o.rooms, Logger: log, WatchPolicy: o.policy})
	lo, hi := freePairs(t, o.pairs)
	var err error
	e.eng, err = mixer.New(mixer.Config{BindIP: netip.MustParseAddr("127.0.0.1"), PortMin: lo, PortMax: hi, Logger: log, Metrics: e.m})
	if err != nil {
		t.Fatal(err)
	}
	if o.shutdown == 0 {
		o.shutdown = 3 * time.Second
	}
	if o.notifyTimeout == 0 {
		o.notifyTimeout = time.Second
	}
	if o.interval == 0 {
		o.interval = 50 * time.Millisecond
	}
	if o.mucDomain == "" {
		o.mucDomain = "muc.example.test"
	}
	var accounts digest.Lookup
	if o.accounts != nil {
		accounts = digest.Accounts(o.accounts)
	}
	e.f, err = New(Config{Listen: []string{"udp:127.0.0.1:0", "tcp:127.0.0.1:0"}, Domain: e.domain,
		AckTimeout: o.ackTimeout, AnswerDelay: o.answerDelay, ShutdownTimeout: o.shutdown, AdvertisedIP: o.advertised,
		NotifyInterval: o.interval, SubscriptionExpires: o.expires, MUCDomain: o.mucDomain,
		Accounts: accounts, RequireAuthForCalls: o.requireAuth, DialTimeout: o.dialTimeout, NotifyTimeout: o.notifyTimeout,
		RTPTimeout: o.rtpTimeout, RTPHoldTimeout: o.holdTimeout,
		Logger: log, Metrics: e.m}, e.reg, e.eng)
	if err != nil {
		t.Fatal(err)
	}
	e.f.testHook = o.hook
	e.events = e.reg.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	go func() { _ = e.eng.Run(ctx) }()
	go func() { e.stopped <- e.f.Run(ctx) }()
	select {
	case <-e.f.Ready():
	case err := <-e.stopped:
		t.Fatalf("focus did not start: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("focus not ready")
	}
	for _, a := range e.f.Addrs() {
		network, addr, _ := strings.Cut(a, ":")
		switch network {
		case "udp":
			e.udp = addr
		case "tcp":
			e.tcp = addr
		}
	}
	t.Cleanup(func() {
		e.shutdown()
		e.events.Close()
		if n := e.eng.PortsInUse(); n != 0 {
			t.Errorf("%d RTP ports still in use after shutdown", n)
		}
		_ = e.eng.Close()
	})
	return e
}

// shutdown stops the focus and waits for Run to return.
func (e *env) shutdown() {
	e.stop()
	select {
	case err := <-e.stopped:
		if err != nil {
			e.t.Errorf("Run returned %v", err)
		}
		e.stopped <- nil // for a second call
	case <-time.After(10 * time.Second):
		e.t.Error("focus did not stop")
	}
}

// ua starts a test UA on transport.
func (e *env) ua(transport, user string) *sipua.UA {
	e.t.Helper()
	u, err := sipua.New(sipua.Config{Transport: transport, User: user, DisplayName: strings.ToUpper(user[:1]) + user[1:], Domain: "example.test", Logger: testLogger(e.t)})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { u.Close() })
	return u
}

// uaAt starts a test UA whose From host is domain; alsoTCP makes a UDP UA
// listen on TCP at the same port.
func (e *env) uaAt(transport, user, domain string, alsoTCP bool) *sipua.UA {
	e.t.Helper()
	u, err := sipua.New(sipua.Config{Transport: transport, User: user, DisplayName: strings.ToUpper(user[:1]) + user[1:], Domain: domain,
		AlsoTCP: alsoTCP, Logger: testLogger(e.t)})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { u.Close() })
	return u
}

// target is sip:room@domain routed to the focus over the UA's transport.
func (e *env) target(u *sipua.UA, transport, room string) sip.Uri {
	addr := e.udp
	if transport == "tcp" {
		addr = e.tcp
	}
	uri := u.Target(room, addr)
	return uri
}

// rtp is a local UDP socket standing in for a phone's RTP port.
func (e *env) rtp() (*net.UDPConn, netip.AddrPort) {
	e.t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c, c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitEvent waits for the next core event of kind (skipping others).
func (e *env) waitEvent(kind conference.Kind, d time.Duration) conference.Event {
	e.t.Helper()
	return e.waitEventWhere(kind, d, func(conference.Event) bool { return true })
}

// waitEventWhere waits for the next core event of kind for which match
// holds.
func (e *env) waitEventWhere(kind conference.Kind, d time.Duration, match func(conference.Event) bool) conference.Event {
	e.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev := <-e.events.C():
			if ev.Kind == kind && match(ev) {
				return ev
			}
		case <-timer.C:
			e.t.Fatalf("no %v event within %v", kind, d)
		}
	}
}

// participants returns the present participants of room.
func (e *env) participants(room string) []conference.Participant {
	return e.reg.Find(room, func(*conference.Participant) bool { return true })
}

// responses counts responses the focus sent for method in class.
func (e *env) responses(method, class string) float64 {
	return testutil.ToFloat64(e.m.SIPResponses.WithLabelValues(method, class))
}

func (e *env) requests(method string) float64 {
	return testutil.ToFloat64(e.m.SIPRequests.WithLabelValues(method))
}

// dial calls room with an offer from rtpAddr and ACKs the 200.
func (e *env) dial(u *sipua.UA, transport, room string, rtpAddr netip.AddrPort, formats string) *sipua.Call {
	e.t.Helper()
	ctx := ctxT(e.t, 10*time.Second)
	c, err := u.Invite(ctx, e.target(u, transport, room), sipua.Offer(rtpAddr, formats))
	if err != nil {
		e.t.Fatalf("INVITE: %v", err)
	}
	if c.Response.StatusCode != 200 {
		e.t.Fatalf("INVITE answered %s", c.Response.StartLine())
	}
	if err := c.Ack(nil); err != nil {
		e.t.Fatalf("ACK: %v", err)
	}
	return c
}
