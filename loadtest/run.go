package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emiago/sipgo"

	"cusax.dev/bridge/mixer/audiotest"
)

// Options size and place a benchmark run.
type Options struct {
	Calls    int           // N callers
	PerRoom  int           // R callers per room
	Talkers  int           // K talkers per room (tones); the rest send silence
	Duration time.Duration // measurement window
	Warmup   time.Duration // media before the window opens; default 2 s
	// Rate is the INVITE rate of the join storm per second (0: all at once,
	// bounded by Concurrency).
	Rate float64
	// Concurrency bounds the INVITEs in flight; default 500.
	Concurrency int
	// Sample is how many callers get the audio check; default 8.
	Sample int
	// Sockets is the generator's media sockets; default one per 250 callers.
	Sockets int
	// Mode is the bridge's rtp.mode (per_call or shared; empty: its
	// default). Shared routes media by the exact SDP address, so every
	// caller needs its own address: on Linux its own 127/8 address through
	// a few wildcard sockets bound to the loopback device (IP_PKTINFO);
	// where that is refused, its own socket (Sockets defaults to Calls).
	Mode string
	// DistinctAddrs says the generator gave each caller its own 127/8
	// address (set by Run in shared mode).
	DistinctAddrs bool
	// Binary is the bridge executable (run as `serve` and `loadtest reflect`).
	Binary string
	// TargetCPUs pins the bridge and the reflector (taskset -c); empty: no pinning.
	TargetCPUs string
	// Floor also measures the bare reflector (default in the CLI).
	Floor bool
	// FloorIO is the reflector's I/O: "poll" (default, the bridge's
	// receive design) or "goroutines" (one reader per socket).
	FloorIO string
	// ExtraConfig is appended to the bridge's generated YAML (e.g. "rtp:\n  mode: shared").
	ExtraConfig string
	// ProfileDir, when set, turns admin.pprof on and saves a CPU profile of
	// the window (cpu.pprof) and a 3 s execution trace (trace.out) there.
	ProfileDir string
	// BridgeLog receives the bridge's stderr; nil discards it.
	BridgeLog io.Writer
	Logger    *slog.Logger
}

func (o *Options) defaults() error {
	if o.Warmup == 0 {
		o.Warmup = 2 * time.Second
	}
	if o.Concurrency == 0 {
		o.Concurrency = 500
	}
	if o.Sample == 0 {
		o.Sample = 8
	}
	if o.Sockets == 0 && o.Mode == "shared" {
		if c, err := listenLoopbackAny(); err == nil {
			_ = c.Close()
			o.DistinctAddrs = true
		} else {
			o.Sockets = o.Calls
			if o.Logger != nil {
				o.Logger.Warn("generator: a socket per caller (no wildcard socket on the loopback device)", "err", err)
			}
		}
	}
	if o.Sockets == 0 {
		o.Sockets = (o.Calls + 249) / 250
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Calls < 1:
		return errors.New("loadtest: N must be at least 1")
	case o.PerRoom < 1:
		return errors.New("loadtest: PER_ROOM must be at least 1")
	case o.Talkers < 0 || o.Talkers > o.PerRoom:
		return errors.New("loadtest: TALKERS must be between 0 and PER_ROOM")
	case o.Duration < time.Second:
		return errors.New("loadtest: DURATION must be at least 1s")
	case o.Binary == "":
		return errors.New("loadtest: no bridge binary")
	case o.Sockets < 1 || o.Sockets > o.Calls:
		return errors.New("loadtest: sockets must be between 1 and N")
	}
	return nil
}

// Target is one measured process's figures.
type Target struct {
	Name               string   `json:"name"`
	Calls              int      `json:"calls"`
	CPUSeconds         float64  `json:"cpu_seconds"`
	CPUCores           float64  `json:"cpu_cores"`                     // CPU seconds per wall second
	CPUPerParticipantS float64  `json:"cpu_us_per_participant_second"` // µs of CPU per participant-second
	RunQueueWait       float64  `json:"runqueue_wait"`                 // seconds its threads waited for a CPU per wall second
	RSSBytes           int64    `json:"rss_bytes"`
	PacketsExpected    uint64   `json:"packets_expected"`
	PacketsReceived    uint64   `json:"packets_received"`
	Delivered          float64  `json:"delivered"` // received / expected
	SeqGaps            uint64   `json:"seq_gaps"`
	Delay              Quantile `json:"mouth_to_ear"` // seconds
	DelaySamples       int      `json:"mouth_to_ear_samples"`
	Audio              Audio    `json:"audio"`
	Mixer              *Mixer   `json:"mixer,omitempty"`
	Setup              *Setup   `json:"setup,omitempty"`
	GenLateTicks       uint64   `json:"generator_late_ticks"`
	GenSendErrors      uint64   `json:"generator_send_errors"`
	StrayPackets       uint64   `json:"stray_packets"`
	Errors             []string `json:"errors,omitempty"`
}

// Quantile is p50/p99/max in seconds.
type Quantile struct {
	P50 Seconds `json:"p50"`
	P99 Seconds `json:"p99"`
	Max Seconds `json:"max"`
}

// Seconds is a figure in seconds; NaN (no sample) and +Inf (beyond the
// last histogram bucket) are written to JSON as null.
type Seconds = jsonFloat

type jsonFloat float64

// MarshalJSON writes null for NaN and infinities, which JSON lacks.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// Audio is the outcome of the sampled listeners' checks.
type Audio struct {
	Listeners int      `json:"listeners"`
	Passed    int      `json:"passed"`
	Failures  []string `json:"failures,omitempty"`
}

// Mixer are the bridge's tick figures over the window, from /metrics.
type Mixer struct {
	Ticks        float64  `json:"ticks"`
	Skipped      float64  `json:"skipped_ticks"`
	Duration     Quantile `json:"tick_duration"` // bucket-interpolated; Max is a bucket bound
	Lateness     Quantile `json:"tick_lateness"`
	PacketsOut   float64  `json:"rtp_out"`
	PacketsIn    float64  `json:"rtp_in"`
	PacketsDrops float64  `json:"rtp_dropped"`
}

// Setup is the join storm.
type Setup struct {
	Invites  int            `json:"invites"`
	Answered int            `json:"answered"`
	Failed   map[string]int `json:"failed,omitempty"`
	Rate     float64        `json:"rate_per_s"`
	Wall     float64        `json:"wall_s"` // first INVITE to last answer
	Time     Quantile       `json:"invite_to_200"`
}

// Report is one run: the options, the machine and every target.
type Report struct {
	Started    time.Time `json:"started"`
	Cores      int       `json:"cores"`
	GOMAXPROCS int       `json:"generator_gomaxprocs"`
	TargetCPUs string    `json:"target_cpus"`
	LoadBefore float64   `json:"loadavg_before"`
	LoadAfter  float64   `json:"loadavg_after"`
	Calls      int       `json:"calls"`
	PerRoom    int       `json:"per_room"`
	Talkers    int       `json:"talkers"`
	Duration   float64   `json:"duration_s"`
	Floor      *Target   `json:"floor,omitempty"`
	Bridge     *Target   `json:"bridge,omitempty"`
	Ratio      float64   `json:"cpu_ratio_bridge_floor,omitempty"`
	GenCPU     float64   `json:"generator_cpu_cores"`
	// GenSockets is the generator's media sockets; DistinctAddrs says each
	// caller had its own 127/8 address on them (shared mode).
	GenSockets    int  `json:"generator_sockets"`
	DistinctAddrs bool `json:"generator_distinct_addrs"`
}

// Run measures the floor (when asked) and then the bridge.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	rep := &Report{Started: time.Now().UTC(), Cores: machineCores(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		TargetCPUs: o.TargetCPUs, LoadBefore: loadAvg(), Calls: o.Calls, PerRoom: o.PerRoom, Talkers: o.Talkers,
		Duration: o.Duration.Seconds(), GenSockets: o.Sockets, DistinctAddrs: o.DistinctAddrs}
	genStart, _ := cpuTime(0)
	wallStart := time.Now()
	if o.Floor {
		t, err := runFloor(ctx, o)
		if err != nil {
			return rep, fmt.Errorf("floor: %w", err)
		}
		rep.Floor = t
	}
	t, err := runBridge(ctx, o)
	if t != nil {
		rep.Bridge = t
	}
	if err != nil {
		return rep, fmt.Errorf("bridge: %w", err)
	}
	if rep.Floor != nil && rep.Floor.CPUPerParticipantS > 0 {
		rep.Ratio = rep.Bridge.CPUPerParticipantS / rep.Floor.CPUPerParticipantS
	}
	genEnd, _ := cpuTime(0)
	rep.GenCPU = (genEnd - genStart).Seconds() / time.Since(wallStart).Seconds()
	rep.LoadAfter = loadAvg()
	return rep, nil
}

// plan builds the callers: room r holds callers r·R … r·R+R-1, the first K
// of them talkers.
func plan(o Options, bridge bool) []*caller {
	cs := make([]*caller, o.Calls)
	tones := map[float64][]byte{}
	for i := range cs {
		c := &caller{id: i, room: i / o.PerRoom, talker: -1, sock: i % o.Sockets}
		if k := i % o.PerRoom; k < o.Talkers {
			c.talker = k
			c.freq = freqOf(c.room, k, o.Talkers)
			if tones[c.freq] == nil {
				pcm := make([]int16, frame)
				audiotest.Tone(c.freq, toneAmp, 8000).Fill(pcm)
				enc := make([]byte, frame)
				audiotest.Encode("PCMU", enc, pcm)
				tones[c.freq] = enc
			}
			c.tone = tones[c.freq]
			c.phase = (c.room*7 + k*25) % toneCycle
		}
		cs[i] = c
	}
	rooms := (o.Calls + o.PerRoom - 1) / o.PerRoom
	talkersOf := func(r int) []*caller {
		var ts []*caller
		for i := r * o.PerRoom; i < min((r+1)*o.PerRoom, o.Calls); i++ {
			if cs[i].talker >= 0 {
				ts = append(ts, cs[i])
			}
		}
		return ts
	}
	// Sampled rooms spread over the range; in each, the first talker and
	// (bridge) the first silent caller listen.
	var picks []*caller
	step := max(1, rooms/max(1, o.Sample/2))
	for r := 0; r < rooms && len(picks) < o.Sample; r += step {
		base := r * o.PerRoom
		if base < o.Calls && cs[base].talker >= 0 {
			picks = append(picks, cs[base])
		}
		if bridge && base+o.Talkers < min(base+o.PerRoom, o.Calls) && len(picks) < o.Sample {
			picks = append(picks, cs[base+o.Talkers])
		}
	}
	for _, c := range picks {
		ls := &listener{}
		own := talkersOf(c.room)
		var foreign []*caller
		for _, r := range []int{c.room - 1, c.room + 1} {
			if r >= 0 && r < rooms {
				foreign = append(foreign, talkersOf(r)...)
			}
		}
		if bridge { // the room's other talkers, never oneself
			for _, t := range own {
				if t != c {
					ls.expect = append(ls.expect, t)
				}
			}
			if c.talker >= 0 {
				ls.forbid = append(ls.forbid, c.freq)
			}
		} else { // the reflector returns one's own tone only
			ls.expect = []*caller{c}
			for _, t := range own {
				if t != c {
					foreign = append(foreign, t)
				}
			}
		}
		for _, t := range foreign {
			if !slices.ContainsFunc(ls.expect, func(e *caller) bool { return e.freq == t.freq }) && !slices.Contains(ls.forbid, t.freq) {
				ls.forbid = append(ls.forbid, t.freq)
			}
		}
		ls.heard = make([]int, len(ls.expect))
		ls.on = make([]bool, len(ls.expect))
		ls.leakMax = -200
		c.listen = ls
	}
	return cs
}

// window runs the warm-up and the measurement window over m, calling
// before and after at its edges; it returns the window's length.
func window(ctx context.Context, o Options, m *media, before, after func()) (time.Duration, error) {
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(o.Warmup):
	}
	before()
	start := time.Now()
	for _, c := range m.callers {
		if c.listen != nil {
			c.listen.minSince = start.UnixNano()
		}
	}
	m.winStart.Store(start.UnixNano())
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(o.Duration):
	}
	end := time.Now()
	m.winEnd.Store(end.UnixNano())
	after()
	return end.Sub(start), nil
}

// collect fills t's packet, delay and audio figures after the readers stopped.
func collect(t *Target, m *media, win time.Duration) {
	var active int
	var delays []time.Duration
	for _, c := range m.callers {
		if c.dst.Load() != nil {
			active++
		}
		t.PacketsReceived += c.rxPackets
		t.SeqGaps += c.rxGaps
		ls := c.listen
		if ls == nil || c.dst.Load() == nil {
			continue
		}
		t.Audio.Listeners++
		delays = append(delays, ls.delays...)
		var why []string
		for i, e := range ls.expect {
			if ls.frames == 0 || float64(ls.heard[i]) < 0.25*float64(ls.frames) {
				why = append(why, fmt.Sprintf("%.0f Hz heard in %d/%d frames", e.freq, ls.heard[i], ls.frames))
			}
		}
		if float64(ls.leaked) > 0.01*float64(ls.frames) {
			why = append(why, fmt.Sprintf("foreign or own tone in %d/%d frames (max %.1f dBFS)", ls.leaked, ls.frames, ls.leakMax))
		}
		if why == nil {
			t.Audio.Passed++
		} else {
			t.Audio.Failures = append(t.Audio.Failures, fmt.Sprintf("caller %d (room %d): %s", c.id, c.room, strings.Join(why, "; ")))
		}
	}
	t.Calls = active
	t.PacketsExpected = uint64(active) * uint64(win/ptime)
	if t.PacketsExpected > 0 {
		t.Delivered = float64(t.PacketsReceived) / float64(t.PacketsExpected)
	}
	t.Delay, t.DelaySamples = quantiles(delays), len(delays)
	t.GenLateTicks, t.GenSendErrors, t.StrayPackets = m.genLate.Load(), m.sendErrors.Load(), m.stray.Load()
}

func quantiles(ds []time.Duration) Quantile {
	if len(ds) == 0 {
		return Quantile{P50: Seconds(math.NaN()), P99: Seconds(math.NaN()), Max: Seconds(math.NaN())}
	}
	slices.Sort(ds)
	at := func(q float64) Seconds { return Seconds(ds[min(len(ds)-1, int(q*float64(len(ds))))].Seconds()) }
	return Quantile{P50: at(0.5), P99: at(0.99), Max: Seconds(ds[len(ds)-1].Seconds())}
}

// measureCPU fills the CPU and RSS figures of pid over [a, b].
func measureCPU(t *Target, pid int, a, b time.Duration, win time.Duration, waited time.Duration) {
	t.RunQueueWait = waited.Seconds() / win.Seconds()
	cpu := (b - a).Seconds()
	t.CPUSeconds = cpu
	t.CPUCores = cpu / win.Seconds()
	if t.Calls > 0 {
		t.CPUPerParticipantS = cpu / (float64(t.Calls) * win.Seconds()) * 1e6
	}
	if rss, err := rssBytes(pid); err == nil {
		t.RSSBytes = rss
	}
}

// command runs the bridge binary with args, pinned when asked.
func command(ctx context.Context, o Options, args ...string) *exec.Cmd {
	name := o.Binary
	if o.TargetCPUs != "" {
		args = append([]string{"-c", o.TargetCPUs, o.Binary}, args...)
		name = "taskset"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	cmd.SysProcAttr = childAttrs() // never outlive the benchmark
	return cmd
}

func runFloor(ctx context.Context, o Options) (*Target, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	floorIO := o.FloorIO
	if floorIO == "" {
		floorIO = "poll"
	}
	cmd := command(ctx, o, "loadtest", "reflect", "-n", strconv.Itoa(o.Calls), "-io", floorIO)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = o.BridgeLog
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start reflector: %w", err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	var ports []int
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err == nil {
		err = json.Unmarshal([]byte(line), &ports)
	}
	if err != nil || len(ports) != o.Calls {
		return nil, fmt.Errorf("reflector did not report %d ports: %v", o.Calls, err)
	}
	callers := plan(o, false)
	m, err := newMedia(netip.MustParseAddr("127.0.0.1"), o.Sockets, callers, false) // the reflector's ports tell legs apart
	if err != nil {
		return nil, err
	}
	mctx, stop := context.WithCancel(ctx)
	m.run(mctx)
	for i, c := range callers {
		m.activate(c, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(ports[i])))
	}
	o.Logger.Info("floor: reflector up", "legs", o.Calls)
	t := &Target{Name: "floor (reflector, " + floorIO + ")"}
	var c0, c1, w0, w1 time.Duration
	win, err := window(ctx, o, m,
		func() { c0, _ = cpuTime(cmd.Process.Pid); w0 = runDelay(cmd.Process.Pid) },
		func() { c1, _ = cpuTime(cmd.Process.Pid); w1 = runDelay(cmd.Process.Pid) })
	stop()
	m.wait()
	if err != nil {
		return nil, err
	}
	collect(t, m, win)
	t.PacketsExpected = m.sentInWindow.Load() // an echo of what was sent
	if t.PacketsExpected > 0 {
		t.Delivered = float64(t.PacketsReceived) / float64(t.PacketsExpected)
	}
	measureCPU(t, cmd.Process.Pid, c0, c1, win, w1-w0)
	return t, nil
}

// machineCores counts the machine's processors (runtime.NumCPU only
// sees the ones this process may use, one under taskset).
func machineCores() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "processor") {
			n++
		}
	}
	return max(n, 1)
}

func freePort(network string) (int, error) {
	switch network {
	case "udp":
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port, nil
	}
}

func runBridge(ctx context.Context, o Options) (*Target, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sipPort, err := freePort("udp")
	if err != nil {
		return nil, err
	}
	adminPort, err := freePort("tcp")
	if err != nil {
		return nil, err
	}
	// Every call comes from one address, which the bridge counts as the
	// creator of every room (conference.max_rooms_per_creator).
	lo := 16384
	hi := min(lo+2*o.Calls+4000, 65000)
	dir, err := os.MkdirTemp("", "loadtest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cfg := fmt.Sprintf(`sip:
  listen: ["udp:127.0.0.1:%d"]
  advertised_ip: 127.0.0.1
  ack_timeout: 32s
rtp:
  ports: "%d-%d"
  bind_ip: 127.0.0.1
  timeout: 0s%s
xmpp:
  mode: "off"
conference:
  max_rooms_per_creator: %d
admin:
  listen: 127.0.0.1:%d%s
store:
  path: ":memory:"
log:
  level: warn
%s`, sipPort, lo, hi, rtpMode(o.Mode), (o.Calls+o.PerRoom-1)/o.PerRoom+1, adminPort, pprofKey(o.ProfileDir != ""), o.ExtraConfig)
	path := filepath.Join(dir, "bridge.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	cmd := command(ctx, o, "serve", "--config", path)
	cmd.Stdout, cmd.Stderr = o.BridgeLog, o.BridgeLog
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start bridge: %w", err)
	}
	pid := cmd.Process.Pid
	defer func() { cancel(); _ = cmd.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	if err := waitReady(ctx, base+"/readyz", 20*time.Second); err != nil {
		return nil, err
	}
	callers := plan(o, true)
	ip := netip.MustParseAddr("127.0.0.1")
	m, err := newMedia(ip, o.Sockets, callers, o.DistinctAddrs)
	if err != nil {
		return nil, err
	}
	mctx, stopMedia := context.WithCancel(ctx)
	defer stopMedia()
	m.run(mctx)
	d, err := newDialer(ip, netip.AddrPortFrom(ip, uint16(sipPort)), "loadtest.invalid")
	if err != nil {
		return nil, err
	}
	defer d.close()
	t := &Target{Name: "bridge"}
	sessions, setup := storm(ctx, o, d, m)
	t.Setup = setup
	o.Logger.Info("bridge: calls set up", "answered", setup.Answered, "of", setup.Invites, "wall", setup.Wall)
	var c0, c1, w0, w1 time.Duration
	var s0, s1 scrape
	var e0, e1 error
	var profiles sync.WaitGroup
	win, err := window(ctx, o, m,
		func() {
			c0, _ = cpuTime(pid)
			w0 = runDelay(pid)
			s0, e0 = fetchMetrics(ctx, base+"/metrics")
			if o.ProfileDir != "" {
				secs := max(1, int(o.Duration.Seconds())-1)
				profiles.Go(func() {
					save(ctx, o.Logger, base+"/debug/pprof/profile?seconds="+strconv.Itoa(secs), filepath.Join(o.ProfileDir, "cpu.pprof"))
				})
				profiles.Go(func() {
					save(ctx, o.Logger, base+"/debug/pprof/trace?seconds=3", filepath.Join(o.ProfileDir, "trace.out"))
				})
			}
		},
		func() { c1, _ = cpuTime(pid); w1 = runDelay(pid); s1, e1 = fetchMetrics(ctx, base+"/metrics") })
	profiles.Wait()
	stopMedia()
	m.wait()
	if err != nil {
		return t, err
	}
	collect(t, m, win)
	measureCPU(t, pid, c0, c1, win, w1-w0)
	if e := errors.Join(e0, e1); e != nil {
		t.Errors = append(t.Errors, e.Error())
	} else {
		tk, lt := s1.tick.sub(s0.tick), s1.late.sub(s0.late)
		t.Mixer = &Mixer{Ticks: tk.count, Skipped: s1.skipped - s0.skipped,
			Duration:   Quantile{P50: Seconds(tk.quantile(0.5)), P99: Seconds(tk.quantile(0.99)), Max: Seconds(tk.maxBound())},
			Lateness:   Quantile{P50: Seconds(lt.quantile(0.5)), P99: Seconds(lt.quantile(0.99)), Max: Seconds(lt.maxBound())},
			PacketsOut: s1.rtp["out"] - s0.rtp["out"], PacketsIn: s1.rtp["in"] - s0.rtp["in"],
			PacketsDrops: s1.rtp["dropped"] - s0.rtp["dropped"]}
	}
	hangup(ctx, sessions)
	return t, nil
}

// storm places every call at o.Rate INVITEs a second (at most
// o.Concurrency in flight) and starts each caller's media on its answer.
func storm(ctx context.Context, o Options, d *dialer, m *media) ([]*sipgo.DialogClientSession, *Setup) {
	s := &Setup{Invites: len(m.callers), Failed: map[string]int{}, Rate: o.Rate}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		sessions []*sipgo.DialogClientSession
		times    []time.Duration
		lastDone time.Time
	)
	slots := make(chan struct{}, o.Concurrency)
	start := time.Now()
	for i, c := range m.callers {
		if o.Rate > 0 {
			due := start.Add(time.Duration(float64(i) / o.Rate * float64(time.Second)))
			if w := time.Until(due); w > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(w):
				}
			}
		}
		if ctx.Err() != nil {
			break
		}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			cctx, cancel := context.WithTimeout(ctx, 32*time.Second)
			defer cancel()
			t0 := time.Now()
			sess, dst, err := d.call(cctx, c.id, "room"+strconv.Itoa(c.room), m.addr(c))
			dt := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if sess != nil {
				sessions = append(sessions, sess)
			}
			if err != nil {
				s.Failed[err.Error()]++
				return
			}
			s.Answered++
			times = append(times, dt)
			lastDone = time.Now()
			m.activate(c, dst)
		}()
	}
	wg.Wait()
	if !lastDone.IsZero() {
		s.Wall = lastDone.Sub(start).Seconds()
	}
	s.Time = quantiles(times)
	if len(s.Failed) == 0 {
		s.Failed = nil
	}
	return sessions, s
}

// hangup BYEs every call, 100 at a time, within a bound.
func hangup(ctx context.Context, sessions []*sipgo.DialogClientSession) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	slots := make(chan struct{}, 100)
	var wg sync.WaitGroup
	for _, s := range sessions {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			_ = s.Bye(ctx)
			s.Close()
		}()
	}
	wg.Wait()
}

func waitReady(ctx context.Context, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("bridge not ready at %s within %v", url, within)
}

// save writes the body of GET url to path (profiles; errors only logged
// by the absence of the file).
func save(ctx context.Context, log *slog.Logger, url, path string) {
	err := func() error {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, res.Status)
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, res.Body); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}()
	if err != nil {
		log.Warn("profile not saved", "path", path, "err", err)
	}
}

// pprofKey turns admin.pprof on when profiling (and stays out of the
// configuration otherwise, so older binaries can be measured too).
func pprofKey(on bool) string {
	if on {
		return "\n  pprof: true"
	}
	return ""
}

// rtpMode is the rtp.mode line of the generated configuration.
func rtpMode(mode string) string {
	if mode == "" {
		return ""
	}
	return "\n  mode: " + mode
}
