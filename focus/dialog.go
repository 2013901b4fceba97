package focus

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// dialogKey identifies a dialog from the focus's side (RFC 3261 §12).
type dialogKey struct {
	callID    string
	localTag  string // the focus's tag: To-tag of requests the peer sends
	remoteTag string // the peer's tag: From-tag of requests it sends
}

func (k dialogKey) String() string {
	return k.callID + ";local=" + k.localTag + ";remote=" + k.remoteTag
}

// keyOf is the dialog key of an in-dialog request the peer sent.
func keyOf(req *sip.Request) (dialogKey, bool) {
	cid, from, to := req.CallID(), req.From(), req.To()
	if cid == nil || from == nil || to == nil {
		return dialogKey{}, false
	}
	lt, _ := to.Params.Get("tag")
	rt, _ := from.Params.Get("tag")
	if lt == "" {
		return dialogKey{}, false
	}
	return dialogKey{callID: cid.Value(), localTag: lt, remoteTag: rt}, true
}

// errOutOfOrder is an in-dialog request whose CSeq is not above the last.
var errOutOfOrder = errors.New("focus: CSeq out of order")

// errForeign is an in-dialog request that names a dialog (Call-ID and
// tags) but does not come from its peer: another From URI or tag, or
// another source IP address. Call-IDs and tags are no secret (RFC 4575
// publishes them to every subscriber in call-info), so they alone never
// let a request act on a dialog.
var errForeign = errors.New("focus: in-dialog request not from the dialog's peer")

// dialog is a dialog of the focus: the UAS side of one it accepted (a call,
// a subscription, a REFER's implicit subscription) or the UAC side of a
// call it dialed out. It holds enough state to match the peer's requests
// and to build the focus's own (BYE, NOTIFY, ACK) per RFC 3261 §12.2.1.1.
// Its methods are safe for concurrent use.
type dialog struct {
	key       dialogKey
	local     sip.Uri // the focus's URI (To of the dialog-creating request)
	remote    sip.Uri // the peer's URI (From)
	remoteDN  string  // the peer's display name
	transport string  // transport the peer used ("UDP", "TCP")
	// contact is the focus's Contact for requests it sends in the dialog
	// (required in NOTIFY and re-INVITE, harmless in BYE); may be nil.
	contact *sip.ContactHeader

	mu           sync.Mutex
	remoteTarget sip.Uri  // the peer's Contact, refreshed by re-INVITE
	routeSet     []string // Record-Route values, in order (UAS: as received)
	source       string   // where the peer's last request came from (NAT)
	localSeq     uint32
	remoteSeq    uint32
}

// newDialog builds the UAS dialog a request creates, with the focus's tag.
func newDialog(req *sip.Request, localTag string) (*dialog, error) {
	from, to, cid, cseq := req.From(), req.To(), req.CallID(), req.CSeq()
	if from == nil || to == nil || cid == nil || cseq == nil {
		return nil, errors.New("focus: request lacks From, To, Call-ID or CSeq")
	}
	rt, _ := from.Params.Get("tag")
	if rt == "" {
		return nil, errors.New("focus: From has no tag")
	}
	ct := req.Contact()
	if ct == nil || ct.Address.Host == "" {
		return nil, errors.New("focus: no usable Contact")
	}
	if ct.Address.Wildcard || ct.Address.Host == "*" {
		return nil, errWildcardContact
	}
	d := &dialog{
		key:          dialogKey{callID: cid.Value(), localTag: localTag, remoteTag: rt},
		local:        *to.Address.Clone(),
		remote:       *from.Address.Clone(),
		remoteDN:     from.DisplayName,
		transport:    req.Transport(),
		remoteTarget: *ct.Address.Clone(),
		source:       req.Source(),
		remoteSeq:    cseq.SeqNo,
	}
	if rrs := req.GetHeaders("Record-Route"); len(rrs) > 0 && routeSetTrusted(rrs[0].Value(), req.Source()) {
		for _, rr := range rrs {
			d.routeSet = append(d.routeSet, rr.Value())
		}
	}
	return d, nil
}

// accept admits an in-dialog request from the peer, or refuses it and
// leaves the dialog as it was:
//
//   - errForeign unless its From URI and tag are the dialog's remote ones
//     and it comes from the IP address the peer's requests came from so far
//     (any transport). Only the port may change: a NAT that rebinds keeps
//     the peer's public IP but may pick another port. A peer that really
//     moves to another IP (a phone roaming between networks) loses the
//     dialog: nothing the focus can check tells it from an attacker who
//     read the Call-ID and tags in conference-info.
//   - errOutOfOrder unless its CSeq grows (RFC 3261 §12.2.2); ACK and
//     CANCEL carry the INVITE's CSeq and are not checked.
//
// An admitted request's source becomes where the focus sends its own
// requests (symmetric signalling across NAT).
func (d *dialog) accept(req *sip.Request) error {
	from, cseq := req.From(), req.CSeq()
	if from == nil || cseq == nil {
		return errForeign
	}
	if tag, _ := from.Params.Get("tag"); tag != d.key.remoteTag || !sameURI(from.Address, d.remote) {
		return errForeign
	}
	src := req.Source()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.source != "" && !sameIP(src, d.source) {
		return errForeign
	}
	if !req.IsAck() && !req.IsCancel() {
		if cseq.SeqNo <= d.remoteSeq {
			return errOutOfOrder
		}
		d.remoteSeq = cseq.SeqNo
	}
	if src != "" {
		d.source = src
	}
	return nil
}

// sameURI compares the From URI of an in-dialog request with the dialog's
// remote URI: scheme and host without regard to case, user and port
// exactly; parameters are ignored (RFC 3261 §12.2.1.1 has the peer repeat
// its URI, not necessarily byte for byte).
func sameURI(a, b sip.Uri) bool {
	return aor(a) == aor(b) && a.Port == b.Port
}

// sameIP reports whether two "host:port" addresses have the same IP
// address (the host, case-insensitively, when one is not an IP).
func sameIP(a, b string) bool {
	ha, _, errA := net.SplitHostPort(a)
	hb, _, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil {
		return false
	}
	ia, errA := netip.ParseAddr(ha)
	ib, errB := netip.ParseAddr(hb)
	if errA != nil || errB != nil {
		return strings.EqualFold(ha, hb)
	}
	return ia.Unmap() == ib.Unmap()
}

// refreshTarget applies a target refresh (re-INVITE Contact).
func (d *dialog) refreshTarget(req *sip.Request) {
	if ct := req.Contact(); ct != nil && ct.Address.Host != "" {
		d.mu.Lock()
		d.remoteTarget = *ct.Address.Clone()
		d.mu.Unlock()
	}
}

// request builds an in-dialog request from the focus: Request-URI is the
// remote target, From/To/Call-ID are the dialog's, CSeq is the next local
// number, Route is the route set. It goes to the first route, else to where
// the peer's requests come from (symmetric signalling across NAT), over the
// peer's transport. Only loose routing (;lr) is supported.
func (d *dialog) request(method sip.RequestMethod) *sip.Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.localSeq++
	return d.build(method, d.localSeq)
}

// build builds an in-dialog request with CSeq seq; d.mu is held.
func (d *dialog) build(method sip.RequestMethod, seq uint32) *sip.Request {
	req := sip.NewRequest(method, *d.remoteTarget.Clone())
	from := &sip.FromHeader{Address: *d.local.Clone(), Params: sip.NewParams()}
	from.Params.Add("tag", d.key.localTag)
	to := &sip.ToHeader{DisplayName: d.remoteDN, Address: *d.remote.Clone(), Params: sip.NewParams()}
	if d.key.remoteTag != "" {
		to.Params.Add("tag", d.key.remoteTag)
	}
	cid := sip.CallIDHeader(d.key.callID)
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	req.AppendHeader(&maxFwd)
	if d.contact != nil {
		req.AppendHeader(sip.HeaderClone(d.contact))
	}
	dest := d.source
	for i, r := range d.routeSet {
		req.AppendHeader(sip.NewHeader("Route", r))
		if i == 0 {
			var u sip.Uri
			params := sip.NewParams()
			if _, err := sip.ParseAddressValue(r, &u, &params); err == nil && u.Host != "" {
				port := u.Port
				if port == 0 {
					port = sip.DefaultPort(d.transport)
				}
				dest = net.JoinHostPort(strings.Trim(u.Host, "[]"), strconv.Itoa(port))
			}
		}
	}
	req.SetTransport(d.transport)
	req.SetDestination(dest)
	return req
}

// do sends a request the focus originates (built by dialog.request) and
// returns the final response. Over UDP it leaves from the focus's listening
// socket, so that replies and NATs see the address the peer talks to;
// otherwise sipgo would open an ephemeral socket for a next hop it has not
// heard from yet (a Record-Route proxy, a moved Contact).
// A response is never nil without an error (see finalResponse).
func (f *Focus) do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	f.prepare(req)
	tx, err := f.cli.TransactionRequest(ctx, req, sipgo.ClientRequestBuild)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	return finalResponse(ctx, tx)
}

// prepare readies a request the focus originates: Content-Length always,
// and over UDP the focus's listening socket as the source.
func (f *Focus) prepare(req *sip.Request) {
	if req.Body() == nil {
		req.SetBody(nil) // Content-Length: 0, required on TCP
	}
	f.mu.Lock()
	udp := f.udpLocal
	f.mu.Unlock()
	if udp != nil && strings.EqualFold(req.Transport(), "udp") {
		req.Laddr = sip.Addr{IP: udp.IP, Port: udp.Port}
	}
}

// inDialogCall finds the call an in-dialog request from its peer belongs
// to (BYE, INFO, OPTIONS, re-INVITE, REFER, SUBSCRIBE with a To-tag) and
// admits it (dialog.accept). Otherwise it answers the request itself and
// returns false: 481 for no such call or a request that is not from the
// call's peer (the dialog is left untouched; a stranger learns nothing
// about it), 500 for a CSeq that does not grow.
func (f *Focus) inDialogCall(req *sip.Request, tx sip.ServerTransaction) (*call, bool) {
	key, ok := keyOf(req)
	var c *call
	if ok {
		c = f.calls.get(key)
	}
	if c == nil {
		f.reply(tx, req, 481, "Call/Transaction Does Not Exist", nil)
		return nil, false
	}
	if err := c.dlg.accept(req); err != nil {
		f.refuseInDialog(req, tx, c.dlg, err)
		return nil, false
	}
	return c, true
}

// refuseInDialog answers an in-dialog request that dialog.accept refused.
func (f *Focus) refuseInDialog(req *sip.Request, tx sip.ServerTransaction, d *dialog, err error) {
	if errors.Is(err, errOutOfOrder) {
		f.reply(tx, req, 500, "Server Internal Error", nil, f.warning(399, "CSeq out of order"))
		return
	}
	from := ""
	if h := req.From(); h != nil {
		from = h.Address.String()
	}
	d.mu.Lock()
	peer := d.source
	d.mu.Unlock()
	f.log.Info("in-dialog request not from the dialog's peer; refused", "method", req.Method, "call-id", d.key.callID,
		"from", from, "source", req.Source(), "peer", d.remote.String(), "peer-source", peer)
	f.reply(tx, req, 481, "Call/Transaction Does Not Exist", nil)
}

// callTable is the focus's dialog table: every call by dialog key and by
// conference participant. It is safe for concurrent use.
type callTable struct {
	mu     sync.Mutex
	byKey  map[dialogKey]*call
	byPart map[string]*call // participant ID (unique in the registry)
	// acking holds the calls whose initial INVITE waits for its ACK, also
	// once they ended (out of byKey): the focus's BYE waits for that ACK
	// (RFC 3261 §15), so the ACK must still find its call.
	acking map[dialogKey]*call
	closed bool
}

func newCallTable() *callTable {
	return &callTable{byKey: map[dialogKey]*call{}, byPart: map[string]*call{}, acking: map[dialogKey]*call{}}
}

// awaitAck makes c findable by its ACK until ackOver.
func (t *callTable) awaitAck(c *call) {
	t.mu.Lock()
	t.acking[c.dlg.key] = c
	t.mu.Unlock()
}

// ackOver ends awaitAck.
func (t *callTable) ackOver(c *call) {
	t.mu.Lock()
	if t.acking[c.dlg.key] == c {
		delete(t.acking, c.dlg.key)
	}
	t.mu.Unlock()
}

// forAck returns the call an ACK with key k belongs to: a call in the
// table or one whose initial INVITE waits for its ACK.
func (t *callTable) forAck(k dialogKey) *call {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.byKey[k]; c != nil {
		return c
	}
	return t.acking[k]
}

// add inserts c; false once the table is closed (shutdown).
func (t *callTable) add(c *call) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.byKey[c.dlg.key] = c
	t.byPart[c.pid] = c
	return true
}

// remove deletes c and reports whether it was there.
func (t *callTable) remove(c *call) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byKey[c.dlg.key] != c {
		return false
	}
	delete(t.byKey, c.dlg.key)
	if t.byPart[c.pid] == c {
		delete(t.byPart, c.pid)
	}
	return true
}

func (t *callTable) get(k dialogKey) *call {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byKey[k]
}

func (t *callTable) participant(pid string) *call {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byPart[pid]
}

// room returns the calls in a conference.
func (t *callTable) room(name string) []*call {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*call
	for _, c := range t.byKey {
		if c.room == name {
			out = append(out, c)
		}
	}
	return out
}

// appendAll appends every call to dst and returns it.
func (t *callTable) appendAll(dst []*call) []*call {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.byKey {
		dst = append(dst, c)
	}
	return dst
}

func (t *callTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byKey)
}

// close refuses further calls and returns the ones present.
func (t *callTable) close() []*call {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	out := make([]*call, 0, len(t.byKey))
	for _, c := range t.byKey {
		out = append(out, c)
	}
	return out
}
