// Command bridge is the cusax-bridge binary: `bridge serve` runs the SIP
// focus, the mixer, the MUC component and the admin endpoint on one
// conference core; `bridge version` prints the build. This package only
// parses flags and wires the other packages together.
package main
