package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"go.yaml.in/yaml/v3"
)

// AddrList is an IP address key that takes one address (`bind_ip:
// 127.0.0.1`) or a list with at most one address of each family
// (`bind_ip: ["127.0.0.1", "::1"]`), for dual-stack media. Empty strings
// in it are ignored.
type AddrList []string

// UnmarshalYAML accepts a scalar or a sequence of scalars.
func (a *AddrList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*a = nil
		if s != "" {
			*a = AddrList{s}
		}
		return nil
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		*a = l
		return nil
	}
	return errors.New("must be an IP address or a list of them")
}

// MarshalYAML writes one address as a scalar.
func (a AddrList) MarshalYAML() (any, error) {
	if len(a) == 0 {
		return "", nil
	}
	if len(a) == 1 {
		return a[0], nil
	}
	return []string(a), nil
}

// String is the list as written in an error message.
func (a AddrList) String() string { return strings.Join(a, ", ") }

// Addrs parses the list: every entry an IP address, at most one IPv4 and
// one IPv6 (IPv4-mapped addresses count as IPv4), in the given order.
func (a AddrList) Addrs() ([]netip.Addr, error) {
	var out []netip.Addr
	var v4, v6 bool
	for _, s := range a {
		if s == "" {
			continue
		}
		ip, err := netip.ParseAddr(s)
		if err != nil || ip.Zone() != "" {
			return nil, fmt.Errorf("%q must be an IP address", s)
		}
		ip = ip.Unmap()
		seen := &v4
		if ip.Is6() {
			seen = &v6
		}
		if *seen {
			return nil, errors.New("at most one address of each family (IPv4, IPv6)")
		}
		*seen = true
		out = append(out, ip)
	}
	return out, nil
}

// First is the first address, or the zero Addr.
func (a AddrList) First() netip.Addr {
	ips, _ := a.Addrs()
	if len(ips) == 0 {
		return netip.Addr{}
	}
	return ips[0]
}

// Other is the address of the other family than First's, or the zero Addr.
func (a AddrList) Other() netip.Addr {
	ips, _ := a.Addrs()
	if len(ips) < 2 {
		return netip.Addr{}
	}
	return ips[1]
}
