package focus

import (
	"net/netip"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestRouteSetRule(t *testing.T) {
	cases := []struct {
		rr, src string
		want    bool
	}{
		{"<sip:192.0.2.5:5060;lr>", "192.0.2.5:5060", true},
		{"<sip:192.0.2.5;lr>", "192.0.2.5:41000", true},
		{"<sip:[2001:db8::5];lr>", "[2001:db8::5]:5060", true},
		{"<sip:198.51.100.9;lr>", "192.0.2.5:5060", false},      // a third party
		{"<sip:proxy.example.com;lr>", "192.0.2.5:5060", false}, // a name may resolve anywhere
		{"garbage", "192.0.2.5:5060", false},
	}
	for _, c := range cases {
		if got := routeSetTrusted(c.rr, c.src); got != c.want {
			t.Errorf("routeSetTrusted(%q, %q) = %v", c.rr, c.src, got)
		}
	}
}

// A request from sip.trusted_peers keeps its route set even when the first
// hop is not its source (a proxy that record-routes a name).
func TestRouteSetTrustedPeer(t *testing.T) {
	f := &Focus{cfg: Config{TrustedPeers: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, log: testLogger(t)}
	mk := func(src string) (*sip.Request, *dialog) {
		req := sip.NewRequest(sip.SUBSCRIBE, sip.Uri{Scheme: "sip", User: "team", Host: "example.com"})
		req.AppendHeader(sip.NewHeader("Record-Route", "<sip:proxy.example.com;lr>"))
		req.SetSource(src)
		return req, &dialog{}
	}
	req, d := mk("192.0.2.5:5060")
	f.noteRouteSet(req, d)
	if len(d.routeSet) != 1 {
		t.Fatalf("trusted peer's route set dropped: %v", d.routeSet)
	}
	req, d = mk("198.51.100.9:5060")
	f.noteRouteSet(req, d)
	if len(d.routeSet) != 0 {
		t.Fatalf("stranger's route set kept: %v", d.routeSet)
	}
}
