package main

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

//go:embed bench.lua
var benchLua string

// wrkResult is one wrk run, from the script's WRKRESULT line.
type wrkResult struct {
	Requests                  int64
	Duration                  time.Duration
	Bytes                     int64
	Connect, Read, Write      int64 // socket errors
	Status                    int64 // answers that were not 2xx or 3xx
	Timeout                   int64
	Mean                      time.Duration
	P50, P90, P99, P999, Max  time.Duration
	CPU                       time.Duration // wrk's own CPU time
	Command                   string
	SocketErrorsOrStatusLines string // wrk's own lines about errors, if any
}

// RPS is completed requests per second.
func (w wrkResult) RPS() float64 {
	if w.Duration <= 0 {
		return 0
	}
	return float64(w.Requests) / w.Duration.Seconds()
}

// Errors is every error wrk counted.
func (w wrkResult) Errors() int64 { return w.Connect + w.Read + w.Write + w.Status + w.Timeout }

var wrkLine = regexp.MustCompile(`(?m)^WRKRESULT (.*)$`)

func parseWrk(out string) (wrkResult, error) {
	var w wrkResult
	m := wrkLine.FindStringSubmatch(out)
	if m == nil {
		return w, fmt.Errorf("no WRKRESULT line in wrk output:\n%s", out)
	}
	kv := map[string]float64{}
	for _, f := range strings.Fields(m[1]) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return w, fmt.Errorf("wrk field %s: %w", f, err)
		}
		kv[k] = x
	}
	us := func(k string) time.Duration { return time.Duration(kv[k] * float64(time.Microsecond)) }
	w.Requests, w.Duration, w.Bytes = int64(kv["requests"]), us("duration_us"), int64(kv["bytes"])
	w.Connect, w.Read, w.Write = int64(kv["connect"]), int64(kv["read"]), int64(kv["write"])
	w.Status, w.Timeout = int64(kv["status"]), int64(kv["timeout"])
	w.Mean, w.P50, w.P90, w.P99, w.P999, w.Max = us("mean_us"), us("p50_us"), us("p90_us"), us("p99_us"), us("p999_us"), us("max_us")
	var notes []string
	for _, line := range strings.Split(out, "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "Socket errors") || strings.HasPrefix(t, "Non-2xx") {
			notes = append(notes, t)
		}
	}
	w.SocketErrorsOrStatusLines = strings.Join(notes, "; ")
	return w, nil
}

// wrkRunner runs wrk with the harness's script.
type wrkRunner struct {
	script      string
	threads     int
	connections int
	commands    func(string)
}

func newWrkRunner(dir string, threads, connections int, commands func(string)) (*wrkRunner, error) {
	script := dir + "/bench.lua"
	if err := os.WriteFile(script, []byte(benchLua), 0o644); err != nil {
		return nil, err
	}
	return &wrkRunner{script: script, threads: threads, connections: connections, commands: commands}, nil
}

// run drives baseURL for d with the paths of pathsFile.
func (r *wrkRunner) run(ctx context.Context, baseURL, pathsFile string, d time.Duration) (wrkResult, error) {
	secs := int((d + time.Second/2) / time.Second)
	args := []string{"-t", strconv.Itoa(r.threads), "-c", strconv.Itoa(r.connections), "-d", fmt.Sprintf("%ds", secs),
		"-s", r.script, baseURL, "--", pathsFile, strconv.Itoa(r.threads)}
	cmd := exec.CommandContext(ctx, "wrk", args...)
	line := shellQuote(append([]string{"wrk"}, args...))
	if r.commands != nil {
		r.commands(line)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	w, err := parseWrk(string(out))
	if err != nil {
		return w, err
	}
	w.Command = line
	if st := cmd.ProcessState; st != nil {
		w.CPU = st.UserTime() + st.SystemTime()
	}
	return w, nil
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }
