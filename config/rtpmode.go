package config

import "runtime"

// validateRTPMode checks rtp.mode.
func (c *Config) validateRTPMode() error {
	switch c.RTP.Mode {
	case "per_call":
	case "shared":
		if runtime.GOOS != "linux" {
			return bad("rtp.mode", c.RTP.Mode, "shared needs Linux (SO_REUSEPORT, recvmmsg)")
		}
	default:
		return bad("rtp.mode", c.RTP.Mode, "must be per_call or shared")
	}
	return nil
}
