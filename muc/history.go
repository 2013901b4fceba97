package muc

import (
	"strconv"
	"time"
	"unicode/utf8"

	"cusax.dev/bridge/conference"
)

// historyReq is the <history/> a joiner asked for (XEP-0045 §7.2.15); a
// negative limit is unset.
type historyReq struct {
	maxStanzas, maxChars, seconds int
	since                         time.Time
}

func defaultHistory() historyReq { return historyReq{maxStanzas: -1, maxChars: -1, seconds: -1} }

// parseHistory reads <history maxstanzas maxchars seconds since/>. Invalid
// values are ignored, as if absent.
func parseHistory(h *node) historyReq {
	req := defaultHistory()
	if h == nil {
		return req
	}
	num := func(name string) int {
		n, err := strconv.Atoi(h.attr(name))
		if err != nil || n < 0 {
			return -1
		}
		return n
	}
	req.maxStanzas, req.maxChars, req.seconds = num("maxstanzas"), num("maxchars"), num("seconds")
	if v := h.attr("since"); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			req.since = t
		}
	}
	return req
}

// selectHistory picks the messages a joiner gets from msgs, the history as
// it was at the join (at): newest first until a limit is reached, returned
// oldest first. Every limit applies; maxchars counts the characters of the
// rendered stanzas.
func selectHistory(msgs []conference.Message, req historyReq, at time.Time, render func(conference.Message) *node) []*node {
	var picked []*node
	chars := 0
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if req.maxStanzas >= 0 && len(picked) >= req.maxStanzas {
			break
		}
		if req.seconds >= 0 && m.At.Before(at.Add(-time.Duration(req.seconds)*time.Second)) {
			break
		}
		if !req.since.IsZero() && !m.At.After(req.since) {
			break
		}
		n := render(m)
		if req.maxChars >= 0 {
			chars += utf8.RuneCountInString(n.String())
			if chars > req.maxChars {
				break
			}
		}
		picked = append(picked, n)
	}
	for i, j := 0, len(picked)-1; i < j; i, j = i+1, j-1 {
		picked[i], picked[j] = picked[j], picked[i]
	}
	return picked
}
