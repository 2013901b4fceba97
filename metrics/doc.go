// Package metrics owns the bridge's Prometheus registry and every metric it
// exports. A *Metrics is built once in cmd/bridge and handed to the packages
// that update it; nothing registers globally. Names start with cusax_ and
// labels are bounded (protocol, method, class, direction, kind, action,
// origin): no room, JID, AOR or Call-ID ever becomes a label.
package metrics
