// Package redisx builds the rueidis client from a Redis URL, names every key
// the service uses (the Keyspace), and holds the shared Redis helpers.
package redisx

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// Config describes how to reach Redis. The zero value of every field but URL
// means "the rueidis default".
type Config struct {
	// URL is a redis://, rediss:// or unix:// URL. Several cluster seeds may be
	// given comma-separated: "redis://a:7001,redis://b:7002" or
	// "redis://a:7001,b:7002".
	URL string
	// ClientName is sent with CLIENT SETNAME so operators can tell connections apart.
	ClientName string
	// CacheSizeEachConn bounds the client-side cache of each connection, in bytes.
	CacheSizeEachConn int
	// DisableCache turns client-side caching off (DoCache falls back to Do).
	DisableCache bool
	// ConnWriteTimeout bounds how long a dead connection goes unnoticed.
	ConnWriteTimeout time.Duration
	// DialTimeout bounds a connection attempt (default 5 s).
	DialTimeout time.Duration
	// MaxRetries bounds how often rueidis retries a read-only command after a
	// network error (0: rueidis's default, retry until the context ends).
	// The edge sets it so that a request never waits out an outage.
	MaxRetries int
	// OnInvalidations receives the keys Redis invalidates in the
	// client-side cache (nil when a whole cache is dropped).
	OnInvalidations func([]rueidis.RedisMessage)
}

// Options turns cfg into rueidis options.
func Options(cfg Config) (rueidis.ClientOption, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return rueidis.ClientOption{}, errors.New("redis URL is empty")
	}
	parts := strings.Split(cfg.URL, ",")
	opt, err := rueidis.ParseURL(strings.TrimSpace(parts[0]))
	if err != nil {
		return opt, fmt.Errorf("cannot parse redis URL %q: %w", parts[0], err)
	}
	for _, p := range parts[1:] {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.Contains(p, "://") {
			p = "redis://" + p
		}
		u, err := url.Parse(p)
		if err != nil || u.Host == "" {
			return opt, fmt.Errorf("cannot parse redis seed %q", p)
		}
		host := u.Host
		if u.Port() == "" {
			host += ":6379"
		}
		opt.InitAddress = append(opt.InitAddress, host)
	}
	if cfg.ClientName != "" && opt.ClientName == "" {
		opt.ClientName = cfg.ClientName
	}
	if cfg.CacheSizeEachConn > 0 {
		opt.CacheSizeEachConn = cfg.CacheSizeEachConn
	}
	if cfg.DisableCache {
		opt.DisableCache = true
	}
	if cfg.ConnWriteTimeout > 0 && opt.ConnWriteTimeout == 0 {
		opt.ConnWriteTimeout = cfg.ConnWriteTimeout
	}
	if cfg.DialTimeout > 0 && opt.Dialer.Timeout == 0 {
		opt.Dialer.Timeout = cfg.DialTimeout
	}
	opt.OnInvalidations = cfg.OnInvalidations
	if n := cfg.MaxRetries; n > 0 {
		opt.RetryDelay = func(attempts int, _ rueidis.Completed, _ error) time.Duration {
			if attempts >= n {
				return -1 // give up: the caller answers now
			}
			return time.Duration(attempts+1) * 10 * time.Millisecond
		}
	}
	return opt, nil
}

// New connects to Redis. It fails when Redis does not answer.
func New(cfg Config) (rueidis.Client, error) {
	opt, err := Options(cfg)
	if err != nil {
		return nil, err
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to redis %s: %w", strings.Join(opt.InitAddress, ","), err)
	}
	return c, nil
}

// Ping reports whether Redis answers within timeout.
func Ping(ctx context.Context, c rueidis.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return c.Do(ctx, c.B().Ping().Build()).Error()
}
