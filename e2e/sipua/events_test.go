package sipua

import (
	"strings"
	"testing"
)

func TestParseSubscriptionState(t *testing.T) {
	tests := []struct {
		in   string
		want SubscriptionState
		ok   bool
	}{
		{"active;expires=3600", SubscriptionState{State: "active", Expires: 3600, RetryAfter: -1}, true},
		{"Terminated; reason=NoResource", SubscriptionState{State: "terminated", Reason: "noresource", Expires: -1, RetryAfter: -1}, true},
		{"terminated;reason=probation;retry-after=30", SubscriptionState{State: "terminated", Reason: "probation", Expires: -1, RetryAfter: 30}, true},
		{"pending", SubscriptionState{State: "pending", Expires: -1, RetryAfter: -1}, true},
		{"active;expires=soon", SubscriptionState{}, false},
		{"active;expires=-5", SubscriptionState{}, false},
		{"", SubscriptionState{}, false},
		{"act ive", SubscriptionState{}, false},
	}
	for _, tt := range tests {
		got, err := ParseSubscriptionState(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseSubscriptionState(%q) = %+v, %v", tt.in, got, err)
		}
	}
}

func FuzzSubscriptionState(f *testing.F) {
	for _, s := range []string{"active;expires=3600", "terminated;reason=timeout", "pending;retry-after=5;x=y", "x-ext"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseSubscriptionState(s)
		if err != nil {
			return
		}
		if st.State == "" || st.State != strings.ToLower(st.State) || st.Expires < -1 || st.RetryAfter < -1 {
			t.Fatalf("ParseSubscriptionState(%q) = %+v", s, st)
		}
	})
}
