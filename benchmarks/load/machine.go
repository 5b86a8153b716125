package main

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// machine describes where the run happened.
type machine struct {
	CPU        string
	Cores      int
	Memory     string
	Kernel     string
	Go         string
	Redis      string
	Wrk        string
	Hypervisor string
}

func machineInfo(ctx context.Context) machine {
	m := machine{Cores: runtime.NumCPU()}
	if out, err := exec.CommandContext(ctx, "lscpu").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			switch strings.TrimSpace(k) {
			case "Model name":
				m.CPU = v
			case "Hypervisor vendor":
				m.Hypervisor = v
			case "CPU(s)":
				if n, err := strconv.Atoi(v); err == nil {
					m.Cores = n
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				m.Memory = strconv.FormatFloat(kb/(1<<20), 'f', 1, 64) + " GiB"
			}
		}
	}
	m.Kernel = cmdLine(ctx, "uname", "-sr")
	m.Go = cmdLine(ctx, "go", "version")
	m.Redis = cmdLine(ctx, "redis-server", "--version")
	m.Wrk = firstLine(cmdLine(ctx, "wrk", "-v"))
	return m
}

// cmdLine returns the first line of a command's output (wrk -v exits 1).
func cmdLine(ctx context.Context, name string, args ...string) string {
	out, _ := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return firstLine(string(out))
}
