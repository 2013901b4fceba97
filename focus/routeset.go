package focus

import (
	"errors"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"

	"cusax.dev/bridge/metrics"
)

// errWildcardContact refuses "Contact: *" outside REGISTER (RFC 3261
// §10.2.2 allows it only there, with Expires: 0): a dialog needs a remote
// target, and requests to sip:* go nowhere.
var errWildcardContact = errors.New("focus: Contact: * is only allowed in REGISTER")

// routeSetTrusted decides whether the focus follows a dialog's route set
// (the request's Record-Route): only when its first entry, the hop the
// focus would send its in-dialog requests to, is the address the request
// came from. A route set naming anybody else would make the focus send
// NOTIFYs and BYEs (many, for a subscription) to a third party of the
// sender's choosing; without it they go back to the source, which a
// record-routing proxy is anyway.
func routeSetTrusted(firstRR, source string) bool {
	var u sip.Uri
	params := sip.NewParams()
	if _, err := sip.ParseAddressValue(firstRR, &u, &params); err != nil {
		return false
	}
	hop, err := netip.ParseAddr(strings.Trim(u.Host, "[]"))
	if err != nil {
		return false // a name could resolve anywhere
	}
	src, err := netip.ParseAddrPort(source)
	if err != nil {
		return false
	}
	return hop.Unmap() == src.Addr().Unmap()
}

// noteRouteSet completes the route set rule for the new dialog d: a
// request from one of sip.trusted_peers (the proxy in front) keeps its
// Record-Route whatever its first hop; any other Record-Route newDialog
// dropped is counted and logged.
func (f *Focus) noteRouteSet(req *sip.Request, d *dialog) {
	rrs := req.GetHeaders("Record-Route")
	if len(d.routeSet) > 0 || len(rrs) == 0 {
		return
	}
	if f.fromTrustedPeer(req) {
		for _, rr := range rrs {
			d.routeSet = append(d.routeSet, rr.Value())
		}
		return
	}
	f.m.Refuse(metrics.RefuseRouteSet)
	f.log.Info("Record-Route not followed: its first hop is not the request's source",
		"method", req.Method, "source", req.Source(), "record-route", rrs[0].Value(), "call-id", callID(req))
}

// refuseWildcard answers 400 to a request whose Contact is "*" and counts
// it; false when the Contact is not a wildcard.
func (f *Focus) refuseWildcard(req *sip.Request, tx sip.ServerTransaction) bool {
	ct := req.Contact()
	if ct == nil || (!ct.Address.Wildcard && ct.Address.Host != "*") {
		return false
	}
	f.m.Refuse(metrics.RefuseContactWildcard)
	f.log.Info("request with Contact: * refused", "method", req.Method, "source", req.Source(), "call-id", callID(req))
	f.reply(tx, req, 400, "Bad Request", nil, f.warning(399, "Contact: * is only allowed in REGISTER"))
	return true
}

// fromTrustedPeer reports whether req came from one of sip.trusted_peers.
func (f *Focus) fromTrustedPeer(req *sip.Request) bool {
	src, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return false
	}
	a := src.Addr().Unmap()
	for _, p := range f.cfg.TrustedPeers {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
