//go:build race

package redirect_test

// raceEnabled: the race detector's instrumentation allocates, so allocation
// budgets are checked by `make test`'s separate run without -race.
const raceEnabled = true
