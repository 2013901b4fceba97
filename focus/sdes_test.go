package focus

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"cusax.dev/bridge/mixer"
)

var testKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, mixer.SRTPKeyLen))

func TestParseCrypto(t *testing.T) {
	good := []string{
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + testKey,
		"2 AES_CM_128_HMAC_SHA1_32 inline:" + testKey + "|2^31",
		"3 aes_cm_128_hmac_sha1_80 inline:" + strings.TrimRight(testKey, "="),
	}
	for _, v := range good {
		if c, ok := parseCrypto(v); !ok || len(c.key) != mixer.SRTPKeyLen {
			t.Errorf("%q refused", v)
		}
	}
	bad := []string{
		"", "1", "x AES_CM_128_HMAC_SHA1_80 inline:" + testKey,
		"1 F8_128_HMAC_SHA1_80 inline:" + testKey,
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + testKey + "|2^20|1:4", // MKI
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + testKey + ";inline:" + testKey,
		"1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=",
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + testKey + " KDR=1",
		"1 AES_CM_128_HMAC_SHA1_80 key:" + testKey,
	}
	for _, v := range bad {
		if _, ok := parseCrypto(v); ok {
			t.Errorf("%q accepted", v)
		}
	}
}

func TestSDESNegotiation(t *testing.T) {
	c4 := "c=IN IP4 192.0.2.10"
	savp := offerSDP(c4, "m=audio 4000 RTP/SAVP 0", "a=rtpmap:0 PCMU/8000", "a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:"+testKey)
	plain := offerSDP(c4, "m=audio 4000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000")
	both := offerSDP(c4, "m=audio 4000 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"+testKey, "m=audio 4002 RTP/AVP 0")
	offer := func(p SRTPPolicy) localMedia {
		l := local4
		l.SRTP, l.SRTPKey = p, newSRTPKey(p)
		return l
	}

	n, ans, err := answerOffer(savp, offer(SRTPOffer))
	if err != nil || n.SRTP == nil || n.SRTP.tag != 5 {
		t.Fatalf("SAVP offer with policy offer: %+v %v", n.SRTP, err)
	}
	if !strings.Contains(string(ans), "m=audio 10002 RTP/SAVP 0") || !strings.Contains(string(ans), "a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:") {
		t.Errorf("answer:\n%s", ans)
	}
	if p := srtpParams(n, offer(SRTPOffer).SRTPKey); p == nil || p.Suite != mixer.SuiteAES128SHA1_80 {
		t.Errorf("mixer params %+v", p)
	}
	if n, _, err := answerOffer(plain, offer(SRTPOffer)); err != nil || n.SRTP != nil {
		t.Errorf("plain offer with policy offer: %+v %v", n.SRTP, err)
	}
	if _, _, err := answerOffer(plain, offer(SRTPRequired)); asSDPError(err).Status != 488 {
		t.Errorf("plain offer with SRTP required: %v", err)
	}
	if _, _, err := answerOffer(savp, offer(SRTPOff)); asSDPError(err).Status != 488 {
		t.Errorf("SAVP offer with SRTP off: %v", err)
	}
	// SRTP required picks the SAVP line of an offer with both; off the AVP one.
	if n, ans, err := answerOffer(both, offer(SRTPRequired)); err != nil || n.SRTP == nil || !strings.Contains(string(ans), "m=audio 0 RTP/AVP") {
		t.Errorf("both with required: %v\n%s", err, ans)
	}
	if n, _, err := answerOffer(both, offer(SRTPOff)); err != nil || n.SRTP != nil || n.Remote.Port() != 4002 {
		t.Errorf("both with off: %+v %v", n, err)
	}
	// The focus's own offer under required is SAVP and takes a SAVP answer.
	l := offer(SRTPRequired)
	own := string(createOffer(l, mixer.SendRecv))
	if !strings.Contains(own, "RTP/SAVP") || !strings.Contains(own, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:") {
		t.Fatalf("own offer:\n%s", own)
	}
	if n, err := acceptAnswer(savp, l); err != nil || n.SRTP == nil {
		t.Errorf("SAVP answer: %v", err)
	}
	if _, err := acceptAnswer(plain, l); err == nil {
		t.Error("plain answer to a SAVP offer accepted")
	}
}

func FuzzCrypto(f *testing.F) {
	f.Add("1 AES_CM_128_HMAC_SHA1_80 inline:" + testKey + "|2^31")
	f.Add("9 AES_CM_128_HMAC_SHA1_32 inline:AAAA|1:1")
	f.Fuzz(func(t *testing.T, v string) {
		c, ok := parseCrypto(v)
		if ok && (len(c.key) != mixer.SRTPKeyLen || (c.suite != mixer.SuiteAES128SHA1_80 && c.suite != mixer.SuiteAES128SHA1_32)) {
			t.Fatalf("accepted %q as %+v", v, c)
		}
	})
}
