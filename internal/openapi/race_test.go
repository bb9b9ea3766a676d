//go:build race

package openapi

// raceEnabled: the race detector makes the large import 5-10 times slower.
const raceEnabled = true
