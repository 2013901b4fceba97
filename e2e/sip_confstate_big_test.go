package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"cusax.dev/bridge/config"
	"cusax.dev/bridge/confinfo"
	"cusax.dev/bridge/e2e/sipua"
)

// Sixty callers join at once while three subscribers watch:
//   - "fast" listens on TCP too: it gets about one NOTIFY per notify
//     interval during the storm (the throttle merges the joins), and its
//     refreshes, full documents of some 35 kB, come over TCP (RFC 3261
//     §18.1.1);
//   - "udponly" has no TCP listener: the focus's TCP attempt fails and it
//     gets UDP-sized documents (a full head, then partials) instead, still
//     gap-free and converging on sixty users;
//   - "late" subscribes after the storm: its first NOTIFY is the big full
//     document, over TCP.
func TestBigConferenceState(t *testing.T) {
	const (
		callers  = 60
		interval = 300 * time.Millisecond
	)
	lo, hi := FreeRTPRange(t, 2*callers+20)
	b := StartBridge(t, func(c *config.Config) {
		withChat(t, c)
		c.SIP.SubscribePolicy = "anyone"
		c.SIP.NotifyInterval = config.Duration(interval)
		c.RTP.Ports = fmt.Sprintf("%d-%d", lo, hi)
		c.Rooms = []config.Room{{Name: "team"}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	subscribe := func(user string, tcp bool) *subscriber {
		ua, err := sipua.New(sipua.Config{User: user, AlsoTCP: tcp})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ua.Close() })
		s, err := ua.Subscribe(ctx, ua.Target("team", b.SIPAddr), "conference", 600)
		if err != nil || s.Response.StatusCode != 200 {
			t.Fatalf("%s SUBSCRIBE: %v %v", user, s.Response, err)
		}
		sub := &subscriber{t: t, sub: s}
		sub.next(ctx)
		return sub
	}
	fast := subscribe("fast", true)
	udpOnly := subscribe("udponly", false)

	// The storm: sixty callers, one starting to dial every 30 ms, so that
	// it spans several notify intervals (unthrottled, that would be sixty
	// NOTIFYs to each subscriber).
	start := time.Now()
	calls := make([]*sipua.Call, callers)
	var wg sync.WaitGroup
	tick := time.NewTicker(30 * time.Millisecond)
	for i := range callers {
		<-tick.C
		wg.Go(func() {
			_, calls[i] = joinCallNoFatal(t, b, ctx, sipua.Config{User: fmt.Sprintf("caller%02d", i)})
		})
	}
	tick.Stop()
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	storm := time.Since(start)
	all := func(d *confinfo.Document) bool {
		return usersCount(d) == callers && d.Users != nil && len(d.Users.Users) == callers
	}
	fast.until(ctx, "sixty callers (fast)", all)
	udpOnly.until(ctx, "sixty callers (udponly)", all)
	limit := int(storm/interval) + 4
	t.Logf("%d joins in %v; fast: %d NOTIFYs (%d over TCP), udponly: %d NOTIFYs (%d full)",
		callers, storm.Round(time.Millisecond), fast.count-1, fast.tcp, udpOnly.count-1, udpOnly.full)
	if fast.count-1 > limit || fast.count-1 > callers/3 {
		t.Errorf("fast got %d NOTIFYs for %d joins in %v at a %v interval; want at most %d", fast.count-1, callers, storm, interval, limit)
	}
	if fast.tcp == 0 {
		t.Error("no NOTIFY to the TCP-capable subscriber went over TCP")
	}
	if udpOnly.tcp != 0 {
		t.Errorf("%d NOTIFYs reached udponly over TCP", udpOnly.tcp)
	}

	// A refresh is full state: some 35 kB, over TCP.
	if res, err := fast.sub.Refresh(ctx, 600); err != nil || res.StatusCode != 200 {
		t.Fatalf("refresh: %v %v", res, err)
	}
	n, _, doc := fast.next(ctx)
	if !strings.EqualFold(n.Transport(), "tcp") || doc.State != confinfo.StateFull || len(doc.Users.Users) != callers || len(n.Body()) < 20000 {
		t.Errorf("refresh NOTIFY over %s: %s, %d users, %d bytes", n.Transport(), doc.State, len(doc.Users.Users), len(n.Body()))
	}
	late := subscribe("late", true)
	if late.tcp != 1 || late.full != 1 || !all(late.st.Document()) {
		t.Errorf("late subscriber's first NOTIFY: tcp %d full %d", late.tcp, late.full)
	}

	// Everyone hangs up.
	for _, c := range calls {
		wg.Go(func() {
			if res, err := c.Bye(ctx); err != nil || res.StatusCode != 200 {
				t.Errorf("BYE: %v %v", res, err)
			}
		})
	}
	wg.Wait()
	none := func(d *confinfo.Document) bool { return usersCount(d) == 0 }
	fast.until(ctx, "everyone gone (fast)", none)
	udpOnly.until(ctx, "everyone gone (udponly)", none)
	late.until(ctx, "everyone gone (late)", none)
	WaitFor(t, 10*time.Second, "no participant left", func() bool { return b.Metric("cusax_participants_active") == 0 })
	if n := b.Metric("cusax_subscriptions_active"); n != 3 {
		t.Errorf("%v subscriptions active, want 3", n)
	}
}

// joinCallNoFatal is joinCall for goroutines: it reports with Errorf.
func joinCallNoFatal(t *testing.T, b *Bridge, ctx context.Context, cfg sipua.Config) (*sipua.UA, *sipua.Call) {
	ua, err := sipua.New(cfg)
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	t.Cleanup(func() { ua.Close() })
	rtp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	t.Cleanup(func() { rtp.Close() })
	call, err := ua.Invite(ctx, ua.Target("team", b.SIPAddr), sipua.Offer(rtp.LocalAddr().(*net.UDPAddr).AddrPort(), "0"))
	if err != nil || call.Response.StatusCode != 200 {
		t.Errorf("%s INVITE: %v %v", cfg.User, call, err)
		return nil, nil
	}
	if err := call.Ack(nil); err != nil {
		t.Error(err)
	}
	return ua, call
}
