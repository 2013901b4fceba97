package config

import (
	"strings"
	"testing"
)

// Configuration errors name the key and never a Go type.
func TestConfigErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		yaml string
		want []string
	}{
		{"sip:\n  notify_interval: fast\n", []string{"sip.notify_interval", `"fast"`, "duration", "line 2"}},
		{"sip:\n  domian: x\n", []string{"sip.domian: unknown key", "line 2", "domain"}},
		{"bogus: 1\n", []string{"bogus: unknown key", "line 1"}},
		{"rtp:\n  max_speakers: lots\n", []string{"rtp.max_speakers", "whole number"}},
		{"sip:\n  auth:\n    require_for_calls: maybe\n", []string{"sip.auth.require_for_calls", "true or false"}},
		{"rooms:\n  - name: a\n    colour: red\n", []string{"rooms[0].colour: unknown key", "line 3"}},
		{"sip:\n  tcp:\n    idle_timeout: 5\n", []string{"sip.tcp.idle_timeout", "duration"}},
		{"xmpp:\n  mode: component\n", []string{"xmpp.secret", "must not be empty"}},
		{"sip:\n  subscriptions:\n    per_participant: 0\n", []string{"sip.subscriptions.per_participant", "at least 1"}},
	}
	for _, tc := range tests {
		_, err := Parse(strings.NewReader(tc.yaml))
		if err == nil {
			t.Errorf("%q: no error", tc.yaml)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", tc.yaml, err, w)
			}
		}
		for _, never := range []string{"config.SIP", "type config", "time.Duration", "!!str"} {
			if strings.Contains(err.Error(), never) {
				t.Errorf("%q: error %q names a Go type (%s)", tc.yaml, err, never)
			}
		}
	}
	if _, err := Parse(strings.NewReader("xmpp:\n  mode: component\n  secret: s3cret\n")); err != nil {
		t.Errorf("component mode with a secret: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("sip:\n  notify_interval: fast\n")
	f.Add("rooms:\n  - name: a\n    moderators: [sip:a@b]\n")
	f.Add("a: &x {b: *x}\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = Parse(strings.NewReader(s))
	})
}
