package loadtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// dialer places the benchmark's calls from one UDP SIP socket.
type dialer struct {
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	cli    *sipgo.Client
	dcc    *sipgo.DialogClientCache
	conn   *net.UDPConn
	local  netip.AddrPort
	target netip.AddrPort
	domain string
}

func newDialer(ip netip.Addr, target netip.AddrPort, domain string) (*dialer, error) {
	quiet := slog.New(slog.DiscardHandler)
	d := &dialer{target: target, domain: domain}
	var err error
	d.conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		return nil, fmt.Errorf("loadtest: SIP socket: %w", err)
	}
	_ = d.conn.SetReadBuffer(4 << 20)
	d.local = d.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	if d.ua, err = sipgo.NewUA(sipgo.WithUserAgent("cusax-loadtest"), sipgo.WithUserAgentHostname(ip.String()),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {})),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet))); err != nil {
		d.conn.Close()
		return nil, err
	}
	if d.srv, err = sipgo.NewServer(d.ua, sipgo.WithServerLogger(quiet)); err != nil {
		d.close()
		return nil, err
	}
	if d.cli, err = sipgo.NewClient(d.ua, sipgo.WithClientHostname(ip.String()), sipgo.WithClientLogger(quiet),
		sipgo.WithClientConnectionAddr(d.local.String())); err != nil {
		d.close()
		return nil, err
	}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "loadtest", Host: ip.String(), Port: int(d.local.Port())}}
	d.dcc = sipgo.NewDialogClientCache(d.cli, contact)
	d.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := d.dcc.ReadBye(req, tx); err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		}
	})
	ok := func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	}
	d.srv.OnOptions(ok)
	d.srv.OnNotify(ok)
	d.srv.OnInfo(ok)
	d.srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	go func() { _ = d.srv.ServeUDP(d.conn) }()
	// Requests must leave from the listening socket, which the transport
	// layer knows only once it serves it (else sipgo binds another).
	for i := 0; ; i++ {
		if c, _ := d.ua.TransportLayer().GetConnection("udp", d.local.String()); c != nil {
			return d, nil
		}
		if i == 500 {
			d.close()
			return nil, errors.New("loadtest: SIP socket not registered with sipgo")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (d *dialer) close() {
	if d.conn != nil {
		d.conn.Close()
	}
	if d.ua != nil {
		d.ua.Close()
	}
}

// call INVITEs room with an offer for media address mediaAddr, ACKs the
// 2xx and returns the dialog and the answer's audio address.
func (d *dialer) call(ctx context.Context, id int, room string, mediaAddr netip.AddrPort) (*sipgo.DialogClientSession, netip.AddrPort, error) {
	target := sip.Uri{Scheme: "sip", User: room, Host: d.target.Addr().String(), Port: int(d.target.Port())}
	user := "load" + strconv.Itoa(id)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: d.domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(12))
	hdrs := []sip.Header{from, sip.NewHeader("Content-Type", "application/sdp")}
	sess, err := d.dcc.Invite(ctx, target, offer(mediaAddr), hdrs...)
	if err != nil {
		return nil, netip.AddrPort{}, fmt.Errorf("INVITE: %w", err)
	}
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			return nil, netip.AddrPort{}, fmt.Errorf("status %d", de.Res.StatusCode)
		}
		return nil, netip.AddrPort{}, err
	}
	if err := sess.Ack(ctx); err != nil {
		return sess, netip.AddrPort{}, fmt.Errorf("ACK: %w", err)
	}
	dst, err := audioAddr(sess.InviteResponse.Body())
	if err != nil {
		return sess, netip.AddrPort{}, err
	}
	return sess, dst, nil
}

// offer is a PCMU-only SDP offer from addr.
func offer(addr netip.AddrPort) []byte {
	at := "IP4"
	if addr.Addr().Is6() {
		at = "IP6"
	}
	a := addr.Addr().String()
	return []byte("v=0\r\no=loadtest 1 1 IN " + at + " " + a + "\r\ns=loadtest\r\nc=IN " + at + " " + a +
		"\r\nt=0 0\r\nm=audio " + strconv.Itoa(int(addr.Port())) + " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n")
}

// audioAddr reads the c= address and the first audio m= port of an SDP body.
func audioAddr(sdp []byte) (netip.AddrPort, error) {
	var addr netip.Addr
	port := -1
	for line := range strings.Lines(string(sdp)) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "c=IN IP") && (port < 0 || !addr.IsValid()):
			if f := strings.Fields(line); len(f) == 3 {
				addr, _ = netip.ParseAddr(f[2])
			}
		case strings.HasPrefix(line, "m=audio ") && port < 0:
			if f := strings.Fields(line); len(f) > 1 {
				port, _ = strconv.Atoi(f[1])
			}
		}
	}
	if !addr.IsValid() || port <= 0 || port > 65535 {
		return netip.AddrPort{}, errors.New("no audio address in the SDP answer")
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}
