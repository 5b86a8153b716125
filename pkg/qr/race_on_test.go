//go:build race

package qr

// raceEnabled: the race detector allocates, so allocation budgets are
// checked only by a run without -race.
const raceEnabled = true
