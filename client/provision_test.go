package client

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodDoc = `{
  "version": 1, "account": "alice",
  "sip": {"aor": "sip:alice@example.com", "auth_user": "alice", "realm": "example.com",
          "domain": "example.com", "proxy": "host.example:5070", "transports": ["udp", "tcp"]},
  "xmpp": {"jid": "alice@example.com", "host": "host.example", "port": 5223, "starttls": "required",
           "tls_pin_sha256": "3A:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:9F",
           "muc_domain": "conference.example.com"},
  "related_accounts": true,
  "features": {"xmpp_audio_video": false, "sip_instant_messaging": false, "video_tel": false},
  "future_field": {"ignored": true}
}`

func TestParseDocument(t *testing.T) {
	d, err := ParseDocument([]byte(goodDoc))
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	c.Apply(d)
	if c.JID != "alice@example.com" || c.XMPPServer != "host.example:5223" || c.SIP != "sip:alice@example.com" ||
		c.SIPServer != "host.example:5070" || c.sipAuthUser != "alice" || !strings.HasPrefix(c.TLSPin, "3A:00") {
		t.Fatalf("applied: %+v", c)
	}
	// Explicit settings win.
	c = Config{JID: "bob@other", SIPServer: "proxy:5060", TLSPin: "AA"}
	c.Apply(d)
	if c.JID != "bob@other" || c.XMPPServer != "host.example:5223" || c.SIPServer != "proxy:5060" || c.TLSPin != "AA" || c.SIP != "sip:alice@example.com" {
		t.Fatalf("explicit settings overridden: %+v", c)
	}
	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal([]byte(goodDoc), &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	sip := func(m map[string]any) map[string]any { return m["sip"].(map[string]any) }
	xm := func(m map[string]any) map[string]any { return m["xmpp"].(map[string]any) }
	for name, bad := range map[string][]byte{
		"not json":    []byte("<html>"),
		"empty":       nil,
		"version 2":   mutate(func(m map[string]any) { m["version"] = 2 }),
		"no accounts": mutate(func(m map[string]any) { delete(m, "sip"); delete(m, "xmpp") }),
		"bad jid":     mutate(func(m map[string]any) { xm(m)["jid"] = "example.com" }),
		"full jid":    mutate(func(m map[string]any) { xm(m)["jid"] = "a@example.com/r" }),
		"port 0":      mutate(func(m map[string]any) { xm(m)["port"] = 0 }),
		"port big":    mutate(func(m map[string]any) { xm(m)["port"] = 70000 }),
		"no host":     mutate(func(m map[string]any) { xm(m)["host"] = "" }),
		"no starttls": mutate(func(m map[string]any) { xm(m)["starttls"] = "optional" }),
		"bad pin":     mutate(func(m map[string]any) { xm(m)["tls_pin_sha256"] = "3A:zz" }),
		"short pin":   mutate(func(m map[string]any) { xm(m)["tls_pin_sha256"] = "3A:00" }),
		"bad aor":     mutate(func(m map[string]any) { sip(m)["aor"] = "tel:+123" }),
		"bad proxy":   mutate(func(m map[string]any) { sip(m)["proxy"] = "host" }),
		"proxy port":  mutate(func(m map[string]any) { sip(m)["proxy"] = "host:0" }),
		"no udp":      mutate(func(m map[string]any) { sip(m)["transports"] = []string{"tls"} }),
		"auth user":   mutate(func(m map[string]any) { sip(m)["auth_user"] = "a\"b" }),
		"wrong type":  mutate(func(m map[string]any) { m["version"] = "1" }),
	} {
		if _, err := ParseDocument(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// One half only is a document too; the auth user defaults to the AOR's.
	d, err = ParseDocument(mutate(func(m map[string]any) { delete(m, "xmpp"); delete(sip(m), "auth_user") }))
	if err != nil || d.SIP.AuthUser != "alice" {
		t.Fatalf("SIP only: %v %+v", err, d)
	}
}

func FuzzParseDocument(f *testing.F) {
	f.Add([]byte(goodDoc))
	f.Add([]byte(`{"version":1,"sip":{"aor":"sip:a@b","proxy":"[::1]:5060"}}`))
	f.Add([]byte(`{"version":1,"xmpp":{"jid":"a@b","host":"h","port":1,"tls_pin_sha256":""}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDocument(data)
		if err != nil {
			return
		}
		var c Config
		c.Apply(d)
		if c.JID == "" && c.SIP == "" {
			t.Fatalf("accepted document names no account: %q", data)
		}
		if c.SIP != "" && c.SIPServer == "" || c.JID != "" && c.XMPPServer == "" {
			t.Fatalf("account without server: %+v", c)
		}
	})
}

// ProvisionFrom against a local HTTPS server: the pin is the only trust,
// 401 is ErrAuth, a 500 and a closed port are ErrUnreachable, and a
// certificate with neither a CA nor the pin is refused.
func TestProvisionFrom(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		switch {
		case user == "broken":
			http.Error(w, "internal", 500)
		case user != "alice" || pass != "s3cret":
			http.Error(w, "wrong user name or password", http.StatusUnauthorized)
		default:
			fmt.Fprint(w, goodDoc)
		}
	}))
	defer srv.Close()
	sum := sha256.Sum256(srv.Certificate().Raw)
	pin := fmt.Sprintf("%X", sum[:])
	dir := t.TempDir()
	pw := func(p string) string {
		f := filepath.Join(dir, p)
		_ = os.WriteFile(f, []byte(p+"\n"), 0o600)
		return f
	}
	ctx := context.Background()
	c := Config{Provision: srv.URL + "/provision", User: "alice", PasswordFile: pw("s3cret"), TLSPin: pin}
	if err := c.ProvisionFrom(ctx); err != nil {
		t.Fatal(err)
	}
	if c.JID != "alice@example.com" || c.TLSPin != pin || c.Provision != "" {
		t.Fatalf("%+v", c)
	}
	c = Config{Provision: srv.URL, JID: "alice@example.com", PasswordFile: pw("wrong"), TLSPin: pin}
	if err := c.ProvisionFrom(ctx); !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong password: %v", err)
	}
	c = Config{Provision: srv.URL, User: "broken", PasswordFile: pw("x"), TLSPin: pin}
	if err := c.ProvisionFrom(ctx); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("500: %v", err)
	}
	c = Config{Provision: srv.URL, User: "alice", PasswordFile: pw("s3cret")}
	if err := c.ProvisionFrom(ctx); !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("no trust: %v", err)
	}
	c = Config{Provision: srv.URL, User: "alice", PasswordFile: pw("s3cret"), TLSPin: strings.Repeat("00", 32)}
	if err := c.ProvisionFrom(ctx); !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "pin") {
		t.Fatalf("wrong pin: %v", err)
	}
	addr := srv.Listener.Addr().String()
	srv.Close()
	c = Config{Provision: "https://" + addr, User: "alice", PasswordFile: pw("s3cret"), TLSPin: pin}
	if err := c.ProvisionFrom(ctx); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("closed: %v", err)
	}
	for _, bad := range []Config{
		{Provision: "ftp://x", User: "a", PasswordFile: pw("s3cret")},
		{Provision: "http://x/provision", User: "a", PasswordFile: pw("s3cret")},
		{Provision: "https://x"},
		{Provision: "https://x", User: "a"},
		{Provision: "https://x", User: "a", PasswordFile: pw("s3cret"), TLSPin: "12"},
	} {
		if err := bad.ProvisionFrom(ctx); err == nil || errors.Is(err, ErrUnreachable) || errors.Is(err, ErrAuth) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
