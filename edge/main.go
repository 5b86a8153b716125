// Command edge answers GET /{code} with a redirect and serves the REST API
// under /api/v1. Run "edge -h" for its flags and "edge keys create -h" for
// API-key management.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
	"github.com/valyala/fasthttp"

	"github.com/shortener/shortener/pkg/analytics"
	"github.com/shortener/shortener/pkg/api"
	"github.com/shortener/shortener/pkg/auth"
	"github.com/shortener/shortener/pkg/clicks"
	"github.com/shortener/shortener/pkg/clientip"
	"github.com/shortener/shortener/pkg/flagenv"
	"github.com/shortener/shortener/pkg/geo"
	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/obs"
	"github.com/shortener/shortener/pkg/qr"
	"github.com/shortener/shortener/pkg/ratelimit"
	"github.com/shortener/shortener/pkg/redirect"
	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/ui"
	"github.com/shortener/shortener/pkg/webhook"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "edge:", err)
		}
		os.Exit(1)
	}
}

// config is every setting of the edge, filled from flags and SHORTENER_ env.
type config struct {
	listen, opsListen, redisURL, baseURL, adminKey string
	redirectStatus                                 int
	allowAnonymous                                 bool
	webhookAllowPrivate                            bool
	countryHeader, geoIPDB, trustedProxies         string
	maxURLLength                                   int
	blocklist                                      string
	defaultTTL, cacheTTL                           time.Duration
	cacheSizeMB                                    int
	partitions                                     int
	keyPrefix                                      string
	maxBodyBytes                                   int
	logFormat, logLevel                            string
	shutdownTimeout                                time.Duration
	clickBuffer, clickBatch                        int
	clickFlushTimeout                              time.Duration
	staleWindow                                    time.Duration
	staleEntries                                   int
	recordClicks                                   bool
	qrCache                                        int
	rateWindow                                     time.Duration
	rateCreateAnon, rateCreateKey                  int
	rateAPIAnon, rateAPIKey                        int
}

func redisFlags(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.redisURL, "redis", "redis://127.0.0.1:6379", "Redis URL: standalone, sentinel (?master_set=) or cluster (several seeds comma-separated)")
	fs.IntVar(&c.partitions, "partitions", redisx.DefaultPartitions, "hash-tag partitions of the keyspace and click stream; fixed once links exist")
	fs.StringVar(&c.keyPrefix, "key-prefix", "", "prefix of every Redis key (to share one Redis between deployments)")
	fs.StringVar(&c.logFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", ":8080", "address of redirects and /api/v1")
	fs.StringVar(&c.opsListen, "ops-listen", ":9100", "address of /metrics, /healthz and /readyz")
	fs.StringVar(&c.baseURL, "base-url", "http://localhost:8080", "prefix of short_url and of QR codes; links to its host are refused")
	fs.StringVar(&c.adminKey, "admin-key", "", "a bootstrap admin API key (never stored in Redis)")
	fs.IntVar(&c.redirectStatus, "redirect-status", 302, "redirect status: 301, 302, 307 or 308")
	fs.BoolVar(&c.allowAnonymous, "allow-anonymous", true, "may callers without an API key create links")
	fs.StringVar(&c.countryHeader, "country-header", "", "trusted request header holding the visitor's ISO country (e.g. CF-IPCountry)")
	fs.StringVar(&c.geoIPDB, "geoip-db", "", "MaxMind/DB-IP .mmdb file for country lookup by IP")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For is believed")
	fs.IntVar(&c.maxURLLength, "max-url-length", link.DefaultMaxURLLength, "longest destination URL accepted, in bytes")
	fs.StringVar(&c.blocklist, "blocklist", "", "file of blocked destination domains, one a line (subdomains included)")
	fs.DurationVar(&c.defaultTTL, "default-ttl", link.DefaultTTL, "lifetime of links created without ttl or expires_at; 0 = never expire")
	fs.DurationVar(&c.cacheTTL, "cache-ttl", link.DefaultCacheTTL, "longest a resolved code stays in the client-side cache (Redis invalidates it sooner on change)")
	fs.IntVar(&c.cacheSizeMB, "cache-size-mb", 64, "client-side cache size per Redis connection, MiB")
	fs.IntVar(&c.maxBodyBytes, "max-body-bytes", 64<<10, "largest request body accepted, bytes (413 above)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 15*time.Second, "how long SIGTERM waits for requests in flight")
	fs.DurationVar(&c.staleWindow, "stale-window", 5*time.Minute, "while Redis is unreachable, keep redirecting codes resolved before for this long after its last answer (0 = never)")
	fs.IntVar(&c.staleEntries, "stale-entries", 100000, "resolved codes kept for the Redis-outage fallback")
	fs.IntVar(&c.qrCache, "qr-cache", 4096, "rendered QR codes kept in memory")
	fs.DurationVar(&c.rateWindow, "rate-window", time.Minute, "window of the API rate limits")
	fs.IntVar(&c.rateCreateAnon, "rate-create-anonymous", api.DefaultLimits.CreateAnonymous.N, "link creations per window for a client IP without a key (0 = unlimited)")
	fs.IntVar(&c.rateCreateKey, "rate-create-key", api.DefaultLimits.CreateKey.N, "link creations per window per key owner (0 = unlimited; admins are never limited)")
	fs.IntVar(&c.rateAPIAnon, "rate-api-anonymous", api.DefaultLimits.APIAnonymous.N, "other API calls per window for a client IP without a key (0 = unlimited)")
	fs.IntVar(&c.rateAPIKey, "rate-api-key", api.DefaultLimits.APIKey.N, "other API calls per window per key owner (0 = unlimited)")
	fs.BoolVar(&c.webhookAllowPrivate, "webhook-allow-private", false, "accept webhook URLs on localhost and private addresses (the worker needs its own --webhook-allow-private to deliver to them)")
	fs.BoolVar(&c.recordClicks, "record-clicks", true, "append a click event to the stream for every GET redirect")
	fs.IntVar(&c.clickBuffer, "click-buffer", clicks.DefaultBuffer, "click events held in memory while Redis is slow or down; past it they are dropped and counted")
	fs.IntVar(&c.clickBatch, "click-batch", clicks.DefaultBatch, "most click events appended in one round trip")
	fs.DurationVar(&c.clickFlushTimeout, "click-flush-timeout", clicks.DefaultFlushTimeout, "how long SIGTERM waits to flush buffered click events")
	redisFlags(fs, &c)
	if err := flagenv.Parse(fs, args, getenv); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q (subcommands: keys, import)", fs.Args())
	}
	if !redirect.ValidStatus(c.redirectStatus) {
		return c, fmt.Errorf("--redirect-status must be 301, 302, 307 or 308, got %d", c.redirectStatus)
	}
	if c.defaultTTL < 0 || c.cacheTTL <= 0 || c.cacheSizeMB <= 0 || c.maxBodyBytes <= 0 {
		return c, errors.New("--default-ttl must be >= 0; --cache-ttl, --cache-size-mb and --max-body-bytes must be > 0")
	}
	if c.rateWindow < time.Second || c.rateCreateAnon < 0 || c.rateCreateKey < 0 || c.rateAPIAnon < 0 || c.rateAPIKey < 0 {
		return c, errors.New("--rate-window must be at least 1s and the --rate-* limits >= 0")
	}
	if c.clickBuffer <= 0 || c.clickBatch <= 0 || c.clickFlushTimeout <= 0 {
		return c, errors.New("--click-buffer, --click-batch and --click-flush-timeout must be > 0")
	}
	return c, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "keys" {
		return runKeys(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "import" {
		return runImport(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && (args[0] == "version" || args[0] == "--version") {
		fmt.Fprintln(stdout, "edge", version)
		return nil
	}
	cfg, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := obs.NewLogger(stderr, cfg.logFormat, cfg.logLevel)
	if err != nil {
		return err
	}
	ks, err := redisx.NewKeyspace(cfg.keyPrefix, cfg.partitions)
	if err != nil {
		return err
	}
	policy, err := urlPolicy(cfg)
	if err != nil {
		return err
	}
	trusted, err := clientip.ParseTrusted(cfg.trustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	geoResolver, err := geo.Open(geo.Config{Header: cfg.countryHeader, DBPath: cfg.geoIPDB})
	if err != nil {
		return fmt.Errorf("--geoip-db: %w", err)
	}
	defer geoResolver.Close()

	reg := obs.NewRegistry()
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "shortener_edge_request_duration_seconds",
		Help:    "Time from request parsed to answer written, by route: redirect or api.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
	}, []string{"route"})
	reg.MustRegister(latency)
	redisUp := obs.RedisUp(reg, "edge")

	// Listen first, Redis second: the edge starts (answering 503, /healthz
	// alive, /readyz not ready) while Redis is still away, and becomes ready
	// when it appears.
	var rdb atomic.Pointer[rueidis.Client]
	ready := func(ctx context.Context) error {
		c := rdb.Load()
		if c == nil {
			return errors.New("waiting for redis")
		}
		return redisx.Ping(ctx, *c, time.Second)
	}
	ops, err := obs.StartOps(cfg.opsListen, reg, ready, log)
	if err != nil {
		return err
	}
	defer func() { _ = ops.Shutdown(context.Background()) }()
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", cfg.listen, err)
	}
	var handler atomic.Pointer[fasthttp.RequestHandler]
	starting := fasthttp.RequestHandler(func(ctx *fasthttp.RequestCtx) {
		api.WriteProblem(ctx, 503, api.TypeUnavailable, "Service Unavailable", "the edge is starting: waiting for Redis")
		ctx.Response.Header.Set("Retry-After", "1")
	})
	handler.Store(&starting)
	srv := &fasthttp.Server{
		Handler:               func(ctx *fasthttp.RequestCtx) { (*handler.Load())(ctx) },
		ErrorHandler:          serverError,
		Name:                  "",
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		MaxRequestBodySize:    cfg.maxBodyBytes,
		ReadBufferSize:        16 << 10,
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		IdleTimeout:           90 * time.Second,
		CloseOnShutdown:       true,
		Logger:                slogPrintf{log},
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	shutdown := func() {
		log.Info("shutting down: finishing requests in flight")
		sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
		defer cancel()
		if err := srv.ShutdownWithContext(sctx); err != nil {
			log.Warn("requests still in flight at shutdown timeout", "err", err)
		}
	}

	fallback := link.NewFallback(cfg.staleEntries, cfg.staleWindow)
	client, err := redisx.Connect(ctx, redisx.Config{
		URL: cfg.redisURL, ClientName: "shortener-edge", CacheSizeEachConn: cfg.cacheSizeMB << 20,
		ConnWriteTimeout: 2 * time.Second, DialTimeout: time.Second, OnInvalidations: fallback.Invalidated, MaxRetries: 2,
	}, log)
	if err != nil {
		shutdown()
		if ctx.Err() != nil {
			return nil // stopped before Redis appeared
		}
		return err
	}
	defer client.Close()
	if err := redisx.PinPartitions(ctx, client, ks); err != nil {
		shutdown()
		return err
	}
	upCtx, stopUp := context.WithCancel(context.Background())
	defer stopUp()
	go redisx.WatchUp(upCtx, client, time.Second, func(up bool) {
		redisUp(up)
		if up {
			fallback.Contact()
		}
	})

	store := link.NewStore(client, link.Config{Keys: ks, Policy: policy, DefaultTTL: cfg.defaultTTL, CacheTTL: cfg.cacheTTL, Fallback: fallback,
		Describe: api.LinkData(cfg.baseURL)})
	keys := auth.NewKeys(client, ks, cfg.adminKey, link.ValidOwner)
	var producer *clicks.Producer
	if cfg.recordClicks {
		producer, err = clicks.NewProducer(clicks.ProducerConfig{Client: client, Keys: ks, EdgeID: edgeID(), Buffer: cfg.clickBuffer,
			Batch: cfg.clickBatch, FlushTimeout: cfg.clickFlushTimeout, Log: log, Registry: reg})
		if err != nil {
			shutdown()
			return err
		}
	}
	redirects, err := redirect.New(redirect.Config{Status: cfg.redirectStatus, Resolver: store, Log: log, Registry: reg,
		Clicks: producer, Geo: geoResolver, Trusted: trusted, Limiter: ratelimit.New(client, cfg.keyPrefix)})
	if err != nil {
		shutdown()
		return err
	}
	rest, err := api.New(api.Config{Store: store, Keys: keys, Analytics: analytics.NewReader(client, ks, nil), QR: qr.NewRenderer(cfg.qrCache), BaseURL: cfg.baseURL,
		Webhooks:       webhook.NewRegistry(client, webhook.RegistryConfig{Keys: ks, AllowPrivate: cfg.webhookAllowPrivate}),
		AllowAnonymous: cfg.allowAnonymous, Log: log, Registry: reg, Trusted: trusted,
		Limiter: ratelimit.New(client, cfg.keyPrefix), Limits: api.Limits{
			CreateAnonymous: ratelimit.Limit{N: cfg.rateCreateAnon, Window: cfg.rateWindow},
			CreateKey:       ratelimit.Limit{N: cfg.rateCreateKey, Window: cfg.rateWindow},
			APIAnonymous:    ratelimit.Limit{N: cfg.rateAPIAnon, Window: cfg.rateWindow},
			APIKey:          ratelimit.Limit{N: cfg.rateAPIKey, Window: cfg.rateWindow},
		}})
	if err != nil {
		shutdown()
		return err
	}
	flushCtx, stopFlush := context.WithCancel(context.Background())
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		if producer != nil {
			producer.Run(flushCtx)
		}
	}()
	defer func() { stopFlush(); <-flushed }()
	serving := route(rest, redirects, latency.WithLabelValues("api"), latency.WithLabelValues("redirect"))
	handler.Store(&serving)
	rdb.Store(&client)
	log.Info("edge started", "version", version, "listen", ln.Addr().String(), "ops_listen", ops.Addr(),
		"redis_mode", fmt.Sprint(client.Mode()), "partitions", cfg.partitions, "base_url", cfg.baseURL)

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("server stopped: %w", err)
	}
	shutdown()
	stopFlush() // every request has finished: flush the clicks they recorded
	<-flushed
	log.Info("edge stopped")
	return nil
}

// edgeID names this process in the click producer's sequence keys.
func edgeID() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%x", host, os.Getpid(), b)
}

func urlPolicy(cfg config) (*link.URLPolicy, error) {
	var bl io.Reader
	if cfg.blocklist != "" {
		f, err := os.Open(cfg.blocklist)
		if err != nil {
			return nil, fmt.Errorf("cannot open blocklist: %w", err)
		}
		defer f.Close()
		bl = f
	}
	return link.NewURLPolicy(cfg.maxURLLength, cfg.baseURL, bl)
}

// route sends /api/ to the REST API and everything else to the redirects,
// timing each.
func route(rest *api.API, redirects *redirect.Handler, apiTime, redirectTime prometheus.Observer) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		p := ctx.Path()
		if len(p) >= 5 && string(p[:5]) == "/api/" || string(p) == "/api" || string(p) == api.ShlinkPath || string(p) == api.BitlyPath {
			rest.Serve(ctx)
			apiTime.Observe(time.Since(start).Seconds())
			return
		}
		if len(p) >= 4 && string(p[:4]) == "/ui/" || string(p) == "/ui" {
			ui.Handler(ctx)
			return
		}
		redirects.Serve(ctx)
		redirectTime.Observe(time.Since(start).Seconds())
	}
}

// serverError answers requests fasthttp itself refuses, as problem+json.
func serverError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		api.WriteProblem(ctx, 413, api.TypeTooLarge, "Content Too Large", "the request body is larger than the limit")
	case errors.As(err, &small) || errors.Is(err, fasthttp.ErrSmallReadBuffer) || strings.Contains(err.Error(), "too big"):
		api.WriteProblem(ctx, 431, api.TypeHeaderTooBig, "Request Header Fields Too Large", "the request headers are too large")
	default:
		api.WriteProblem(ctx, 400, api.TypeBadRequest, "Bad Request", "the request could not be parsed")
	}
	ctx.SetConnectionClose()
}

type slogPrintf struct{ log *slog.Logger }

func (s slogPrintf) Printf(format string, args ...any) {
	s.log.Debug("fasthttp", "msg", fmt.Sprintf(format, args...))
}
