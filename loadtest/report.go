package loadtest

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

func ms(v Seconds) string {
	s := float64(v)
	switch {
	case math.IsNaN(s):
		return "-"
	case math.IsInf(s, 1):
		return ">20"
	}
	return fmt.Sprintf("%.2f", s*1000)
}

// Print writes the report as a table.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "bench-load: N=%d PER_ROOM=%d TALKERS=%d DURATION=%gs, %d cores, target CPUs %q, load %.2f → %.2f, generator %.2f cores\n",
		r.Calls, r.PerRoom, r.Talkers, r.Duration, r.Cores, orNone(r.TargetCPUs), r.LoadBefore, r.LoadAfter, r.GenCPU)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tcalls\tCPU cores\trunq wait\tµs CPU/participant·s\tRSS MiB\tdelivered %\tseq gaps\tm2e p50 ms\tm2e p99 ms\tm2e max ms\taudio ok\t")
	for _, t := range []*Target{r.Floor, r.Bridge} {
		if t == nil {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.2f\t%.1f\t%.3f\t%d\t%s\t%s\t%s\t%d/%d\t\n", t.Name, t.Calls, t.CPUCores, t.RunQueueWait, t.CPUPerParticipantS,
			float64(t.RSSBytes)/(1<<20), 100*t.Delivered, t.SeqGaps, ms(t.Delay.P50), ms(t.Delay.P99), ms(t.Delay.Max),
			t.Audio.Passed, t.Audio.Listeners)
	}
	tw.Flush()
	if r.Ratio > 0 {
		fmt.Fprintf(w, "CPU per participant-second, bridge/floor: %.2f\n", r.Ratio)
	}
	if b := r.Bridge; b != nil {
		if mx := b.Mixer; mx != nil {
			fmt.Fprintf(w, "mixer: %.0f ticks, %.0f skipped; tick ms p50 %s p99 %s max ≤%s; lateness ms p50 %s p99 %s max ≤%s; rtp in %.0f out %.0f dropped %.0f\n",
				mx.Ticks, mx.Skipped, ms(mx.Duration.P50), ms(mx.Duration.P99), ms(mx.Duration.Max),
				ms(mx.Lateness.P50), ms(mx.Lateness.P99), ms(mx.Lateness.Max), mx.PacketsIn, mx.PacketsOut, mx.PacketsDrops)
		}
		if s := b.Setup; s != nil {
			fmt.Fprintf(w, "setup: %d/%d answered at %g INVITE/s in %.2fs; INVITE→200 ms p50 %s p99 %s max %s\n",
				s.Answered, s.Invites, s.Rate, s.Wall, ms(s.Time.P50), ms(s.Time.P99), ms(s.Time.Max))
			for why, n := range s.Failed {
				fmt.Fprintf(w, "  failed ×%d: %s\n", n, why)
			}
		}
	}
	for _, t := range []*Target{r.Floor, r.Bridge} {
		if t == nil {
			continue
		}
		if t.GenLateTicks > 0 || t.GenSendErrors > 0 {
			fmt.Fprintf(w, "%s: generator late ticks %d, send errors %d (the generator itself was starved)\n", t.Name, t.GenLateTicks, t.GenSendErrors)
		}
		for _, f := range t.Audio.Failures {
			fmt.Fprintf(w, "%s: audio check failed: %s\n", t.Name, f)
		}
		if len(t.Errors) > 0 {
			fmt.Fprintf(w, "%s: %s\n", t.Name, strings.Join(t.Errors, "; "))
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
