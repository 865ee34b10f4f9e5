//go:build !race

package snp_test

const raceEnabled = false
