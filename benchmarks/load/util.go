package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

func newRequest(ctx context.Context, url string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err == nil {
		req.Header.Set("User-Agent", mixAgents[0])
	}
	return req, err
}

// distinctLines counts the distinct lines of a file.
func distinctLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		seen[sc.Text()] = true
	}
	return len(seen)
}

// cpuStat is the machine-wide "cpu" line of /proc/stat, in ticks.
type cpuStat struct{ total, idle, steal int64 }

func readCPUStat() cpuStat {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuStat{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var s cpuStat
	for i := 1; i < len(f) && i <= 8; i++ { // user nice system idle iowait irq softirq steal
		n, _ := strconv.ParseInt(f[i], 10, 64)
		s.total += n
		switch i {
		case 4, 5: // idle, iowait
			s.idle += n
		case 8:
			s.steal = n
		}
	}
	return s
}

// stealPct is the share of CPU time the hypervisor took since before.
func (s cpuStat) stealPct(before cpuStat) float64 {
	if d := s.total - before.total; d > 0 {
		return 100 * float64(s.steal-before.steal) / float64(d)
	}
	return 0
}

// busyCores is how many cores were busy on average since before (steal excluded).
func (s cpuStat) busyCores(before cpuStat, secs float64) float64 {
	busy := (s.total - before.total) - (s.idle - before.idle) - (s.steal - before.steal)
	return float64(busy) / clockTick / secs
}

// waitQuiet waits, at most max, until the machine has been nearly idle for
// two seconds (the harness's own processes are idle when it is called),
// and returns how long it waited and how busy the last window was.
func waitQuiet(ctx context.Context, limit time.Duration, maxBusy float64) (time.Duration, float64) {
	start := time.Now()
	for {
		s0 := readCPUStat()
		select {
		case <-ctx.Done():
			return time.Since(start), 0
		case <-time.After(2 * time.Second):
		}
		busy := readCPUStat().busyCores(s0, 2)
		if busy <= maxBusy || time.Since(start) >= limit {
			return time.Since(start), busy
		}
	}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// ms formats a duration in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// n0 formats x rounded to an integer with thousands separators.
func n0(x float64) string { return nI(int64(math.Round(x))) }

// nI formats n with thousands separators.
func nI(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
