// Command worker reads click events from the Redis Streams as a member of a
// consumer group and writes the analytics. Run "worker -h" for its flags.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"

	"github.com/shortener/shortener/pkg/analytics"
	"github.com/shortener/shortener/pkg/flagenv"
	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/obs"
	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/useragent"
	"github.com/shortener/shortener/pkg/webhook"
)

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "worker:", err)
		}
		os.Exit(1)
	}
}

type config struct {
	redisURL, opsListen, consumer, group string
	partitions                           int
	keyPrefix, logFormat, logLevel       string
	batch, maxDeliveries, uaCache        int
	block, claimIdle, trimInterval       time.Duration
	sweepInterval                        time.Duration
	campaignCodes, metricReferers        string
	metricTags                           string

	analytics, webhooks, webhookAllowPrivate         bool
	webhookGroup                                     string
	webhookConcurrency, webhookAttempts              int
	webhookQueueMax                                  int
	webhookTimeout, webhookBackoff                   time.Duration
	webhookMaxBackoff, webhookPoll, webhookRetention time.Duration
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	host, _ := os.Hostname()
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.redisURL, "redis", "redis://127.0.0.1:6379", "Redis URL: standalone, sentinel (?master_set=) or cluster (several seeds comma-separated)")
	fs.StringVar(&c.opsListen, "ops-listen", ":9101", "address of /metrics, /healthz and /readyz")
	fs.StringVar(&c.consumer, "consumer", fmt.Sprintf("%s-%d", host, os.Getpid()), "consumer name in the group; unique per worker")
	fs.StringVar(&c.group, "group", "analytics", "consumer group")
	fs.IntVar(&c.partitions, "partitions", redisx.DefaultPartitions, "hash-tag partitions of the keyspace and click stream; must match the edge")
	fs.StringVar(&c.keyPrefix, "key-prefix", "", "prefix of every Redis key; must match the edge")
	fs.StringVar(&c.logFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.IntVar(&c.batch, "batch", analytics.DefaultBatch, "most events read and applied at once")
	fs.DurationVar(&c.block, "block", analytics.DefaultBlock, "how long one read waits for new events")
	fs.DurationVar(&c.claimIdle, "claim-idle", analytics.DefaultClaimIdle, "idle time after which another worker's pending events are taken over (XAUTOCLAIM), by the analytics and the webhooks groups")
	fs.IntVar(&c.maxDeliveries, "max-deliveries", analytics.DefaultMaxDeliveries, "deliveries after which an event goes to the dead-letter stream")
	fs.DurationVar(&c.trimInterval, "trim-interval", analytics.DefaultTrimInterval, "how often streams are trimmed behind every consumer group")
	fs.DurationVar(&c.sweepInterval, "sweep-interval", 5*time.Second, "how often expired links are tombstoned and their analytics deleted")
	fs.StringVar(&c.campaignCodes, "metrics-campaign-codes", "", "comma-separated codes that get their own click series in /metrics (no other code does)")
	fs.StringVar(&c.metricReferers, "metrics-referers", strings.Join(analytics.DefaultMetricReferers, ","), "comma-separated referer domains with their own label value in /metrics; others count as other")
	fs.StringVar(&c.metricTags, "metrics-tags", "", "comma-separated link tags that get their own click series in /metrics")
	fs.IntVar(&c.uaCache, "ua-cache", useragent.DefaultCacheSize, "user agents kept classified in the LRU")
	fs.BoolVar(&c.analytics, "analytics", true, "apply click analytics (the --group consumer group) and sweep expired links; false makes a webhooks-only worker")
	fs.BoolVar(&c.webhooks, "webhooks", true, "deliver webhooks (a consumer group of its own on the click streams)")
	fs.StringVar(&c.webhookGroup, "webhook-group", webhook.DefaultGroup, "consumer group of webhook delivery")
	fs.IntVar(&c.webhookConcurrency, "webhook-concurrency", webhook.DefaultConcurrency, "most webhook deliveries in flight at once")
	fs.DurationVar(&c.webhookTimeout, "webhook-timeout", webhook.DefaultTimeout, "time limit of one delivery try")
	fs.IntVar(&c.webhookAttempts, "webhook-attempts", webhook.DefaultMaxAttempts, "tries of a delivery before it becomes a dead letter")
	fs.DurationVar(&c.webhookBackoff, "webhook-backoff", webhook.DefaultBackoff, "wait after a delivery's first failed try; doubles after each further one")
	fs.DurationVar(&c.webhookMaxBackoff, "webhook-max-backoff", webhook.DefaultMaxBackoff, "longest wait between two tries of a delivery")
	fs.DurationVar(&c.webhookPoll, "webhook-poll-interval", webhook.DefaultPollInterval, "how often due retries are looked for when idle")
	fs.IntVar(&c.webhookQueueMax, "webhook-queue-max", webhook.DefaultQueueMax, "queued deliveries per partition past which reading that partition's stream pauses")
	fs.DurationVar(&c.webhookRetention, "webhook-dead-letter-retention", webhook.DefaultDeadLetterRetention, "how long a dead letter is kept for replay")
	fs.BoolVar(&c.webhookAllowPrivate, "webhook-allow-private", false, "deliver to localhost and private addresses (refused by default: SSRF guard)")
	if err := flagenv.Parse(fs, args, getenv); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.batch <= 0 || c.block <= 0 || c.claimIdle <= 0 || c.maxDeliveries <= 0 || c.trimInterval <= 0 || c.uaCache <= 0 || c.sweepInterval <= 0 {
		return c, errors.New("--batch, --block, --claim-idle, --max-deliveries, --trim-interval, --sweep-interval and --ua-cache must be > 0")
	}
	if c.consumer == "" || c.group == "" || c.webhookGroup == "" {
		return c, errors.New("--consumer, --group and --webhook-group must not be empty")
	}
	if !c.analytics && !c.webhooks {
		return c, errors.New("--analytics=false and --webhooks=false leave the worker nothing to do")
	}
	if c.webhookGroup == c.group {
		return c, errors.New("--webhook-group must differ from --group")
	}
	if c.webhookConcurrency <= 0 || c.webhookAttempts <= 0 || c.webhookQueueMax <= 0 || c.webhookTimeout <= 0 ||
		c.webhookBackoff <= 0 || c.webhookMaxBackoff < c.webhookBackoff || c.webhookPoll <= 0 || c.webhookRetention <= 0 {
		return c, errors.New("--webhook-concurrency, --webhook-attempts, --webhook-queue-max, --webhook-timeout, --webhook-backoff, --webhook-poll-interval and --webhook-dead-letter-retention must be > 0, and --webhook-max-backoff at least --webhook-backoff")
	}
	return c, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
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
	// Ops first, Redis second: the worker is alive (not ready) while it
	// waits for Redis to appear.
	reg := obs.NewRegistry()
	redisUp := obs.RedisUp(reg, "worker")
	var rdbp atomic.Pointer[rueidis.Client]
	ops, err := obs.StartOps(cfg.opsListen, reg, func(ctx context.Context) error {
		c := rdbp.Load()
		if c == nil {
			return errors.New("waiting for redis")
		}
		return redisx.Ping(ctx, *c, time.Second)
	}, log)
	if err != nil {
		return err
	}
	defer func() { _ = ops.Shutdown(context.Background()) }()
	rdb, err := redisx.Connect(ctx, redisx.Config{URL: cfg.redisURL, ClientName: "shortener-worker", DisableCache: true, DialTimeout: time.Second}, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before Redis appeared
		}
		return err
	}
	defer rdb.Close()
	if err := redisx.PinPartitions(ctx, rdb, ks); err != nil {
		return err
	}
	rdbp.Store(&rdb)
	upCtx, stopUp := context.WithCancel(context.Background())
	defer stopUp()
	go redisx.WatchUp(upCtx, rdb, 5*time.Second, redisUp)
	classifier, err := useragent.New(cfg.uaCache)
	if err != nil {
		return err
	}
	log.Info("worker started", "version", version, "consumer", cfg.consumer, "group", cfg.group,
		"partitions", cfg.partitions, "analytics", cfg.analytics, "webhooks", cfg.webhooks, "ops_listen", ops.Addr())
	hooksDone := make(chan error, 1)
	if cfg.webhooks {
		go func() { hooksDone <- runWebhooks(ctx, cfg, ks, classifier, reg, log) }()
	} else {
		hooksDone <- nil
	}
	if cfg.analytics {
		err = runAnalytics(ctx, cfg, ks, rdb, classifier, reg, log)
	} else {
		<-ctx.Done()
	}
	if herr := <-hooksDone; err == nil {
		err = herr
	}
	if err != nil {
		return err
	}
	log.Info("worker stopped")
	return nil
}

// runAnalytics applies click events and sweeps expired links until ctx
// ends.
func runAnalytics(ctx context.Context, cfg config, ks redisx.Keyspace, rdb rueidis.Client, classifier *useragent.Classifier,
	reg prometheus.Registerer, log *slog.Logger) error {
	fresh := make([]byte, 32)
	_, _ = rand.Read(fresh)
	vkey, err := analytics.VisitorKey(ctx, rdb, ks, fresh)
	if err != nil {
		return err
	}
	consumer, err := analytics.NewConsumer(analytics.ConsumerConfig{
		Client: rdb, Keys: ks, Group: cfg.group, Name: cfg.consumer, Classifier: classifier, VisitorKey: vkey,
		Batch: cfg.batch, Block: cfg.block, ClaimIdle: cfg.claimIdle, MaxDeliveries: cfg.maxDeliveries,
		TrimInterval: cfg.trimInterval, Log: log, Registry: reg,
		CampaignCodes: splitList(cfg.campaignCodes), MetricReferers: splitList(cfg.metricReferers),
		MetricTags: splitList(cfg.metricTags),
	})
	if err != nil {
		return err
	}
	expired := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shortener_worker_links_expired_total",
		Help: "Expired links tombstoned by the sweeper (their analytics deleted).",
	})
	if err := reg.Register(expired); err != nil {
		return err
	}
	store := link.NewStore(rdb, link.Config{Keys: ks})
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		store.RunSweeper(ctx, cfg.sweepInterval, log, func(n int) { expired.Add(float64(n)) })
	}()
	err = consumer.Run(ctx)
	<-sweepDone
	if ctx.Err() != nil {
		return nil // stopped, possibly while still creating its groups
	}
	return err
}

// runWebhooks delivers webhooks until ctx ends. Its client has client-side
// caching on (the worker's own has not): every event's link and
// subscriptions are looked up through it.
func runWebhooks(ctx context.Context, cfg config, ks redisx.Keyspace, classifier *useragent.Classifier,
	reg prometheus.Registerer, log *slog.Logger) error {
	rdb, err := redisx.Connect(ctx, redisx.Config{URL: cfg.redisURL, ClientName: "shortener-webhooks", DialTimeout: time.Second}, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer rdb.Close()
	d, err := webhook.NewDispatcher(webhook.DispatcherConfig{
		Client: rdb, Keys: ks, Group: cfg.webhookGroup, Name: cfg.consumer,
		Subscriptions: webhook.NewRegistry(rdb, webhook.RegistryConfig{Keys: ks, AllowPrivate: cfg.webhookAllowPrivate}),
		Links:         link.NewStore(rdb, link.Config{Keys: ks}), Classifier: classifier, AllowPrivate: cfg.webhookAllowPrivate,
		Concurrency: cfg.webhookConcurrency, Timeout: cfg.webhookTimeout, MaxAttempts: cfg.webhookAttempts,
		Backoff: cfg.webhookBackoff, MaxBackoff: cfg.webhookMaxBackoff, PollInterval: cfg.webhookPoll,
		QueueMax: cfg.webhookQueueMax, DeadLetterRetention: cfg.webhookRetention, ClaimIdle: cfg.claimIdle, Block: cfg.block, Log: log, Registry: reg,
	})
	if err != nil {
		return err
	}
	if err := d.Run(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil // stopped, possibly while still creating its groups
}

func splitList(s string) []string {
	out := []string{}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
