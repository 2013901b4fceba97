// Package config owns the bridge's YAML configuration: the Config struct,
// its defaults (so that `bridge serve` with no file runs locally), loading
// with unknown keys rejected, and validation whose errors name the key and
// the bad value. It knows nothing of the packages that consume the values.
package config
