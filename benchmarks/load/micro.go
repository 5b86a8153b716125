package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// microResult is one line of go test -bench output.
type microResult struct {
	Name     string
	NsPerOp  float64
	BPerOp   int64
	AllocsOp int64
}

var microArgs = []string{"test", "-run", "x", "-bench", "BenchmarkRedirect", "-benchmem", "./pkg/redirect/"}

// micro runs the redirect micro-benchmark and reads allocations per op.
func (h *harness) micro(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "go", microArgs...)
	cmd.Dir = h.root
	h.res.addCommand(shellQuote(append([]string{"go"}, microArgs...)))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go test -bench: %w\n%s", err, out)
	}
	h.res.Micro = parseBench(string(out))
	if len(h.res.Micro) == 0 {
		return fmt.Errorf("no benchmark results in:\n%s", out)
	}
	for _, m := range h.res.Micro {
		h.logf("%s: %.1f ns/op, %d B/op, %d allocs/op", m.Name, m.NsPerOp, m.BPerOp, m.AllocsOp)
	}
	return nil
}

var benchRe = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op\s+(\d+) B/op\s+(\d+) allocs/op`)

func parseBench(out string) []microResult {
	var res []microResult
	for _, line := range strings.Split(out, "\n") {
		m := benchRe.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		ns, _ := strconv.ParseFloat(m[2], 64)
		b, _ := strconv.ParseInt(m[3], 10, 64)
		a, _ := strconv.ParseInt(m[4], 10, 64)
		res = append(res, microResult{Name: m[1], NsPerOp: ns, BPerOp: b, AllocsOp: a})
	}
	return res
}
