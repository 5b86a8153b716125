package main

import (
	"testing"
	"time"
)

// Parsers of the tools' output. These tests start nothing.

func TestParseWrk(t *testing.T) {
	out := "Running 5s test @ http://127.0.0.1:1\n  Non-2xx or 3xx responses: 3\n" +
		"WRKRESULT requests=500000 duration_us=5000000 bytes=100 connect=0 read=1 write=0 status=3 timeout=0 " +
		"mean_us=640.5 p50_us=400 p90_us=900 p99_us=4100 p999_us=7000 max_us=12000\n"
	w, err := parseWrk(out)
	if err != nil {
		t.Fatalf("parseWrk: %v", err)
	}
	if w.RPS() != 100000 || w.P99 != 4100*time.Microsecond || w.Status != 3 || w.Errors() != 4 {
		t.Errorf("parseWrk = rps %v p99 %v status %d errors %d, want 100000 4.1ms 3 4", w.RPS(), w.P99, w.Status, w.Errors())
	}
	if w.SocketErrorsOrStatusLines != "Non-2xx or 3xx responses: 3" {
		t.Errorf("notes = %q", w.SocketErrorsOrStatusLines)
	}
	if _, err := parseWrk("no summary"); err == nil {
		t.Error("parseWrk without WRKRESULT: want an error")
	}
}

func TestParseMetrics(t *testing.T) {
	m := parseMetrics(`# HELP x
shortener_worker_events_total{result="applied"} 1.5e+06
shortener_worker_events_total{result="duplicate"} 2
shortener_edge_click_buffer_depth 0
`)
	if got := m.int("shortener_worker_events_total", `result="applied"`); got != 1500000 {
		t.Errorf("applied = %d, want 1500000", got)
	}
	if got := m.int("shortener_worker_events_total"); got != 1500002 {
		t.Errorf("sum = %d, want 1500002", got)
	}
}

func TestParseBench(t *testing.T) {
	out := "goos: linux\nBenchmarkRedirect/cached-2         	 3000000	       405.2 ns/op	       0 B/op	       0 allocs/op\n" +
		"BenchmarkRedirect/cached+record-2  	 1000000	      1351 ns/op	      20 B/op	       1 allocs/op\nPASS\n"
	res := parseBench(out)
	if len(res) != 2 || res[0].Name != "BenchmarkRedirect/cached" || res[1].AllocsOp != 1 || res[1].NsPerOp != 1351 {
		t.Errorf("parseBench = %+v", res)
	}
}

func TestParseRedisBenchmark(t *testing.T) {
	out := "SET: rps=0.0 (overall: nan) avg_msec=nan (overall: nan)\rSET: 1142857.12 requests per second, p50=0.575 msec\n" +
		"INCR: 124844.00 requests per second, p50=0.247 msec\n"
	res := parseRedisBenchmark(out, 16)
	if len(res) != 2 || res[0].Test != "SET" || res[0].RPS != 1142857.12 || res[1].P50 != "0.247 msec" || res[1].Pipeline != 16 {
		t.Errorf("parseRedisBenchmark = %+v", res)
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-45000, "-45,000"}} {
		if got := nI(tc.in); got != tc.want {
			t.Errorf("nI(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := median([]float64{3, 1, 2, 10}); got != 2.5 {
		t.Errorf("median = %v, want 2.5", got)
	}
}

func TestCommandDelta(t *testing.T) {
	total, per := commandDelta(map[string]int64{"get": 5, "xack": 1}, map[string]int64{"get": 15, "xack": 21, "evalsha": 1})
	if total != 31 || len(per) != 3 || per[0].Name != "xack" || per[0].N != 20 {
		t.Errorf("commandDelta = %d %+v", total, per)
	}
}

func TestAddCommandNormalizes(t *testing.T) {
	r := &results{TmpDir: "/tmp/x"}
	r.addCommand("edge --listen 127.0.0.1:4242 --admin-key 0123abcd --dir /tmp/x/load")
	r.addCommand("edge --listen 127.0.0.1:4343 --admin-key 99ff --dir /tmp/x/load")
	r.addCommand("redis-server --port 6400")
	want := []string{"edge --listen 127.0.0.1:$PORT --admin-key $ADMIN_KEY --dir $TMP/load", "redis-server --port $PORT"}
	if len(r.Commands) != 2 || r.Commands[0] != want[0] || r.Commands[1] != want[1] {
		t.Errorf("Commands = %q, want %q", r.Commands, want)
	}
}
