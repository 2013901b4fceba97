package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/config"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/mixer/audiotest"
)

// TestSIPIPv6Caller: a bridge with dual-stack media (rtp.bind_ip with an
// IPv4 and an IPv6 address) and its SIP listener on [::1] answers each
// offer in the offer's family: a caller on ::1 offering IPv6 media gets
// c=IN IP6 ::1, one offering IPv4 media c=IN IP4 127.0.0.1 (the second
// family's address from rtp.bind_ip), and the two hear each other's tones
// in one room.
func TestSIPIPv6Caller(t *testing.T) {
	probe, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	port6 := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()
	sip6 := fmt.Sprintf("[::1]:%d", port6)
	StartBridge(t, func(c *config.Config) {
		c.SIP.Listen = []string{"udp:" + sip6}
		c.RTP.BindIP = config.AddrList{"127.0.0.1", "::1"}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	type party struct {
		freq  float64
		phone *audiotest.Phone
	}
	var parties []party
	for _, p := range []struct {
		host, target string
		ip           netip.Addr
		freq         float64
		family       string
	}{
		{"::1", sip6, netip.IPv6Loopback(), 700, "IP6"},
		{"::1", sip6, netip.MustParseAddr("127.0.0.1"), 1300, "IP4"},
	} {
		phone, err := audiotest.NewPhone(audiotest.PhoneConfig{Addr: p.ip})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { phone.Close() })
		phone.SetSource(audiotest.Tone(p.freq, 8000, 8000).Fill)
		ua, err := sipua.New(sipua.Config{Host: p.host, User: "v" + p.family})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ua.Close() })
		call, err := ua.Invite(ctx, ua.Target("team", p.target), sipua.Offer(phone.Addr(), "0"))
		if err != nil {
			t.Fatalf("%s caller: %v", p.family, err)
		}
		if call.Response.StatusCode != 200 {
			t.Fatalf("%s caller: %s (%s)", p.family, call.Response.StartLine(), call.Response.GetHeader("Warning"))
		}
		if err := call.Ack(nil); err != nil {
			t.Fatal(err)
		}
		body := string(call.Response.Body())
		if !strings.Contains(body, "c=IN "+p.family+" "+p.ip.String()) {
			t.Fatalf("%s caller: answer not in its family:\n%s", p.family, body)
		}
		dst, err := sipua.AudioPort(call.Response.Body())
		if err != nil {
			t.Fatal(err)
		}
		phone.Start(dst)
		parties = append(parties, party{p.freq, phone})
	}
	// each hears the other's tone
	WaitFor(t, 10*time.Second, "both callers hear each other", func() bool {
		for i, p := range parties {
			other := parties[1-i]
			if audiotest.PowerDB(p.phone.Tail(4000), other.freq, 8000) < -30 {
				return false
			}
		}
		return true
	})
	for i, p := range parties {
		if own := audiotest.PowerDB(p.phone.Tail(4000), p.freq, 8000); own > -40 {
			t.Errorf("caller %d hears its own tone at %.1f dBFS", i, own)
		}
	}
}

// TestSIPDualStackSignalling: SIP listeners on 127.0.0.1 and [::1] with
// dual-stack media; a caller signalling over IPv6 gets an IPv6 Contact
// (the second family's advertised address) and IPv6 media, a caller over
// IPv4 IPv4 ones; they hear each other, and the IPv6 caller's in-dialog
// BYE, sent to that Contact, is answered 200.
func TestSIPDualStackSignalling(t *testing.T) {
	probe, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	port6 := probe.LocalAddr().(*net.UDPAddr).Port
	probe.Close()
	sip6 := fmt.Sprintf("[::1]:%d", port6)
	b := StartBridge(t, func(c *config.Config) {
		c.SIP.Listen = append(c.SIP.Listen, "udp:"+sip6)
		c.RTP.BindIP = config.AddrList{"127.0.0.1", "::1"}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type party struct {
		freq  float64
		phone *audiotest.Phone
		call  *sipua.Call
	}
	var parties []party
	for _, p := range []struct {
		host, target string
		ip           netip.Addr
		freq         float64
		family       string
	}{
		{"::1", sip6, netip.IPv6Loopback(), 700, "IP6"},
		{"127.0.0.1", b.SIPAddr, netip.MustParseAddr("127.0.0.1"), 1300, "IP4"},
	} {
		phone, err := audiotest.NewPhone(audiotest.PhoneConfig{Addr: p.ip})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { phone.Close() })
		phone.SetSource(audiotest.Tone(p.freq, 8000, 8000).Fill)
		ua, err := sipua.New(sipua.Config{Host: p.host, User: "d" + p.family})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ua.Close() })
		call, err := ua.Invite(ctx, ua.Target("team", p.target), sipua.Offer(phone.Addr(), "0"))
		if err != nil {
			t.Fatalf("%s caller: %v", p.family, err)
		}
		if call.Response.StatusCode != 200 {
			t.Fatalf("%s caller: %s (%s)", p.family, call.Response.StartLine(), call.Response.GetHeader("Warning"))
		}
		ct := call.Response.Contact()
		if host := strings.Trim(ct.Address.Host, "[]"); host != p.ip.String() {
			t.Fatalf("%s caller: Contact %s, want host %s", p.family, ct.Address.String(), p.ip)
		}
		if err := call.Ack(nil); err != nil {
			t.Fatal(err)
		}
		if body := string(call.Response.Body()); !strings.Contains(body, "c=IN "+p.family+" "+p.ip.String()) {
			t.Fatalf("%s caller: answer not in its family:\n%s", p.family, body)
		}
		dst, err := sipua.AudioPort(call.Response.Body())
		if err != nil {
			t.Fatal(err)
		}
		phone.Start(dst)
		parties = append(parties, party{p.freq, phone, call})
	}
	WaitFor(t, 10*time.Second, "both callers hear each other", func() bool {
		for i, p := range parties {
			if audiotest.PowerDB(p.phone.Tail(4000), parties[1-i].freq, 8000) < -30 {
				return false
			}
		}
		return true
	})
	res, err := parties[0].call.Bye(ctx)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("IPv6 caller's BYE: %v %v", res, err)
	}
}
