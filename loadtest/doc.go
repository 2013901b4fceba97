// Package loadtest is the bridge's load benchmark (`bridge loadtest`,
// `make bench-load`): it places N callers over SIP (sipgo), R per room,
// K talkers per room sending distinct tones and the rest silence, and
// measures, in one run, the bridge and a bare RTP reflector that moves the
// same packets and mixes nothing (the I/O floor):
//
//   - CPU per participant-second of the target process (/proc/PID/stat),
//     and the ratio bridge/floor; RSS (/proc/PID/status);
//   - packets delivered against expected, and sequence gaps;
//   - mixer tick duration and lateness (p50/p99/max, from the histogram
//     buckets of /metrics, so bounded by the bucket edges) and skipped ticks;
//   - the set-up time of the INVITE storm (rate configurable);
//   - mouth-to-ear delay: from the send time of a tone's first packet to
//     the arrival of the first packet in which a sampled listener detects
//     it (Goertzel, mixer/audiotest);
//   - audio: sampled listeners must hear their room's talkers, not their
//     own tone (mix-minus) and not the tones of the neighbouring rooms.
//
// The generator is cheap so it can share the machine with its target: a
// few UDP sockets shared by all callers, batched sends and receives
// (golang.org/x/net/ipv4 WriteBatch/ReadBatch, i.e. sendmmsg/recvmmsg),
// one sender goroutine and one reader per socket; the bridge's streams are
// told apart by their source port (one per leg). Tone frequencies are
// multiples of 100 Hz, so every 20 ms frame holds whole periods and the
// tones sit two Hann-windowed Goertzel bins apart, which do not leak into
// each other; a tone's payload is encoded once and reused.
//
// Tones repeat 1 s on, 0.5 s off; talker k of room r uses frequency
// 400 + 100·((r·K + k) mod 30) Hz. A listener must hear its room's other
// talkers in at least a quarter of the frames, and in at most 1 % of them
// its own tone or a tone of the neighbouring rooms r±1 (rooms 30/K apart
// share tones, so the cross-room check covers neighbours only).
//
// Packets expected: for the bridge, one per leg per 20 ms of the window
// (its clock sends whatever it receives); for the reflector, the packets
// the generator sent in the window (it only echoes).
package loadtest
