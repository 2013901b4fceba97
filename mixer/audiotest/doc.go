// Package audiotest holds test helpers for audio assertions, shared by the
// mixer's tests and the end-to-end tests of other packages: a continuous
// tone generator, a Goertzel detector that measures one frequency's level
// in dBFS, G.711 helpers, and Phone, a minimal RTP endpoint on a loopback
// UDP socket that sends a generated signal at real-time pacing (with RFC
// 4733 DTMF on request) and records the audio it receives.
package audiotest
