package xmppserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

// BenchmarkLogin measures one complete client login: TCP connect, stream
// set-up, SCRAM-SHA-256 (4096 PBKDF2 iterations, done by client and
// server), resource binding and close; with STARTTLS (TLS 1.3, ECDSA P-256)
// and on plain-text loopback.
func BenchmarkLogin(b *testing.B) {
	for _, mode := range []string{"starttls", "plaintext"} {
		b.Run(mode, func(b *testing.B) {
			r := newRig(b, func(c *Config) {
				c.AllowPlaintextLoopback = mode == "plaintext"
				c.MaxConnsPerIP = 100000
				c.MaxAuthFailures = 1 << 30
			})
			r.add("alice", "pa")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				conn, err := net.Dial("tcp", r.addr)
				if err != nil {
					b.Fatal(err)
				}
				origin := jid.MustParse("alice@localhost")
				var state xmpp.SessionState
				feats := []xmpp.StreamFeature{xmpp.SASL("", "pa", sasl.ScramSha256), xmpp.BindResource()}
				if mode == "plaintext" {
					state = xmpp.Secure
				} else {
					feats = append([]xmpp.StreamFeature{xmpp.StartTLS(&tls.Config{InsecureSkipVerify: true})}, feats...)
				}
				sess, err := xmpp.NewSession(ctx, origin.Domain(), origin, conn, state, xmpp.NewNegotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
					return xmpp.StreamConfig{Features: feats}
				}))
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				_ = sess.Close()
				_ = conn.Close()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
		})
	}
}

// BenchmarkRoomFanout200 measures one groupchat message to a room of 200
// occupants, each a client on its own connection: from the sender's write
// until every occupant has read it.
func BenchmarkRoomFanout200(b *testing.B) {
	const n = 200
	r := newRig(b, func(c *Config) { c.MaxConnsPerIP = 1000 })
	room := "big@" + testMUC
	clients := make([]*client, n)
	for i := range clients {
		name := "u" + strconv.Itoa(i)
		r.add(name, "p")
		clients[i] = r.login(name, "p")
		clients[i].send(`<presence to='%s/%s'><x xmlns='http://jabber.org/protocol/muc'/></presence>`, room, name)
		clients[i].next("self presence", func(e *elem) bool { return e.has(`code="110"`) })
		if i == 0 {
			clients[0].send(`<iq type='set' id='inst' to='%s'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`, room)
			clients[0].next("instant", func(e *elem) bool { return e.attr("id") == "inst" })
		}
	}
	for _, c := range clients { // drop the join presences
		for len(c.in) > 0 {
			<-c.in
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body := fmt.Sprintf("m%d", i)
		clients[i%n].send(`<message type='groupchat' to='%s'><body>%s</body></message>`, room, body)
		for _, c := range clients {
			c.next("groupchat", func(e *elem) bool {
				return e.Name.Local == "message" && e.kid("", "body") != nil && e.kid("", "body").Text == body
			})
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
}
