package muc

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"cusax.dev/bridge/conference"
)

func manyRooms(n int) rigOpt {
	return func(o *conference.Options, _ *Config) {
		for i := range n {
			o.Rooms = append(o.Rooms, conference.RoomSpec{Name: fmt.Sprintf("room-%04d", i)})
		}
	}
}

func itemJIDs(t *testing.T, n *node) ([]string, *node) {
	t.Helper()
	if n.attr("type") != "result" {
		t.Fatalf("disco#items: %s", n)
	}
	q := n.child(NSDiscoItem, "query")
	var out []string
	for _, it := range q.children(NSDiscoItem, "item") {
		out = append(out, it.attr("jid"))
	}
	return out, q.child(NSRSM, "set")
}

// disco#items of the service is paged (XEP-0059): never more than 100
// items, with a <set/> saying how to go on, and every room reached exactly
// once by following <last/>.
func TestDiscoItemsPaged(t *testing.T) {
	r := newRig(t, manyRooms(250))
	eve := user("eve")
	items, set := itemJIDs(t, r.iq(eve, testDomain, "get", `<query xmlns='`+NSDiscoItem+`'/>`))
	if len(items) != 100 || set == nil {
		t.Fatalf("unpaged request: %d items, set %v", len(items), set)
	}
	if c, _ := rsmText(set, "count"); c != "250" {
		t.Errorf("count %q", c)
	}
	seen := map[string]bool{}
	after := ""
	for page := 0; ; page++ {
		rsm := `<set xmlns='` + NSRSM + `'><max>40</max>`
		if after != "" {
			rsm += `<after>` + after + `</after>`
		}
		rsm += `</set>`
		items, set := itemJIDs(t, r.iq(eve, testDomain, "get", `<query xmlns='`+NSDiscoItem+`'>`+rsm+`</query>`))
		if len(items) > 40 || set == nil {
			t.Fatalf("page %d: %d items, set %v", page, len(items), set)
		}
		for _, j := range items {
			if seen[j] {
				t.Fatalf("page %d repeats %s", page, j)
			}
			seen[j] = true
		}
		if len(items) == 0 {
			break
		}
		after, _ = rsmText(set, "last")
		if page > 10 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 250 {
		t.Fatalf("paging reached %d rooms, want 250", len(seen))
	}
	// The last page, by an empty <before/>.
	items, _ = itemJIDs(t, r.iq(eve, testDomain, "get", `<query xmlns='`+NSDiscoItem+`'><set xmlns='`+NSRSM+`'><max>5</max><before/></set></query>`))
	if len(items) != 5 || items[4] != roomJID("room-0249") {
		t.Fatalf("last page: %v", items)
	}
	// An unknown <after/> and a malformed <max/>.
	wantError(t, r.iq(eve, testDomain, "get", `<query xmlns='`+NSDiscoItem+`'><set xmlns='`+NSRSM+`'><after>nope@x</after></set></query>`), "item-not-found", "")
	wantError(t, r.iq(eve, testDomain, "get", `<query xmlns='`+NSDiscoItem+`'><set xmlns='`+NSRSM+`'><max>-3</max></set></query>`), "bad-request", "")
}

// A stanza over the cap is never sent: an IQ result becomes a
// resource-constraint error, and the refusal is counted.
func TestStanzaCap(t *testing.T) {
	r := newRig(t, manyRooms(150), func(_ *conference.Options, c *Config) { c.MaxStanzaBytes = 4000 })
	n := r.iq(user("eve"), testDomain, "get", `<query xmlns='`+NSDiscoItem+`'/>`)
	wantError(t, n, "resource-constraint", "wait")
	if got := counterValue(t, r.m.Security.Refusals.WithLabelValues("stanza_too_big")); got != 1 {
		t.Errorf("stanza_too_big = %v", got)
	}
	// A small page still goes out.
	items, _ := itemJIDs(t, r.iq(user("eve"), testDomain, "get", `<query xmlns='`+NSDiscoItem+`'><set xmlns='`+NSRSM+`'><max>10</max></set></query>`))
	if len(items) != 10 {
		t.Fatalf("%d items", len(items))
	}
}

func FuzzRSM(f *testing.F) {
	f.Add(`<query><set xmlns='http://jabber.org/protocol/rsm'><max>10</max><after>b</after></set></query>`, 20)
	f.Add(`<query><set xmlns='http://jabber.org/protocol/rsm'><before/></set></query>`, 3)
	f.Add(`<query><set xmlns='http://jabber.org/protocol/rsm'><index>7</index></set></query>`, 300)
	f.Fuzz(func(t *testing.T, doc string, n int) {
		q, err := parseNode([]byte(doc))
		if err != nil || n < 0 || n > 1000 {
			return
		}
		req, ok := parseRSM(q)
		if !ok {
			return
		}
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("%c%d", 'a'+i%26, i)
		}
		from, to, found := req.page(keys)
		if !found {
			return
		}
		if from < 0 || to < from || to > n || to-from > maxItemsPage {
			t.Fatalf("page [%d,%d) of %d for %+v", from, to, n, req)
		}
		if req.max >= 0 && to-from > req.max {
			t.Fatalf("page of %d over max %d", to-from, req.max)
		}
		_ = rsmSet(keys, from, to).sizeBound()
	})
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
