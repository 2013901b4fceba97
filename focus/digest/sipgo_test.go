package digest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// TestSipgoLoopback runs a real sipgo UAS whose REFER handler challenges
// with this package, and a sipgo UAC that answers with DoDigestAuth, over
// UDP on loopback: the Authorization headers are the ones a sipgo client
// really sends.
func TestSipgoLoopback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	for _, algorithms := range [][]string{{MD5}, {SHA256, MD5}} {
		t.Run(algorithms[0], func(t *testing.T) {
			auth, _ := newServer(t, Options{Algorithms: algorithms})
			type verdict struct {
				user string
				res  Result
				from bool
				alg  string
			}
			verdicts := make(chan verdict, 10)

			ua, err := sipgo.NewUA(sipgo.WithUserAgent("digest-test"))
			if err != nil {
				t.Fatal(err)
			}
			defer ua.Close()
			srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
			if err != nil {
				t.Fatal(err)
			}
			srv.OnRefer(func(req *sip.Request, tx sip.ServerTransaction) {
				var values []string
				for _, h := range req.GetHeaders("Authorization") {
					values = append(values, h.Value())
				}
				user, res := auth.VerifyAll(req.Method.String(), values, accounts)
				_, fromOK := FromMatches(&req.From().Address, user, "example.com")
				if res != Missing {
					c, _ := parseCredentials(values[0])
					verdicts <- verdict{user, res, fromOK, c.algorithm}
				}
				switch res {
				case OK:
					tx.Respond(sip.NewResponseFromRequest(req, 202, "Accepted", nil))
				case Missing, Stale, Replayed:
					r := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
					for _, c := range auth.Challenges(res != Missing) {
						r.AppendHeader(sip.NewHeader("WWW-Authenticate", c))
					}
					tx.Respond(r)
				case Malformed:
					tx.Respond(sip.NewResponseFromRequest(req, 400, "Bad Request", nil))
				default:
					tx.Respond(sip.NewResponseFromRequest(req, 403, "Forbidden", nil))
				}
			})
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.ServeUDP(pc)
			defer pc.Close()
			port := pc.LocalAddr().(*net.UDPAddr).Port

			cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientLogger(quiet))
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()

			refer := func(user, pass string) (*sip.Response, verdict) {
				t.Helper()
				req := sip.NewRequest(sip.REFER, sip.Uri{Scheme: "sip", User: "team", Host: "127.0.0.1", Port: port})
				req.AppendHeader(sip.NewHeader("Refer-To", "<sip:carol@example.com;method=BYE>"))
				from := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "alice", Host: "example.com"}, Params: sip.NewParams()}
				from.Params.Add("tag", sip.GenerateTagN(8))
				req.AppendHeader(&from)
				res, err := cli.Do(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				if res.StatusCode != 401 {
					t.Fatalf("first REFER: %d, want 401", res.StatusCode)
				}
				if got := len(res.GetHeaders("WWW-Authenticate")); got != len(algorithms) {
					t.Fatalf("%d challenges, want %d", got, len(algorithms))
				}
				res, err = cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: pass})
				if err != nil {
					t.Fatal(err)
				}
				select {
				case v := <-verdicts:
					return res, v
				case <-ctx.Done():
					t.Fatal("no verdict")
				}
				return nil, verdict{}
			}

			res, v := refer("alice", "wonderland")
			if res.StatusCode != 202 || v != (verdict{"alice", OK, true, algorithms[0]}) {
				t.Errorf("right password: %d %+v", res.StatusCode, v)
			}
			res, v = refer("alice", "guess")
			if res.StatusCode != 403 || v.res != Bad {
				t.Errorf("wrong password: %d %+v", res.StatusCode, v)
			}
			// bob authenticates but claims alice's AOR in From.
			res, v = refer("bob", "builder")
			if res.StatusCode != 202 || v != (verdict{"bob", OK, false, algorithms[0]}) {
				t.Errorf("bob as alice: %d %+v", res.StatusCode, v)
			}
		})
	}
}
