package e2e

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/config"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/mixer/audiotest"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// tlsSIP is a minimal SIP client over one TLS connection.
type tlsSIP struct {
	conn *tls.Conn
	r    *bufio.Reader
}

func (c *tlsSIP) send(t *testing.T, msg string) {
	t.Helper()
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, "\r\n", "\n"), "\n", "\r\n")
	if _, err := c.conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// read returns the next message's start line, headers and body.
func (c *tlsSIP) read(t *testing.T) (string, textproto.MIMEHeader, []byte) {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewReader(c.r)
	line, err := tp.ReadLine()
	for err == nil && line == "" { // keep-alive CRLFs
		line, err = tp.ReadLine()
	}
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("headers: %v", err)
	}
	n, _ := strconv.Atoi(h.Get("Content-Length"))
	body := make([]byte, n)
	if _, err := c.r.Read(body); n > 0 && err != nil {
		t.Fatal(err)
	}
	return line, h, body
}

// SIP over TLS: a caller dials over a tls: listener, gets a sips: Contact,
// hears the meeting, and hangs up over the same connection. Plain-TCP
// limits apply under TLS too (a handshake that never comes is closed).
func TestSIPOverTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	tlsPort := FreePort(t)
	b := StartBridge(t, func(c *config.Config) {
		c.SIP.Listen = append(c.SIP.Listen, fmt.Sprintf("tls:127.0.0.1:%d", tlsPort))
		c.SIP.TLS = config.TLSFiles{Cert: cert, Key: key}
		c.SIP.TCP.IdleTimeout = config.Duration(5 * time.Second)
	})
	m := startMeeting(t, b, nil)

	raw, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tlsPort), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c := &tlsSIP{conn: raw, r: bufio.NewReader(raw)}
	local := raw.LocalAddr().String()
	phone, err := audiotest.NewPhone(audiotest.PhoneConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	sdp := sipua.Offer(phone.Addr(), "0")
	c.send(t, fmt.Sprintf("INVITE sips:team@127.0.0.1:%d SIP/2.0\nVia: SIP/2.0/TLS %s;branch=z9hG4bK-tls1\n"+
		"From: <sips:tlsuser@127.0.0.1>;tag=tls1\nTo: <sips:team@127.0.0.1>\nCall-ID: tls-call-1\nCSeq: 1 INVITE\n"+
		"Contact: <sips:tlsuser@%s>\nMax-Forwards: 70\nContent-Type: application/sdp\nContent-Length: %d\n\n%s",
		tlsPort, local, local, len(sdp), sdp))
	var (
		line string
		h    textproto.MIMEHeader
		body []byte
	)
	for {
		line, h, body = c.read(t)
		if !strings.HasPrefix(line, "SIP/2.0 1") {
			break
		}
	}
	if !strings.HasPrefix(line, "SIP/2.0 200") {
		t.Fatalf("INVITE over TLS: %s", line)
	}
	if ct := h.Get("Contact"); !strings.HasPrefix(ct, "<sips:team@") {
		t.Errorf("Contact over TLS: %q, want a sips: URI", ct)
	}
	toTag := h.Get("To")
	c.send(t, fmt.Sprintf("ACK sips:team@127.0.0.1:%d SIP/2.0\nVia: SIP/2.0/TLS %s;branch=z9hG4bK-tls2\n"+
		"From: <sips:tlsuser@127.0.0.1>;tag=tls1\nTo: %s\nCall-ID: tls-call-1\nCSeq: 1 ACK\nMax-Forwards: 70\nContent-Length: 0\n\n",
		tlsPort, local, toTag))
	dst, err := sipua.AudioPort(body)
	if err != nil {
		t.Fatal(err)
	}
	phone.Start(dst)
	WaitFor(t, 5*time.Second, "three participants", func() bool { return b.Metric("cusax_participants_active") == 3 })
	time.Sleep(500 * time.Millisecond)
	phone.ResetRecording()
	time.Sleep(1500 * time.Millisecond)
	rec := phone.Tail(8000)
	for _, f := range meetingFreqs {
		if db := audiotest.PowerDB(rec, f, 8000); db < -40 {
			t.Errorf("the TLS caller hears %v Hz at only %.1f dBFS", f, db)
		}
	}
	c.send(t, fmt.Sprintf("BYE sips:team@127.0.0.1:%d SIP/2.0\nVia: SIP/2.0/TLS %s;branch=z9hG4bK-tls3\n"+
		"From: <sips:tlsuser@127.0.0.1>;tag=tls1\nTo: %s\nCall-ID: tls-call-1\nCSeq: 2 BYE\nMax-Forwards: 70\nContent-Length: 0\n\n",
		tlsPort, local, toTag))
	if line, _, _ := c.read(t); !strings.HasPrefix(line, "SIP/2.0 200") {
		t.Errorf("BYE over TLS: %s", line)
	}
	m.checkHearing(t, "after the TLS call")

	// A connection that never says hello is closed after the idle timeout.
	idle, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tlsPort))
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	_ = idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err == nil {
		t.Error("the silent connection got data")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("the silent connection was not closed by the idle timeout")
	}
	stopClean(t, b)
}
