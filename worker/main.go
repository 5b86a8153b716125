// Command worker reads click events from the Redis Streams as a member of a
// consumer group and writes the analytics. Run "worker -h" for its flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/shortener/shortener/pkg/flagenv"
	"github.com/shortener/shortener/pkg/obs"
	"github.com/shortener/shortener/pkg/redisx"
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
	if err := flagenv.Parse(fs, args, getenv); err != nil {
		return c, err
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
	rdb, err := redisx.Connect(ctx, redisx.Config{URL: cfg.redisURL, ClientName: "shortener-worker", DisableCache: true}, log)
	if err != nil {
		return err
	}
	defer rdb.Close()
	if err := redisx.PinPartitions(ctx, rdb, ks); err != nil {
		return err
	}
	reg := obs.NewRegistry()
	ops, err := obs.StartOps(cfg.opsListen, reg, func(ctx context.Context) error { return redisx.Ping(ctx, rdb, time.Second) }, log)
	if err != nil {
		return err
	}
	log.Info("worker started", "version", version, "consumer", cfg.consumer, "group", cfg.group, "ops_listen", ops.Addr())
	<-ctx.Done()
	log.Info("worker stopped")
	return ops.Shutdown(context.Background())
}
