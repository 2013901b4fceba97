package admin

import (
	"bytes"
	"net/http"
	"testing"
)

// The JSON decoders take bodies from anyone who has the token (and the
// first bytes from anyone): they must answer every input with a value or a
// problem of a 4xx status, never panic.

func checkProblem(t *testing.T, p *Problem) {
	if p == nil {
		return
	}
	if p.Status < 400 || p.Status > 499 || p.Detail == "" || p.Title != http.StatusText(p.Status) {
		t.Fatalf("problem %+v", p)
	}
}

func seeds(f *testing.F, s ...string) {
	for _, v := range s {
		f.Add([]byte(v))
	}
}

func FuzzDecodeCreateRoom(f *testing.F) {
	seeds(f, `{"name":"team","subject":"x","moderators":["sip:a@b"],"pin":"12","max_participants":3}`, `{"name":1}`, `{`, ``, `{"name":"a","x":1}`, `null`, `[]`, `{"name":"a"}{}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, p := DecodeCreateRoom(bytes.NewReader(data), 4096)
		checkProblem(t, p)
		if p == nil && (v.Name == "" || (v.MaxParticipants != nil && *v.MaxParticipants < 0)) {
			t.Fatalf("accepted %+v", v)
		}
	})
}

func FuzzDecodePatchRoom(f *testing.F) {
	seeds(f, `{"subject":"x"}`, `{"locked":true}`, `{"locked":"yes"}`, `{}`, `{"subject":"\u0000"}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, p := DecodePatchRoom(bytes.NewReader(data), 4096)
		checkProblem(t, p)
		if p == nil && v.Subject == nil && v.Locked == nil {
			t.Fatal("accepted an empty patch")
		}
	})
}

func FuzzDecodeMute(f *testing.F) {
	seeds(f, `{"muted":true,"reason":"x"}`, `{"muted":null}`, `{"reason":"x"}`, `{"muted":1}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, p := DecodeMute(bytes.NewReader(data), 4096)
		checkProblem(t, p)
		if p == nil && (v.Muted == nil || len(v.Reason) > maxReason) {
			t.Fatalf("accepted %+v", v)
		}
	})
}

func FuzzDecodeReason(f *testing.F) {
	seeds(f, `{"reason":"x"}`, ``, `  `, `{"reason":5}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, p := DecodeReason(bytes.NewReader(data), 4096)
		checkProblem(t, p)
		if p == nil && len(v.Reason) > maxReason {
			t.Fatalf("accepted %+v", v)
		}
	})
}

func FuzzDecodeDialOut(f *testing.F) {
	seeds(f, `{"uri":"sip:a@127.0.0.1:5070"}`, `{"uri":"tel:1"}`, `{"uri":"sip:@"}`, `{"uri":"sips:x;transport=tcp"}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, p := DecodeDialOut(bytes.NewReader(data), 4096)
		checkProblem(t, p)
		if p == nil && (v.URI == "" || bytes.ContainsAny([]byte(v.URI), " <>\r\n")) {
			t.Fatalf("accepted %+v", v)
		}
	})
}
