package focus

import (
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"cusax.dev/bridge/metrics"
)

// TestDialOutLimit: with MaxDialOuts INVITEs out and unanswered, another
// dial-out is refused at once with 503 and counted (dial_out_limit); a
// finished dial-out gives its token back.
func TestDialOutLimit(t *testing.T) {
	e := moderated(t, envOptions{dialTimeout: 5 * time.Second})
	refused := func() float64 {
		return testutil.ToFloat64(e.m.Security.Refusals.WithLabelValues(metrics.RefuseDialOutLimit))
	}
	uas := newRawUAS(t)
	target := sip.Uri{Scheme: "sip", User: "dave", Host: "127.0.0.1", Port: int(uas.addr().Port())}
	// every token taken, as by MaxDialOuts ringing callees
	for range cap(e.f.dialing) {
		e.f.dialing <- struct{}{}
	}
	if code, _ := e.f.dialOut("team", target, &referReport{off: true}); code != 503 || refused() != 1 {
		t.Fatalf("dial-out over the limit: %d, %v refusals", code, refused())
	}
	<-e.f.dialing // one callee answered
	var wg sync.WaitGroup
	wg.Go(func() {
		inv, from := uas.next(sip.INVITE, 10*time.Second)
		uas.send(sip.NewResponseFromRequest(inv, 486, "Busy Here", nil), from)
	})
	if code, _ := e.f.dialOut("team", target, &referReport{off: true}); code != 486 {
		t.Fatalf("dial-out within the limit: %d, want the callee's 486", code)
	}
	wg.Wait()
	if n := len(e.f.dialing); n != cap(e.f.dialing)-1 {
		t.Fatalf("%d tokens held after the dial-out ended, want %d", n, cap(e.f.dialing)-1)
	}
}
