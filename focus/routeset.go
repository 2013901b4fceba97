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

// noteRouteSet counts and logs a Record-Route the new dialog d does not
// follow.
func (f *Focus) noteRouteSet(req *sip.Request, d *dialog) {
	if len(d.routeSet) == 0 && req.GetHeader("Record-Route") != nil {
		f.m.Refuse(metrics.RefuseRouteSet)
		f.log.Info("Record-Route not followed: its first hop is not the request's source",
			"method", req.Method, "source", req.Source(), "record-route", req.GetHeader("Record-Route").Value(), "call-id", callID(req))
	}
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
