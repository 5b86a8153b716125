package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// perfFreq is the sampling frequency of every profile, per CPU.
const perfFreq = 499

// share is a named percentage.
type share struct {
	Name string
	Pct  float64
}

// procProfile is one process's part of a system-wide profile.
type procProfile struct {
	Name    string
	Pct     float64 // of all samples on every CPU
	Areas   []share // of the process's samples
	Symbols []share // of the process's samples, the top ones
}

// profileResult is a system-wide perf profile taken while something ran.
type profileResult struct {
	Title     string
	Command   string
	ByCommand []share // every sample by process name (swapper = idle)
	Procs     []procProfile
	Note      string // what the harness concludes from it, set by the caller
}

func (p profileResult) oneLine() string {
	var parts []string
	for _, s := range p.ByCommand {
		if s.Pct >= 2 {
			parts = append(parts, fmt.Sprintf("%s %.0f%%", s.Name, s.Pct))
		}
	}
	return "CPU by process: " + strings.Join(parts, ", ")
}

// perfAvailable returns "" when perf can sample the whole machine, else why not.
func perfAvailable(ctx context.Context) string {
	if _, err := exec.LookPath("perf"); err != nil {
		return "perf is not installed (apt-get install -y linux-perf)"
	}
	out, err := exec.CommandContext(ctx, "perf", "record", "-F", "99", "-a", "-o", "/dev/null", "--", "sleep", "0.1").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("perf record -a failed: %v: %s", err, firstLine(string(out)))
	}
	return ""
}

// perfRecord samples every CPU for d into file.
func perfRecord(ctx context.Context, file string, d time.Duration) (*exec.Cmd, string, error) {
	args := []string{"record", "-F", strconv.Itoa(perfFreq), "-a", "-o", file, "--", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 1, 64)}
	cmd := exec.CommandContext(ctx, "perf", args...)
	return cmd, shellQuote(append([]string{"perf"}, args...)), cmd.Start()
}

var (
	perfCommLine = regexp.MustCompile(`^\s*([\d.]+)%\s+(.+?)\s*$`)
	perfSymLine  = regexp.MustCompile(`^\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.+?)\s*$`)
)

// analyzeProfile reads file: the share of each process name, then the
// areas and top symbols of the processes named in procs (name -> pid).
func analyzeProfile(ctx context.Context, file string, procs map[string]int) (profileResult, error) {
	var p profileResult
	out, err := exec.CommandContext(ctx, "perf", "report", "-i", file, "--stdio", "--no-children", "--sort", "comm", "-q").Output()
	if err != nil {
		return p, fmt.Errorf("perf report: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if m := perfCommLine.FindStringSubmatch(line); m != nil {
			pct, _ := strconv.ParseFloat(m[1], 64)
			p.ByCommand = append(p.ByCommand, share{m[2], pct})
		}
	}
	names := make([]string, 0, len(procs))
	for name := range procs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		pid := procs[name]
		out, err := exec.CommandContext(ctx, "perf", "report", "-i", file, "--stdio", "--no-children", "--pid", strconv.Itoa(pid),
			"--sort", "dso,sym", "-q", "--percentage", "relative").Output()
		if err != nil {
			return p, fmt.Errorf("perf report --pid %d: %w", pid, err)
		}
		pp := procProfile{Name: name}
		areas := map[string]float64{}
		for _, line := range strings.Split(string(out), "\n") {
			m := perfSymLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			pct, _ := strconv.ParseFloat(m[1], 64)
			dso, kind, sym := m[2], m[3], m[4]
			areas[area(dso, kind, sym)] += pct
			if len(pp.Symbols) < 15 {
				pp.Symbols = append(pp.Symbols, share{shortSym(sym), pct})
			}
		}
		for a, pct := range areas {
			pp.Areas = append(pp.Areas, share{a, pct})
		}
		sort.Slice(pp.Areas, func(i, j int) bool { return pp.Areas[i].Pct > pp.Areas[j].Pct })
		pp.Pct = processShare(ctx, file, pid)
		p.Procs = append(p.Procs, pp)
	}
	return p, nil
}

// processShare is the percentage of all samples that belong to pid.
func processShare(ctx context.Context, file string, pid int) float64 {
	out, err := exec.CommandContext(ctx, "perf", "report", "-i", file, "--stdio", "--no-children", "--pid", strconv.Itoa(pid),
		"--sort", "comm", "-q", "--percentage", "absolute").Output()
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(string(out), "\n") {
		if m := perfCommLine.FindStringSubmatch(line); m != nil {
			pct, _ := strconv.ParseFloat(m[1], 64)
			total += pct
		}
	}
	return total
}

// area groups a symbol into what it is part of.
func area(dso, kind, sym string) string {
	switch {
	case kind == "k" || strings.Contains(dso, "kernel"):
		return "kernel (syscalls, TCP loopback, scheduling)"
	case dso == "[vdso]":
		return "vdso (clock_gettime)"
	case strings.Contains(sym, "valyala/fasthttp"):
		return "fasthttp"
	case strings.Contains(sym, "redis/rueidis"):
		return "rueidis"
	case strings.Contains(sym, "prometheus"):
		return "prometheus client"
	case strings.Contains(sym, "shortener/shortener"):
		return "shortener code"
	case strings.Contains(sym, "ua-parser") || strings.Contains(sym, "regexp"):
		return "user-agent parsing (uap-go, regexp)"
	case strings.HasPrefix(sym, "runtime.") || strings.HasPrefix(sym, "internal/runtime") || strings.HasPrefix(sym, "gc") ||
		strings.HasPrefix(sym, "aeshash") || strings.HasPrefix(sym, "memeqbody") || strings.HasPrefix(sym, "indexbyte"):
		return "Go runtime (scheduler, GC, memmove, maps)"
	case strings.HasPrefix(sym, "syscall.") || strings.HasPrefix(sym, "internal/poll") || strings.HasPrefix(sym, "net.") || strings.HasPrefix(sym, "os."):
		return "Go net/syscall wrappers"
	case strings.HasPrefix(sym, "lua") || strings.Contains(sym, "lua_") || strings.HasPrefix(sym, "luaV") || strings.HasPrefix(sym, "luaH"):
		return "Lua interpreter"
	case strings.HasPrefix(sym, "je_") || strings.Contains(sym, "malloc") || strings.Contains(sym, "free"):
		return "allocator"
	case strings.HasPrefix(sym, "0x"):
		return "unknown (no symbols)"
	}
	if strings.Contains(dso, "redis") {
		return "redis-server"
	}
	if strings.Contains(dso, "libc") {
		return "libc"
	}
	return "other: " + dso
}

// shortSym trims Go package paths from a symbol.
func shortSym(s string) string {
	for _, p := range []string{"github.com/valyala/", "github.com/redis/", "github.com/shortener/shortener/pkg/", "github.com/prometheus/client_golang/"} {
		s = strings.ReplaceAll(s, p, "")
	}
	if len(s) > 90 {
		s = s[:90] + "…"
	}
	return s
}

// profileRun drives s with wrk (zipf) while perf samples the whole machine,
// then reads the profile of procs.
func (h *harness) profileRun(ctx context.Context, dir string, wrk *wrkRunner, s *service, paths string, procs map[string]*proc) (profileResult, wrkResult, error) {
	file := filepath.Join(dir, "perf-"+s.name+".data")
	pcmd, line, err := perfRecord(ctx, file, h.o.profile)
	if err != nil {
		return profileResult{}, wrkResult{}, err
	}
	w, werr := wrk.run(ctx, s.base, paths, h.o.profile+time.Second)
	perr := pcmd.Wait()
	if werr != nil {
		return profileResult{}, w, werr
	}
	if perr != nil {
		return profileResult{}, w, fmt.Errorf("perf record: %w", perr)
	}
	pids := map[string]int{}
	for name, p := range procs {
		pids[name] = p.Pid()
	}
	p, err := analyzeProfile(ctx, file, pids)
	p.Command = line
	h.res.addCommand(line)
	return p, w, err
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
