// Package ratelimit limits requests per identity (an API key, a client IP)
// with a sliding window kept in Redis, so that one limit holds across every
// edge process sharing that Redis.
//
// # Algorithm
//
// An exact sliding window would keep a log of request times: exact, but one
// entry per request. Instead every (bucket, identity) has one small hash with
// the counts of two fixed windows, the current one and the one before it
// (the sliding-window-counter approximation that Cloudflare describes).
// Windows are aligned to multiples of Window on the Redis server's clock. At
// e into the current window, the requests in the last Window are estimated as
//
//	used = cur + ceil(prev × (Window − e) / Window)
//
// which assumes the previous window's requests were spread evenly across it.
// A request is allowed, and counted, when used < N. A refused request is
// not counted, so a client that keeps retrying while limited does not
// extend its own wait. One refinement: the hash also keeps the time of the
// newest request counted in each window, and once the previous window's
// newest request is a full Window old its weight is zero. Those requests
// have certainly left the window, so this only removes error; it is also
// what keeps Decision.RetryAfter and Decision.Reset at most Window.
//
// Every check is one Lua script on one key, so it is atomic and touches one
// Redis Cluster slot. The script reads the time with TIME, so edges whose
// clocks disagree still agree on the windows. The key expires two windows
// after the last allowed request, so idle identities cost nothing.
//
// # Error bound
//
// The true count of previous-window requests still in the sliding window is
// between 0 and prev, and so is the estimate of it, so the estimate differs
// from the exact sliding-window count by at most prev ≤ N requests:
//
//   - In every aligned window at most N requests are allowed, and over any
//     span of k consecutive windows at most k×N.
//   - In an arbitrary interval of length Window at most 2N−1 requests are
//     allowed. That needs an adversary: N requests at the very end of one
//     window, then N−1 at the very end of the next.
//   - A request the exact log would allow may be refused, by at most
//     ceil(prev × (Window − e) / Window) slots, when the previous window's
//     requests came early in it (and not so early that the refinement above
//     applies).
//   - When traffic is spread evenly, the estimate is within one request of
//     the exact count. Cloudflare measured 0.003% of requests wrongly
//     allowed or limited on real traffic.
//   - Rapid requests that straddle a window boundary are still counted
//     exactly while e < Window/prev, thanks to the ceiling.
//
// # Keys
//
// State lives under prefix + "rl:{" + bucket + ":" + identity + "}": the
// whole name inside one hash tag. A bucket or identity that is longer than
// 64 bytes, or has a byte outside '!'…'~', or '{' or '}' (or, for a
// bucket, ':'), is replaced by '~' and its SHA-256 in hex, 65 bytes, so no
// caller can break the hash tag or grow the key, and no plain identity
// (at most 64 bytes) equals a hashed one.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// ErrInvalidLimit is returned by Allow for a limit it cannot apply.
var ErrInvalidLimit = errors.New("ratelimit: window must be 1ms to 366 days, and N × window in ms at most 2^52")

// MaxWindow is the longest Window a Limit may have.
const MaxWindow = 366 * 24 * time.Hour

// maxPart is the longest bucket or identity used in a key as it is.
const maxPart = 64

// Limit is N requests per Window. N <= 0 means unlimited. Window is used in
// whole milliseconds. A new N applies at once to the counts so far; a new
// Window starts every identity of the bucket afresh.
type Limit struct {
	N      int
	Window time.Duration
}

// Decision is the outcome of one check.
type Decision struct {
	// Allowed reports whether the request may proceed; it was counted.
	Allowed bool
	// Limit is the N of the limit applied; <= 0 when none applies, and then
	// no rate-limit headers should be sent.
	Limit int
	// Remaining is how many more requests the window allows after this one.
	Remaining int
	// Reset is how long until the window frees at least one slot, in (0,
	// Window]; zero when no limit applies.
	Reset time.Duration
	// RetryAfter is, for a refused request, how long until a retry can
	// succeed if nothing else is counted meanwhile, in (0, Window]; zero
	// when allowed.
	RetryAfter time.Duration
}

// ResetSeconds is Reset in whole seconds, rounded up, for X-RateLimit-Reset.
func (d Decision) ResetSeconds() int64 { return ceilSeconds(d.Reset) }

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, for Retry-After.
func (d Decision) RetryAfterSeconds() int64 { return ceilSeconds(d.RetryAfter) }

func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// Limiter checks limits against Redis. It is safe for concurrent use; any
// number of Limiters, in any number of processes, may share one Redis.
type Limiter struct {
	c      rueidis.Client
	prefix string
}

// New returns a Limiter that keeps its state in c under keys starting with
// prefix (the Keyspace prefix). It panics if prefix contains '{' or '}',
// which would break the hash tag of every key.
func New(c rueidis.Client, prefix string) *Limiter {
	for i := 0; i < len(prefix); i++ {
		if prefix[i] == '{' || prefix[i] == '}' {
			panic(fmt.Sprintf("ratelimit: key prefix %q must not contain braces", prefix))
		}
	}
	return &Limiter{c: c, prefix: prefix}
}

// Key returns the Redis key holding the state of identity in bucket;
// deleting it clears the identity's count.
func (l *Limiter) Key(bucket, identity string) string {
	return l.prefix + "rl:{" + safePart(bucket, true) + ":" + safePart(identity, false) + "}"
}

// safePart returns s if it is short printable ASCII without braces (nor
// ':' when colon is set), else '~' and its SHA-256 in hex.
func safePart(s string, colon bool) string {
	if len(s) <= maxPart {
		ok := true
		for i := 0; i < len(s); i++ {
			if b := s[i]; b <= ' ' || b >= 0x7f || b == '{' || b == '}' || (colon && b == ':') {
				ok = false
				break
			}
		}
		if ok {
			return s
		}
	}
	sum := sha256.Sum256([]byte(s))
	var out [1 + 2*sha256.Size]byte
	out[0] = '~'
	hex.Encode(out[1:], sum[:])
	return string(out[:])
}

// allowSrc is one check. KEYS[1]: the state hash. ARGV[1]: N; ARGV[2]:
// the window in ms. Fields: w the window (state under another window is
// dropped), s the start of the current window (server ms, a multiple of w),
// c and p the counts of the current and previous windows, cl and pl the
// time of the newest request counted in each. Returns {allowed (0 or 1),
// remaining, reset ms, retry-after ms}. A refused request writes nothing.
const allowSrc = `
local n = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local start = now - now % w
local h = redis.call('HMGET', KEYS[1], 'w', 's', 'c', 'p', 'cl', 'pl')
local cur, prev, curLast, prevLast = 0, 0, 0, 0
if tonumber(h[1]) == w then
  local s = tonumber(h[2]) or 0
  if s >= start then
    -- this window; or a later one if the clock went back (a failover to a
    -- replica whose clock lags): then stay at the start of the stored window
    if s > start then start, now = s, s end
    cur, prev = tonumber(h[3]) or 0, tonumber(h[4]) or 0
    curLast, prevLast = tonumber(h[5]) or 0, tonumber(h[6]) or 0
  elseif s == start - w then
    prev, prevLast = tonumber(h[3]) or 0, tonumber(h[5]) or 0
  end
end
local e = now - start
-- the previous window's weighted count, zero once its newest request is w old
local pw = 0
if prev > 0 and prevLast > now - w then pw = math.ceil(prev * (w - e) / w) end
local allowed, remaining = 0, 0
if cur + pw < n then
  allowed = 1
  cur = cur + 1
  remaining = n - cur - pw
  if now > curLast then curLast = now end
  redis.call('HSET', KEYS[1], 'w', w, 's', start, 'c', cur, 'p', prev, 'cl', curLast, 'pl', prevLast)
  redis.call('PEXPIRE', KEYS[1], 2 * w)
end
-- reset: when the estimate first drops by one
local reset
if pw > 0 then
  reset = math.min(start + w - math.floor((pw - 1) * w / prev), prevLast + w)
else
  reset = math.min(start + w + math.ceil(w / cur), curLast + w)
end
-- retry: when the estimate first drops to n - 1
local retry = now
if allowed == 0 then
  local room = n - 1 - cur
  if room >= 0 then
    retry = math.min(start + w - math.floor(room * w / prev), prevLast + w)
  else
    retry = math.min(start + 2 * w - math.floor((n - 1) * w / cur), curLast + w)
  end
end
return {allowed, remaining, reset - now, retry - now}
`

var allowScript = rueidis.NewLuaScript(allowSrc)

// Allow records one request of identity in bucket (e.g. "create", "api") if
// lim lets it, atomically. A refused request is not recorded. An unlimited
// lim (N <= 0) is allowed without touching Redis. Bucket names a limit;
// identity is whom it applies to and may be any string, hostile included.
func (l *Limiter) Allow(ctx context.Context, bucket, identity string, lim Limit) (Decision, error) {
	if lim.N <= 0 {
		return Decision{Allowed: true, Limit: lim.N}, nil
	}
	w := lim.Window.Milliseconds()
	if w < 1 || lim.Window > MaxWindow || int64(lim.N) > (1<<52)/w {
		return Decision{}, ErrInvalidLimit
	}
	res, err := allowScript.Exec(ctx, l.c,
		[]string{l.Key(bucket, identity)},
		[]string{strconv.Itoa(lim.N), strconv.FormatInt(w, 10)}).ToArray()
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit %q: %w", bucket, err)
	}
	var v [4]int64
	if len(res) != len(v) {
		return Decision{}, fmt.Errorf("rate limit %q: script returned %d values, want %d", bucket, len(res), len(v))
	}
	for i := range v {
		if v[i], err = res[i].AsInt64(); err != nil {
			return Decision{}, fmt.Errorf("rate limit %q: %w", bucket, err)
		}
	}
	return Decision{
		Allowed:    v[0] == 1,
		Limit:      lim.N,
		Remaining:  int(v[1]),
		Reset:      time.Duration(v[2]) * time.Millisecond,
		RetryAfter: time.Duration(v[3]) * time.Millisecond,
	}, nil
}
