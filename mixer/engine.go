package mixer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"cusax.dev/bridge/metrics"
)

// Errors returned by the engine and its legs.
var (
	// ErrPortsExhausted means no RTP/RTCP port pair of the range could be
	// bound; the focus answers 503 with Retry-After.
	ErrPortsExhausted = errors.New("mixer: no free RTP port pair")
	// ErrClosed is returned by operations on a closed leg or engine.
	ErrClosed = errors.New("mixer: closed")
	// ErrNotStarted is returned by Update on a leg that was never started.
	ErrNotStarted = errors.New("mixer: leg not started")
	// ErrFamily is returned by AllocateFor for a peer of an address family
	// the engine does not bind; the focus answers 488 (Warning 301).
	ErrFamily = errors.New("mixer: no RTP address of the peer's family")
)

// Config configures an Engine. Zero fields take the documented defaults.
type Config struct {
	BindIP netip.Addr // address the RTP/RTCP sockets bind to; default 0.0.0.0
	// BindIPAlt binds legs of the other address family too (dual-stack
	// media): IPv6 when BindIP is IPv4, or the reverse; zero: one family.
	BindIPAlt        netip.Addr
	PortMin, PortMax int           // inclusive port range; RTP uses its even ports P, RTCP P+1; default 10000-20000
	SampleRate       int           // mixing rate in Hz; default 8000 (the only rate G.711 needs)
	Ptime            time.Duration // packetisation interval and clock period; default 20 ms
	MaxSpeakers      int           // 0 mixes every talker; K > 0 only the K loudest
	SpeechThreshold  float64       // energy gate in dBov (RMS against full scale); default -40
	GateHangover     time.Duration // how long the gate stays open after speech; default 300 ms
	RTCPInterval     time.Duration // mean RTCP report interval (randomised ×0.5–1.5); default 5 s
	CNAME            string        // RTCP SDES CNAME; default "cusax-bridge-" + random hex
	Metrics          *metrics.Metrics
	Logger           *slog.Logger

	// RelatchQuiet is how long the latched RTP source of a leg must have
	// sent nothing before another source may take the latch over (a NAT
	// mapping that changed mid-call); default 1 s, at least 2 Ptime;
	// negative never moves a latch (strict latching).
	RelatchQuiet time.Duration
	// RelatchPackets is how many consecutive packets (sequence numbers
	// n, n+1, …, the same SSRC as the stream, a negotiated payload type)
	// that new source must send after the quiet interval; default 4, at least 2.
	RelatchPackets int

	// StrictSource (rtp.strict_source) accepts media only from the SDP
	// address's IP: no learning of another source (admit.go).
	StrictSource bool
	// LearnWindow is how long after Start or an Update a leg may latch to
	// a source other than the SDP address; default DefaultLearnWindow.
	LearnWindow time.Duration
	// UnheardTimeout stops sending to an address the leg never heard from
	// this long after Start or an Update; default DefaultUnheardTimeout.
	UnheardTimeout time.Duration

	// Shared (rtp.mode: shared) puts every leg of a family on one port
	// (the range's first even port), demultiplexed by the exact SDP
	// source address, with batched I/O (shared.go). Linux only.
	Shared bool
}

func (c Config) withDefaults() (Config, error) {
	if !c.BindIP.IsValid() {
		c.BindIP = netip.IPv4Unspecified()
	}
	c.BindIP, c.BindIPAlt = c.BindIP.Unmap(), c.BindIPAlt.Unmap()
	if c.BindIPAlt.IsValid() && c.BindIPAlt.Is4() == c.BindIP.Is4() {
		return c, fmt.Errorf("mixer: bind addresses %v and %v are of one family", c.BindIP, c.BindIPAlt)
	}
	if c.PortMin == 0 && c.PortMax == 0 {
		c.PortMin, c.PortMax = 10000, 20000
	}
	if c.SampleRate == 0 {
		c.SampleRate = 8000
	}
	if c.Ptime == 0 {
		c.Ptime = 20 * time.Millisecond
	}
	if c.SpeechThreshold == 0 {
		c.SpeechThreshold = -40
	}
	if c.GateHangover == 0 {
		c.GateHangover = 300 * time.Millisecond
	}
	if c.RTCPInterval == 0 {
		c.RTCPInterval = 5 * time.Second
	}
	if c.RelatchQuiet == 0 {
		c.RelatchQuiet = time.Second
	}
	if c.RelatchPackets == 0 {
		c.RelatchPackets = 4
	}
	if c.LearnWindow <= 0 {
		c.LearnWindow = DefaultLearnWindow
	}
	if c.UnheardTimeout <= 0 {
		c.UnheardTimeout = DefaultUnheardTimeout
	}
	if c.CNAME == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		c.CNAME = "cusax-bridge-" + hex.EncodeToString(b[:])
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.PortMin < 1 || c.PortMax > 65535 || c.PortMin > c.PortMax:
		return c, fmt.Errorf("mixer: port range %d-%d invalid", c.PortMin, c.PortMax)
	case pairCount(c.PortMin, c.PortMax) == 0:
		return c, fmt.Errorf("mixer: port range %d-%d holds no even/odd pair", c.PortMin, c.PortMax)
	case c.SampleRate != 8000:
		return c, fmt.Errorf("mixer: sample rate %d not supported (G.711 mixes at 8000)", c.SampleRate)
	case c.Ptime < 10*time.Millisecond || c.Ptime > 60*time.Millisecond || c.Ptime%(10*time.Millisecond) != 0:
		return c, fmt.Errorf("mixer: ptime %v not supported (10, 20, … 60 ms)", c.Ptime)
	case c.MaxSpeakers < 0:
		return c, fmt.Errorf("mixer: max speakers %d negative", c.MaxSpeakers)
	case c.SpeechThreshold > 0:
		return c, fmt.Errorf("mixer: speech threshold %v dBov above full scale", c.SpeechThreshold)
	case c.RTCPInterval < time.Millisecond:
		return c, fmt.Errorf("mixer: RTCP interval %v too short", c.RTCPInterval)
	case c.RelatchQuiet > 0 && c.RelatchQuiet < 2*c.Ptime:
		return c, fmt.Errorf("mixer: re-latch quiet interval %v shorter than two packets (%v)", c.RelatchQuiet, 2*c.Ptime)
	case c.RelatchPackets < 2:
		return c, fmt.Errorf("mixer: re-latch run of %d packets (at least 2)", c.RelatchPackets)
	}
	return c, nil
}

// firstEven is the lowest even port ≥ min; pairs are (P, P+1) with P+1 ≤ max.
func firstEven(min int) int { return min + min%2 }

func pairCount(min, max int) int {
	p := firstEven(min)
	if p+1 > max {
		return 0
	}
	return (max-p-1)/2 + 1
}

// meters caches the metric children the hot paths touch; all nil without
// metrics.
type meters struct {
	in, out, dropped, lost, skipped, dtmf prometheus.Counter
	stranger, unheard                     prometheus.Counter // security refusals
	jitter, tick, lateness                prometheus.Histogram
	ports                                 prometheus.Gauge
}

func newMeters(m *metrics.Metrics) meters {
	if m == nil {
		return meters{}
	}
	return meters{
		in:       m.RTPPackets.WithLabelValues("in"),
		out:      m.RTPPackets.WithLabelValues("out"),
		dropped:  m.RTPPackets.WithLabelValues("dropped"),
		lost:     m.RTPPacketsLost,
		skipped:  m.MixerTicksLate,
		dtmf:     m.DTMFEvents,
		jitter:   m.RTPJitter,
		tick:     m.MixerTick,
		lateness: m.MixerLateness,
		ports:    m.RTPPortsInUse,
		stranger: m.Security.Refusals.WithLabelValues(metrics.RefuseRTPStranger),
		unheard:  m.Security.Refusals.WithLabelValues(metrics.RefuseRTPUnheard),
	}
}

func add(c prometheus.Counter, n int) {
	if c != nil && n > 0 {
		c.Add(float64(n))
	}
}

func observe(h prometheus.Histogram, v float64) {
	if h != nil {
		h.Observe(v)
	}
}

// Engine owns the port range, the rooms and the clock that mixes them.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	m     meters
	frame int // samples per frame
	mix   mixer

	mu      sync.Mutex
	used    []bool // per port pair
	next    int    // round-robin start of the pair search
	inUse   int
	legs    map[*Leg]struct{}
	rooms   map[string]*room
	closed  bool
	running bool

	pollers  []*poller               // RTP readers, started by the first Allocate (Linux)
	shared   [2]*sharedSet           // shared mode: IPv4, IPv6 port (shared.go)
	snapshot atomic.Pointer[[]*room] // rooms for the clock, replaced on change

	// the clock's tick, shared with its workers (see tickWorker)
	workers     []*tickWorker
	workDone    chan struct{}
	tickAt      time.Time
	tickSkipped int
	tickRooms   []*room
	tickPhase   int     // 0: rooms, 1: fan-out chunks of large rooms
	chunks      []chunk // reused every tick
	nextItem    atomic.Int64
	done        chan struct{}  // closed by Close
	wg          sync.WaitGroup // every leg goroutine
}

// New validates cfg and returns an engine. No socket is opened until Allocate.
func New(cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	frame := int(int64(cfg.SampleRate) * int64(cfg.Ptime) / int64(time.Second))
	e := &Engine{
		cfg:   cfg,
		log:   cfg.Logger, // the wiring names the component
		m:     newMeters(cfg.Metrics),
		frame: frame,
		used:  make([]bool, pairCount(cfg.PortMin, cfg.PortMax)),
		legs:  make(map[*Leg]struct{}),
		rooms: make(map[string]*room),
		done:  make(chan struct{}),
	}
	e.mix = newMixer(frame, cfg)
	e.mix.write = writeUDP
	e.snapshot.Store(&[]*room{})
	return e, nil
}

// newMixer builds the per-tick mixing state from a validated config.
func newMixer(frame int, cfg Config) mixer {
	rms := 32768 * math.Pow(10, cfg.SpeechThreshold/20)
	return mixer{
		frame:       frame,
		maxSpeakers: cfg.MaxSpeakers,
		gateEnergy:  int64(rms * rms * float64(frame)),
		hangTicks:   int((cfg.GateHangover + cfg.Ptime - 1) / cfg.Ptime),
	}
}

// FrameSamples is the number of samples per frame (SampleRate × Ptime).
func (e *Engine) FrameSamples() int { return e.frame }

// PortsInUse is the number of RTP ports (each with its RTCP port+1)
// currently allocated to legs.
func (e *Engine) PortsInUse() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.inUse
}

// Allocate binds a free RTP/RTCP port pair on Config.BindIP and returns a
// leg that is not yet started. Ports that another process holds are
// skipped; if no pair can be bound it returns ErrPortsExhausted.
func (e *Engine) Allocate() (*Leg, error) { return e.allocate(e.cfg.BindIP) }

// AllocateFor is Allocate on the bind address of peer's family (IPv4 for
// IPv4-mapped addresses); ErrFamily when the engine binds none.
func (e *Engine) AllocateFor(peer netip.Addr) (*Leg, error) {
	ip, ok := e.BindAddr(peer.Unmap().Is6())
	if !ok {
		return nil, ErrFamily
	}
	return e.allocate(ip)
}

// BindAddr is the address legs of a family bind to (IPv6 when v6).
func (e *Engine) BindAddr(v6 bool) (netip.Addr, bool) {
	for _, ip := range []netip.Addr{e.cfg.BindIP, e.cfg.BindIPAlt} {
		if ip.IsValid() && ip.Is6() == v6 {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

func (e *Engine) allocate(ip netip.Addr) (*Leg, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if e.cfg.Shared {
		return e.allocateShared(ip)
	}
	e.startPollers()
	base := firstEven(e.cfg.PortMin)
	for i := range e.used {
		idx := (e.next + i) % len(e.used)
		if e.used[idx] {
			continue
		}
		port := base + 2*idx
		rtpConn, rtcpConn, err := e.bindPair(ip, port)
		if err != nil {
			e.log.Debug("RTP port pair unavailable", "port", port, "err", err)
			continue
		}
		e.used[idx] = true
		e.next = (idx + 1) % len(e.used)
		e.inUse++
		if e.m.ports != nil {
			e.m.ports.Set(float64(e.inUse))
		}
		l := newLeg(e, port, rtpConn, rtcpConn)
		e.legs[l] = struct{}{}
		return l, nil
	}
	return nil, ErrPortsExhausted
}

// allocateShared returns a leg on the shared port of ip's family; e.mu held.
func (e *Engine) allocateShared(ip netip.Addr) (*Leg, error) {
	s, err := e.sharedFor(ip)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPortsExhausted, err)
	}
	l := newLeg(e, s.port, nil, nil)
	l.sh, l.rtpConn, l.rtcpConn = s, s.conns[0], s.rtcp[0]
	e.inUse++
	if e.m.ports != nil {
		e.m.ports.Set(float64(e.inUse))
	}
	e.legs[l] = struct{}{}
	return l, nil
}

func (e *Engine) bindPair(ip netip.Addr, port int) (*net.UDPConn, *net.UDPConn, error) {
	network := "udp4"
	if ip.Is6() {
		network = "udp6"
	}
	a, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
	if err != nil {
		return nil, nil, fmt.Errorf("bind RTP port %d: %w", port, err)
	}
	b, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port+1))))
	if err != nil {
		a.Close()
		return nil, nil, fmt.Errorf("bind RTCP port %d: %w", port+1, err)
	}
	return a, b, nil
}

// startPollers starts one RTP poller per GOMAXPROCS, once; e.mu held.
// Without pollers (another system, or epoll failing) every leg reads its
// socket from its own goroutine.
func (e *Engine) startPollers() {
	if e.pollers != nil || !pollSupported {
		return
	}
	n := max(1, runtime.GOMAXPROCS(0))
	e.pollers = make([]*poller, 0, n)
	for range n {
		p, err := newPoller(e, len(e.used))
		if err != nil {
			e.log.Warn("RTP poller unavailable: one reader per leg", "err", err)
			break
		}
		e.pollers = append(e.pollers, p)
		e.wg.Add(1)
		go p.run()
	}
}

// drainRounds bounds a drain: each round reads at most one datagram from
// every ready socket (pollers) or one batch (shared sockets).
const drainRounds = 4

// drainPollers reads what every poller's sockets hold, on the clock (see
// poller): with one P the poller goroutine and the clock otherwise race
// for each packet, and the clock often wins.
func (e *Engine) drainPollers() {
	e.mu.Lock()
	ps := e.pollers
	e.mu.Unlock()
	for _, p := range ps {
		p.drain()
	}
}

// pollerFor is the poller of a port-pair index; nil when legs read alone.
func (e *Engine) pollerFor(idx int) *poller {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.pollers) == 0 || e.closed {
		return nil
	}
	return e.pollers[idx%len(e.pollers)]
}

// pairIndex is the index of a leg's port pair in e.used.
func (e *Engine) pairIndex(port int) int { return (port - firstEven(e.cfg.PortMin)) / 2 }

// release frees the port pair of a closed leg.
func (e *Engine) release(l *Leg) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.legs[l]; !ok {
		return
	}
	delete(e.legs, l)
	if l.sh == nil {
		e.used[e.pairIndex(l.port)] = false
	}
	e.inUse--
	if e.m.ports != nil {
		e.m.ports.Set(float64(e.inUse))
	}
}

// join adds a started leg to the named room, creating the room.
func (e *Engine) join(l *Leg, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	r := e.rooms[name]
	if r == nil {
		r = newRoom(name, e.frame)
		e.rooms[name] = r
	}
	r.setMembers(append(r.members[:len(r.members):len(r.members)], l))
	e.publish()
	return nil
}

// leave removes a leg from its room; an empty room vanishes.
func (e *Engine) leave(l *Leg, name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.rooms[name]
	if r == nil {
		return
	}
	members := make([]*Leg, 0, len(r.members))
	for _, m := range r.members {
		if m != l {
			members = append(members, m)
		}
	}
	r.setMembers(members)
	if len(members) == 0 {
		delete(e.rooms, name)
	}
	e.publish()
}

// publish hands the clock a fresh room list; called with e.mu held.
func (e *Engine) publish() {
	rs := make([]*room, 0, len(e.rooms))
	for _, r := range e.rooms {
		rs = append(rs, r)
	}
	e.snapshot.Store(&rs)
}

// Rooms returns the names of the rooms that currently have legs.
func (e *Engine) Rooms() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	names := make([]string, 0, len(e.rooms))
	for n := range e.rooms {
		names = append(names, n)
	}
	return names
}

// Run drives the clock for every room: one tick per Ptime on absolute
// deadlines, so it does not drift. When it falls more than one tick behind
// it skips the missed ticks (counted in MixerTicksLate) and advances every
// stream by the skipped time. It returns when ctx ends (nil) or the engine
// is closed (ErrClosed). Only one Run may be active.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	switch {
	case e.closed:
		e.mu.Unlock()
		return ErrClosed
	case e.running:
		e.mu.Unlock()
		return errors.New("mixer: Run already active")
	}
	e.running = true
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.running = false
		e.mu.Unlock()
	}()

	stopWorkers := e.startWorkers()
	defer stopWorkers()
	ptime := e.cfg.Ptime
	next := time.Now().Add(ptime)
	timer := time.NewTimer(ptime)
	defer timer.Stop()
	for {
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return nil
		case <-e.done:
			return ErrClosed
		case <-timer.C:
		}
		now := time.Now()
		skipped, late, due := schedule(next, now, ptime)
		add(e.m.skipped, skipped)
		observe(e.m.lateness, late.Seconds())
		if len(e.workers) == 0 {
			e.drainPollers()
			e.drainShared()
		}
		e.tick(now, skipped)
		observe(e.m.tick, time.Since(now).Seconds())
		next = due
	}
}

// schedule decides a tick that fired at now for deadline next: how many
// whole ticks were missed (skipped, not replayed), how late this one is
// against its own slot, and the next absolute deadline.
func schedule(next, now time.Time, ptime time.Duration) (skipped int, late time.Duration, due time.Time) {
	late = max(now.Sub(next), 0)
	if late >= ptime {
		skipped = int(late / ptime)
		late -= time.Duration(skipped) * ptime
	}
	return skipped, late, next.Add(time.Duration(skipped+1) * ptime)
}

// Close closes every leg, stops Run and waits for the legs' goroutines. It
// must not be called from a Handlers callback.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.done)
	legs := make([]*Leg, 0, len(e.legs))
	for l := range e.legs {
		legs = append(legs, l)
	}
	e.mu.Unlock()
	var errs []error
	for _, l := range legs {
		if err := l.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	e.mu.Lock()
	for _, p := range e.pollers {
		p.close()
	}
	for _, s := range e.shared {
		if s != nil {
			s.close()
		}
	}
	e.mu.Unlock()
	e.wg.Wait()
	return errors.Join(errs...)
}
