package muc

import (
	"fmt"
	"testing"
	"time"
)

func TestVCardTELs(t *testing.T) {
	n, err := parseNode([]byte(`<iq type='result' from='alice@localhost' id='1'><vCard xmlns='vcard-temp'><FN>A</FN>` +
		`<TEL><WORK/><VOICE/><NUMBER>303-308-3282</NUMBER></TEL><TEL><NUMBER> tel:sip:alice@localhost </NUMBER></TEL><TEL><HOME/></TEL></vCard></iq>`))
	if err != nil {
		t.Fatal(err)
	}
	if got := vcardTELs(n); len(got) != 2 || got[0] != "303-308-3282" || got[1] != "tel:sip:alice@localhost" {
		t.Fatalf("vcard-temp TELs: %q", got)
	}
	n, _ = parseNode([]byte(`<iq type='result'><vcard xmlns='urn:ietf:params:xml:ns:vcard-4.0'><tel><parameters/><uri>tel:+1-303-308-3282</uri></tel>` +
		`<tel><text>sip:bob@x</text></tel></vcard></iq>`))
	if got := vcardTELs(n); len(got) != 2 || got[0] != "tel:+1-303-308-3282" || got[1] != "sip:bob@x" {
		t.Fatalf("vCard4 TELs: %q", got)
	}
}

// The cache is bounded and forgets after its TTL.
func TestVCardCacheBounds(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := vcardCache{now: func() time.Time { return now }}
	for i := range vcardCacheSize + 100 {
		c.put(fmt.Sprintf("u%d@x", i), []string{"1"}, vcardTTL)
	}
	if c.len() > vcardCacheSize {
		t.Fatalf("%d entries", c.len())
	}
	c.put("a@x", []string{"sip:a@x"}, vcardTTL)
	if tels, ok := c.get("a@x"); !ok || tels[0] != "sip:a@x" {
		t.Fatal("fresh entry missing")
	}
	now = now.Add(vcardTTL)
	if _, ok := c.get("a@x"); ok {
		t.Fatal("entry outlived its TTL")
	}
}

// FuzzVCardTELs: whatever a server answers, the TEL list is bounded and
// parsing never panics.
func FuzzVCardTELs(f *testing.F) {
	f.Add([]byte(`<iq type='result'><vCard xmlns='vcard-temp'><TEL><NUMBER>sip:a@b</NUMBER></TEL></vCard></iq>`))
	f.Add([]byte(`<iq type='result'><vcard xmlns='urn:ietf:params:xml:ns:vcard-4.0'><tel><uri>tel:+1</uri><text>x</text></tel></vcard></iq>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		n, err := parseNode(data)
		if err != nil {
			return
		}
		tels := vcardTELs(n)
		if len(tels) > maxTELs {
			t.Fatalf("%d TELs", len(tels))
		}
		for _, tel := range tels {
			if tel == "" || len(tel) > 1024 {
				t.Fatalf("TEL %q", tel)
			}
		}
	})
}
