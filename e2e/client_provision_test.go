package e2e

import (
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/client"
	"cusax.dev/bridge/xmppserver"
)

// TestClientProvision: `bridge client --provision URL` against the
// embedded bridge's GET /provision. With only the URL, the password file
// and the bridge's self-signed certificate as --ca-file, the client learns
// both accounts and servers, reaches chat and voice, joins a room and sees
// itself as one person on both halves. A second client trusts the
// certificate by its pin alone. A wrong password exits 4 naming the 401;
// a closed port exits 3.
func TestClientProvision(t *testing.T) {
	e := StartEmbedded(t, nil)
	e.User(t, "s3cret", false, "add", "alice")
	e.User(t, "t0psecret", false, "add", "bob")
	dir := t.TempDir()
	pwFile := func(name, pw string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(pw+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	certFile := filepath.Join(filepath.Dir(e.Config.Store.Path), xmppserver.SelfSignedCert)
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatalf("%s: no PEM", certFile)
	}
	sum := sha256.Sum256(block.Bytes)
	pin := fmt.Sprintf("%X", sum[:])
	// The certificate names xmpp.host (localhost), not 127.0.0.1: the URL
	// uses the name, and the document's hosts are the name the client used.
	url := strings.Replace(e.ProvURL, "127.0.0.1", e.Host, 1)
	if e.Host != "localhost" {
		t.Fatalf("xmpp.host %q: the test expects localhost", e.Host)
	}
	conf := "sip:team@" + e.Config.SIP.Domain

	alice := StartScriptClient(t, "alice", "--provision", url, "--user", "alice",
		"--password-file", pwFile("alice.pw", "s3cret"), "--ca-file", certFile)
	waitConnected(alice)
	// By the pin alone (no --ca-file): the provisioning request trusts it,
	// and the XMPP connection trusts the document's pin.
	bob := StartScriptClient(t, "bob", "--provision", url, "--jid", "bob@"+e.Host,
		"--password-file", pwFile("bob.pw", "t0psecret"), "--tls-pin", pin)
	waitConnected(bob)

	alice.Send("join %s", conf)
	_, j := alice.WaitEvent("joined", 0, isEvent("joined"))
	room := "team@" + e.MUCDomain
	if j["chat"] != true || j["voice"] != true || j["related"] != true || j["room"] != room {
		t.Fatalf("alice joined: %v", j)
	}
	alice.WaitRows("herself, one row on both halves", func(rows []map[string]any) bool {
		return len(rows) == 1 && rows[0]["self"] == true && rows[0]["level"] == "both" &&
			rows[0]["jid"] == "alice@"+e.Host && rows[0]["sip"] == "sip:alice@"+e.Config.SIP.Domain
	})
	bob.Send("join xmpp:%s?join", room)
	_, j = bob.WaitEvent("joined", 0, isEvent("joined"))
	if j["chat"] != true || j["room"] != room {
		t.Fatalf("bob joined: %v", j)
	}
	// bob (no moderator) sees himself and alice; who-sees-whom decides
	// whether her two halves are one row for him.
	bob.WaitRows("himself and alice", func(rows []map[string]any) bool {
		self, others := 0, 0
		for _, r := range rows {
			if r["self"] == true && r["name"] == "bob" && r["jid"] == "bob@"+e.Host {
				self++
			} else if name, _ := r["name"].(string); strings.HasPrefix(name, "alice") {
				others++
			}
		}
		return self == 1 && others >= 1 && self+others == len(rows)
	})
	alice.Send("quit")
	bob.Send("quit")
	if code := alice.Wait(15 * time.Second); code != client.ExitOK {
		t.Errorf("alice exit %d", code)
	}
	if code := bob.Wait(15 * time.Second); code != client.ExitOK {
		t.Errorf("bob exit %d", code)
	}

	t.Run("wrong password", func(t *testing.T) {
		code, _, errs := runClientOnce(t, "", "--provision", url, "--user", "alice",
			"--password-file", pwFile("bad.pw", "wrong"), "--ca-file", certFile)
		if code != client.ExitAuth || !strings.Contains(errs, "rejected the password of alice (HTTP 401)") {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		code, _, errs := runClientOnce(t, "", "--provision", url, "--user", "alice",
			"--password-file", pwFile("alice.pw", "s3cret"))
		if code != client.ExitUnreachable || !strings.Contains(errs, "not trusted") {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		code, _, errs := runClientOnce(t, "", "--provision", fmt.Sprintf("https://localhost:%d/provision", FreePort(t)),
			"--user", "alice", "--password-file", pwFile("alice.pw", "s3cret"), "--ca-file", certFile)
		if code != client.ExitUnreachable || !strings.Contains(errs, "provisioning") {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
	})
}
