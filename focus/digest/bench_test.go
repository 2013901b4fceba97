package digest

import "testing"

// BenchmarkVerify is one successful qop=auth verification (MD5): parse,
// account lookup, hash, nonce bookkeeping.
func BenchmarkVerify(b *testing.B) {
	s, _ := newServer(b, Options{})
	c := s.Challenge(false)
	headers := make([]string, 4096)
	for i := range headers {
		headers[i] = answer(b, c, "REFER", uri, "alice", "wonderland", i+1)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(headers) {
			b.StopTimer()
			c = s.Challenge(false)
			for j := range headers {
				headers[j] = answer(b, c, "REFER", uri, "alice", "wonderland", j+1)
			}
			i = 0
			b.StartTimer()
		}
		if _, res := s.Verify("REFER", headers[i], accounts); res != OK {
			b.Fatal(res)
		}
		i++
	}
}
