//go:build race

package snp_test

// raceEnabled: the race detector slows verification fivefold, so the
// byte-by-byte tests sample.
const raceEnabled = true
