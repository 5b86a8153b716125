package redirect_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/shortener/shortener/pkg/clicks"
	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redirect"
	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/redisx/redistest"
)

type bench struct {
	h        *redirect.Handler
	producer *clicks.Producer
	code     string
}

func setup(tb testing.TB, record bool) *bench {
	tb.Helper()
	srv := redistest.Start(tb)
	ks, err := redisx.NewKeyspace(srv.Prefix, redisx.DefaultPartitions)
	require.NoError(tb, err)
	c, err := redisx.New(redisx.Config{URL: srv.URL})
	require.NoError(tb, err)
	tb.Cleanup(c.Close)
	store := link.NewStore(c, link.Config{Keys: ks})
	l, _, err := store.Create(context.Background(), link.CreateRequest{URL: "https://example.com/landing?utm_source=newsletter&utm_campaign=dec"})
	require.NoError(tb, err)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := &bench{code: l.Code}
	cfg := redirect.Config{Status: 302, Resolver: store, Log: log, Registry: prometheus.NewRegistry()}
	if record {
		b.producer, err = clicks.NewProducer(clicks.ProducerConfig{Client: c, Keys: ks, EdgeID: "bench", Buffer: 4096, Log: log})
		require.NoError(tb, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { b.producer.Run(ctx); close(done) }()
		tb.Cleanup(func() { cancel(); <-done })
		cfg.Clicks = b.producer
	}
	b.h, err = redirect.New(cfg)
	require.NoError(tb, err)
	return b
}

func newCtx(path string) *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	var req fasthttp.Request
	req.SetRequestURI(path)
	req.Header.SetMethod("GET")
	req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")
	req.Header.Set("Referer", "https://news.example.org/")
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4321}, nil)
	return &ctx
}

func TestServe(t *testing.T) {
	b := setup(t, false)
	for _, tc := range []struct {
		name, method, path string
		status             int
		location           string
	}{
		{"hit", "GET", "/" + b.code, 302, "https://example.com/landing?utm_source=newsletter&utm_campaign=dec"},
		{"head", "HEAD", "/" + b.code, 302, "https://example.com/landing?utm_source=newsletter&utm_campaign=dec"},
		{"unknown", "GET", "/nope123", 404, ""},
		{"wrong case", "GET", "/" + string(b.code[0]^0x20) + b.code[1:], 404, ""},
		{"bad shape", "GET", "/a.b", 404, ""},
		{"too deep", "GET", "/a/b", 404, ""},
		{"root", "GET", "/", 404, ""},
		{"post", "POST", "/" + b.code, 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := newCtx(tc.path)
			ctx.Request.Header.SetMethod(tc.method)
			b.h.Serve(ctx)
			assert.Equal(t, tc.status, ctx.Response.StatusCode())
			assert.Equal(t, tc.location, string(ctx.Response.Header.Peek("Location")))
			if tc.status >= 400 {
				assert.Equal(t, "application/problem+json", string(ctx.Response.Header.ContentType()))
			}
		})
	}
}

// TestRedirectAllocs is the allocation budget of a cached redirect: zero,
// with and without click recording.
func TestRedirectAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation budgets are checked without -race (make test runs them)")
	}
	for _, record := range []bool{false, true} {
		b := setup(t, record)
		ctx := newCtx("/" + b.code)
		// Warm up as a running edge is: the cache holds the code and the
		// producer has spare buffers from earlier flushes.
		for i := 0; i < 3000; i++ {
			b.h.Serve(ctx)
		}
		if record {
			require.Eventually(t, func() bool { return b.producer.Depth() == 0 }, 10*time.Second, time.Millisecond)
		}
		allocs := testing.AllocsPerRun(1000, func() {
			ctx.Response.Reset()
			b.h.Serve(ctx)
		})
		assert.Zero(t, allocs, "allocations per cached redirect (record clicks: %v)", record)
		require.Equal(t, 302, ctx.Response.StatusCode())
	}
}

func benchmarkRedirect(b *testing.B, record bool) {
	s := setup(b, record)
	ctx := newCtx("/" + s.code)
	for i := 0; i < 5000; i++ {
		s.h.Serve(ctx)
	}
	if record {
		for s.producer.Depth() > 0 {
			time.Sleep(time.Millisecond)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Response.Reset()
		s.h.Serve(ctx)
	}
}

// BenchmarkRedirect is the redirect handler on a cache hit, without the
// network: resolve, headers, and (for /record) the click hand-off.
func BenchmarkRedirect(b *testing.B) {
	b.Run("cached", func(b *testing.B) { benchmarkRedirect(b, false) })
	b.Run("cached+record", func(b *testing.B) { benchmarkRedirect(b, true) })
}
