package link

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/shortener/shortener/pkg/redisx"
)

// Defaults of Config.
const (
	DefaultTTL      = 365 * 24 * time.Hour
	DefaultCacheTTL = time.Hour
	MaxTTL          = 100 * 365 * 24 * time.Hour
	MaxListLimit    = 1000
	// TombstoneRetention is how long an expired code keeps answering 410
	// (and cannot be taken again) after its expiry.
	TombstoneRetention = 30 * 24 * time.Hour
	createAttempts     = 16
	internSlots        = 1 << 16
)

// AnonymousOwner is how links created without an API key show their owner.
const AnonymousOwner = "anonymous"

// anonTag is the owner part of keys for anonymous links; it cannot be an owner name.
const anonTag = "~anon"

// Config configures a Store.
type Config struct {
	Keys   redisx.Keyspace
	Policy *URLPolicy
	// DefaultTTL applies when a create request has neither ttl nor
	// expires_at; 0 means such links never expire.
	DefaultTTL time.Duration
	// CacheTTL bounds how long a resolved code (or a miss) stays in the
	// client-side cache without a Redis invalidation.
	CacheTTL time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Fallback, when set, serves recently resolved codes while Redis is
	// unreachable (see Fallback).
	Fallback *Fallback
	// Describe, when set, renders a link as the API shows it; the store
	// then appends a link event (see Event) with that data to the link's
	// click stream on every create, update and delete of an owned link.
	Describe func(l *Link) []byte
}

// Store keeps links in Redis. It is safe for concurrent use.
type Store struct {
	c   rueidis.Client
	cfg Config
	now func() time.Time

	linkPrefix []string                 // per partition, the link key prefix
	intern     []atomic.Pointer[string] // recently built link keys, by code hash
}

// NewStore returns a Store over c.
func NewStore(c rueidis.Client, cfg Config) *Store {
	if cfg.Policy == nil {
		cfg.Policy, _ = NewURLPolicy(0, "", nil)
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	s := &Store{c: c, cfg: cfg, now: cfg.Now, intern: make([]atomic.Pointer[string], internSlots)}
	if s.now == nil {
		s.now = time.Now
	}
	for p := 0; p < cfg.Keys.Partitions; p++ {
		s.linkPrefix = append(s.linkPrefix, cfg.Keys.LinkPrefix(p))
	}
	return s
}

// Policy returns the URL policy of the store.
func (s *Store) Policy() *URLPolicy { return s.cfg.Policy }

// linkKey returns the record key of code without allocating when the same
// code was resolved recently: built keys are kept in a lock-free table
// indexed by the code's hash (a collision only costs an allocation).
func (s *Store) linkKey(code []byte) string {
	h := redisx.Hash(code)
	prefix := s.linkPrefix[h%uint32(len(s.linkPrefix))]
	slot := &s.intern[h&(internSlots-1)]
	if k := slot.Load(); k != nil && len(*k) == len(prefix)+len(code) && (*k)[len(prefix):] == string(code) {
		return *k
	}
	k := prefix + string(code)
	slot.Store(&k)
	return k
}

// Resolve returns the target of code through the client-side cache: a hot
// code (or a known miss) costs no Redis round trip. It returns ErrNotFound
// or ErrExpired bare (no wrapping: this is the hot path). code is only read
// during the call.
func (s *Store) Resolve(ctx context.Context, code []byte) (Target, error) {
	key := s.linkKey(code)
	res := s.c.DoCache(ctx, s.c.B().Get().Key(key).Cache(), s.cfg.CacheTTL)
	str, err := res.ToString()
	cached := res.IsCacheHit()
	fb := s.cfg.Fallback
	if err != nil {
		if rueidis.IsRedisNil(err) {
			if fb != nil && !cached {
				fb.Contact()
				fb.forget(key)
			}
			return Target{Cached: cached}, ErrNotFound
		}
		if fb == nil || res.NonRedisError() == nil {
			return Target{}, err
		}
		// Redis cannot be reached: serve what it said last, for a while.
		rec, ok := fb.get(key, s.now())
		if !ok {
			return Target{}, err
		}
		str, cached = rec, true
		t, ok := parseTarget(str)
		if !ok {
			return Target{}, err
		}
		t.Stale = true
		return s.checkExpiry(t)
	} else if fb != nil && !cached {
		fb.Contact()
		fb.put(key, str)
	}
	t, ok := parseTarget(str)
	if !ok {
		return Target{}, errBadRecord
	}
	t.Cached = cached
	return s.checkExpiry(t)
}

func (s *Store) checkExpiry(t Target) (Target, error) {
	if t.Tombstone || t.ExpiresMs != 0 && s.now().UnixMilli() >= t.ExpiresMs {
		return t, ErrExpired
	}
	return t, nil
}

// takeScript counts one redirect of a link with a click limit, atomically
// on the link's slot: it answers 1 while the limit allows, 0 after. The
// counter never goes past the limit and expires with the link.
var takeScript = redisx.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return 0 end
n = redis.call('INCR', KEYS[1])
if n == 1 and ARGV[2] ~= '0' then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return 1
`)

// ErrExhausted means a link's max_clicks are used up.
var ErrExhausted = errors.New("link: click limit reached")

// Take enforces the click limit of a resolved target: with consume it
// counts one redirect (a GET), else it only checks (a HEAD). It returns
// ErrExhausted once MaxClicks redirects were served. Targets without a
// limit cost nothing. Exactly MaxClicks redirects succeed however many edges
// race for the last ones.
func (s *Store) Take(ctx context.Context, code []byte, t Target, consume bool) error {
	if t.MaxClicks <= 0 {
		return nil
	}
	key := s.cfg.Keys.ClickLimit(string(code))
	if !consume {
		n, err := s.c.Do(ctx, s.c.B().Get().Key(key).Build()).AsInt64()
		if err != nil && !rueidis.IsRedisNil(err) {
			return err
		}
		if n >= t.MaxClicks {
			return ErrExhausted
		}
		return nil
	}
	exp := "0"
	if t.ExpiresMs != 0 {
		exp = strconv.FormatInt(t.ExpiresMs+TombstoneRetention.Milliseconds(), 10)
	}
	n, err := takeScript.ExecMulti(ctx, s.c, redisx.Call{Keys: []string{key}, Args: []string{strconv.FormatInt(t.MaxClicks, 10), exp}})[0].AsInt64()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrExhausted
	}
	return nil
}

// ClicksTaken returns how many redirects a link with a click limit served.
func (s *Store) ClicksTaken(ctx context.Context, code string) (int64, error) {
	n, err := s.c.Do(ctx, s.c.B().Get().Key(s.cfg.Keys.ClickLimit(code)).Build()).AsInt64()
	if err != nil && !rueidis.IsRedisNil(err) {
		return 0, fmt.Errorf("read click limit of %q: %w", code, err)
	}
	return n, nil
}

// sweepScript turns the expired links of one partition into tombstones:
// their record loses its data (keeping the code answering 410 for
// TombstoneRetention), their analytics and counters are deleted, and they
// leave the expiry and top-links indexes. Per-day analytics keys expire by
// themselves no later than the link. KEYS: expiry index, top links. ARGV:
// now ms, batch, link prefix, tombstone TTL s, analytics prefix, click
// limit prefix.
var sweepScript = redisx.NewScript(`
local codes = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
local swept = 0
for _, code in ipairs(codes) do
  local rk = ARGV[3] .. code
  local rec = redis.call('GET', rk)
  local gone = true
  if rec and string.sub(rec, 1, 2) ~= 'x\n' then
    local exp = string.match(rec, '^[12]\n%d+\n(%d+)\n')
    if exp and exp ~= '0' and tonumber(exp) <= tonumber(ARGV[1]) then
      redis.call('SET', rk, 'x\n' .. exp, 'PXAT', tonumber(exp) + tonumber(ARGV[4]) * 1000)
    elseif exp then
      -- the link's expiry moved: fix its index entry, keep its data
      redis.call('ZADD', KEYS[1], exp == '0' and '+inf' or exp, code)
      gone = false
    end
  end
  if gone then
    local base = ARGV[5] .. code
    redis.call('DEL', base, base .. ':d', base .. ':h', base .. ':r', ARGV[6] .. code)
    redis.call('ZREM', KEYS[1], code)
    redis.call('ZREM', KEYS[2], code)
    swept = swept + 1
  end
end
return {#codes, swept}
`)

// SweepBatch is the most links one Sweep call handles.
const SweepBatch = 500

// Sweep tombstones up to SweepBatch expired links of partition p. It
// returns how many index entries it looked at (call again while that is
// SweepBatch) and how many links it tombstoned.
func (s *Store) Sweep(ctx context.Context, p int) (looked, swept int, err error) {
	k := s.cfg.Keys
	n, err := sweepScript.ExecMulti(ctx, s.c, redisx.Call{
		Keys: []string{k.Expiry(p), k.Top(p)},
		Args: []string{strconv.FormatInt(s.now().UnixMilli(), 10), strconv.Itoa(SweepBatch), k.LinkPrefix(p),
			strconv.Itoa(int(TombstoneRetention / time.Second)), k.AnalyticsPrefix(p), k.ClickLimitPrefix(p)},
	})[0].AsIntSlice()
	if err != nil || len(n) != 2 {
		return 0, 0, fmt.Errorf("sweep partition %d: %w", p, err)
	}
	return int(n[0]), int(n[1]), nil
}

// CreateRequest asks for a new link.
type CreateRequest struct {
	URL        string
	CustomCode string
	Owner      string // "" for anonymous
	TTL        time.Duration
	ExpiresAt  time.Time
	MaxClicks  int64
	Dedupe     bool
	Options    OptionsRequest
}

// ValidOwner reports whether name can own links and API keys.
func ValidOwner(name string) bool {
	if name == "" || len(name) > 64 || name == AnonymousOwner {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(codeByte(c) || c == '.' || c == '@') {
			return false
		}
	}
	return true
}

func (s *Store) validate(req *CreateRequest, now time.Time) (expires time.Time, err error) {
	if err := s.cfg.Policy.Check(req.URL); err != nil {
		return expires, err
	}
	if req.CustomCode != "" {
		if err := ValidateCustomCode(req.CustomCode); err != nil {
			return expires, err
		}
	}
	if req.Owner != "" && !ValidOwner(req.Owner) {
		return expires, ErrOwner
	}
	if req.MaxClicks < 0 {
		return expires, ErrMaxClicks
	}
	switch {
	case req.TTL != 0 && !req.ExpiresAt.IsZero():
		return expires, ErrTTLAndExpiresAt
	case req.TTL < 0 || req.TTL > MaxTTL:
		return expires, ErrTTL
	case req.TTL > 0:
		expires = now.Add(req.TTL)
	case !req.ExpiresAt.IsZero():
		if !req.ExpiresAt.After(now) || req.ExpiresAt.Sub(now) > MaxTTL {
			return expires, ErrExpiresAt
		}
		expires = req.ExpiresAt
	case s.cfg.DefaultTTL > 0:
		expires = now.Add(s.cfg.DefaultTTL)
	}
	if !expires.IsZero() && !expires.Equal(expires.Truncate(time.Second)) {
		// whole seconds, rounded up: the API shows expires_at to the second
		expires = expires.Truncate(time.Second).Add(time.Second)
	}
	return expires, nil
}

// createScript sets the record only if the code is free (SET NX: two
// creators can never both get a code) and indexes it by expiry, atomically
// on the link's slot, with its link event (ARGV[5], if any) appended to the
// partition's stream (KEYS[3]). The write invalidates any cached miss of
// the code.
var createScript = rueidis.NewLuaScript(`
local ok
if ARGV[2] ~= '0' then
  ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PXAT', ARGV[2])
else
  ok = redis.call('SET', KEYS[1], ARGV[1], 'NX')
end
if not ok then return 0 end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
if ARGV[5] ~= '' then redis.call('XADD', KEYS[3], '*', 'l', ARGV[5]) end
return 1
`)

// deleteScript removes every key of a link, but only if the record is still
// the one the caller checked (a code deleted and re-created in between is
// left alone), and appends its link event (ARGV[3], if any) to the
// partition's stream. KEYS: record, expiry index, top links, stream, then
// the other keys of the link.
var deleteScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
for i = 5, #KEYS do redis.call('DEL', KEYS[i]) end
if ARGV[3] ~= '' then redis.call('XADD', KEYS[4], '*', 'l', ARGV[3]) end
return 1
`)

// casScript sets or deletes KEYS[1] only while it holds ARGV[1].
var casScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]); return 1 end
if ARGV[3] ~= '0' then redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3]) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1
`)

// Create stores a new link. With Dedupe (and no custom code) it returns the
// owner's existing link for the same URL instead, with existing = true.
func (s *Store) Create(ctx context.Context, req CreateRequest) (l Link, existing bool, err error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	expires, err := s.validate(&req, now)
	if err != nil {
		return l, false, err
	}
	opts, err := s.options(req.Options)
	if err != nil {
		return l, false, err
	}
	l = Link{URL: req.URL, Owner: req.Owner, CreatedAt: now, ExpiresAt: expires, MaxClicks: req.MaxClicks, Options: opts}
	if req.Dedupe && req.CustomCode == "" {
		return s.createDeduped(ctx, l)
	}
	if req.CustomCode != "" {
		l.Code = req.CustomCode
		ok, err := s.insert(ctx, &l)
		if err != nil {
			return l, false, err
		}
		if !ok {
			return l, false, ErrCodeTaken
		}
		return l, false, s.indexOwner(ctx, &l)
	}
	if err := s.insertRandom(ctx, &l); err != nil {
		return l, false, err
	}
	return l, false, s.indexOwner(ctx, &l)
}

func (s *Store) insertRandom(ctx context.Context, l *Link) error {
	for i := 0; i < createAttempts; i++ {
		l.Code = NewCode()
		ok, err := s.insert(ctx, l)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("no free code after %d attempts", createAttempts)
}

func (s *Store) insert(ctx context.Context, l *Link) (bool, error) {
	p := s.cfg.Keys.Partition(l.Code)
	pxat, score := "0", "+inf"
	if !l.ExpiresAt.IsZero() {
		// The record outlives the expiry so every edge answers 410 until
		// the sweeper replaces it with a tombstone.
		pxat = strconv.FormatInt(l.ExpiresAt.Add(TombstoneRetention).UnixMilli(), 10)
		score = strconv.FormatInt(l.ExpiresAt.UnixMilli(), 10)
	}
	n, err := createScript.Exec(ctx, s.c,
		[]string{s.cfg.Keys.Link(l.Code), s.cfg.Keys.Expiry(p), s.cfg.Keys.Stream(p)},
		[]string{encode(l), pxat, l.Code, score, s.event(EventCreated, l)}).AsInt64()
	if err != nil {
		return false, fmt.Errorf("create %q: %w", l.Code, err)
	}
	return n == 1, nil
}

func ownerTag(owner string) string {
	if owner == "" {
		return anonTag
	}
	return owner
}

func ownerMember(l *Link) string {
	return fmt.Sprintf("%013d:%s", l.CreatedAt.UnixMilli(), l.Code)
}

func (s *Store) indexOwner(ctx context.Context, l *Link) error {
	if l.Owner == "" {
		return nil // anonymous links are listed by nobody
	}
	m := ownerMember(l)
	cmds := rueidis.Commands{s.c.B().Zadd().Key(s.cfg.Keys.Owner(l.Owner)).ScoreMember().ScoreMember(0, m).Build()}
	for _, t := range l.Options.Tags {
		cmds = append(cmds, s.c.B().Zadd().Key(s.cfg.Keys.OwnerTag(l.Owner, t)).ScoreMember().ScoreMember(0, m).Build())
	}
	for _, r := range s.c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("index %q under owner: %w", l.Code, err)
		}
	}
	return nil
}

// retag moves a link between its owner's tag indexes.
func (s *Store) retag(ctx context.Context, l *Link, old []string) error {
	if l.Owner == "" {
		return nil
	}
	m := ownerMember(l)
	now := map[string]bool{}
	for _, t := range l.Options.Tags {
		now[t] = true
	}
	var cmds rueidis.Commands
	for _, t := range old {
		if !now[t] {
			cmds = append(cmds, s.c.B().Zrem().Key(s.cfg.Keys.OwnerTag(l.Owner, t)).Member(m).Build())
		}
	}
	for _, t := range l.Options.Tags {
		cmds = append(cmds, s.c.B().Zadd().Key(s.cfg.Keys.OwnerTag(l.Owner, t)).ScoreMember().ScoreMember(0, m).Build())
	}
	for _, r := range s.c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("retag %q: %w", l.Code, err)
		}
	}
	return nil
}

func urlDigest(u string) string {
	sum := sha256.Sum256([]byte(u))
	return hex.EncodeToString(sum[:12])
}

func pxatArg(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// createDeduped reserves the (owner, URL) pair with SET NX before creating
// the link, so two concurrent deduped creates of one URL make one link.
func (s *Store) createDeduped(ctx context.Context, l Link) (Link, bool, error) {
	dkey := s.cfg.Keys.Dedupe(ownerTag(l.Owner), urlDigest(l.URL))
	for attempt := 0; attempt < 3; attempt++ {
		l.Code = NewCode()
		set := s.c.B().Set().Key(dkey).Value(l.Code).Nx()
		var cmd rueidis.Completed
		if l.ExpiresAt.IsZero() {
			cmd = set.Build()
		} else {
			cmd = set.Pxat(l.ExpiresAt).Build()
		}
		err := s.c.Do(ctx, cmd).Error()
		if err == nil { // reserved: create under the reserved code
			for i := 0; i < createAttempts; i++ {
				ok, err := s.insert(ctx, &l)
				if err != nil {
					return l, false, err
				}
				if ok {
					return l, false, s.indexOwner(ctx, &l)
				}
				old := l.Code
				l.Code = NewCode()
				if _, err := casScript.Exec(ctx, s.c, []string{dkey}, []string{old, l.Code, pxatArg(l.ExpiresAt)}).AsInt64(); err != nil {
					return l, false, fmt.Errorf("dedupe reservation: %w", err)
				}
			}
			return l, false, fmt.Errorf("no free code after %d attempts", createAttempts)
		}
		if !rueidis.IsRedisNil(err) {
			return l, false, fmt.Errorf("dedupe reservation: %w", err)
		}
		// Reserved by someone: wait for that link to appear.
		for wait := 0; wait < 20; wait++ {
			code, err := s.c.Do(ctx, s.c.B().Get().Key(dkey).Build()).ToString()
			if rueidis.IsRedisNil(err) {
				break // released: try to reserve again
			}
			if err != nil {
				return l, false, fmt.Errorf("dedupe lookup: %w", err)
			}
			got, err := s.Get(ctx, code)
			if err == nil && got.URL == l.URL && got.Owner == l.Owner {
				return got, true, nil
			}
			if err == nil || errors.Is(err, ErrExpired) {
				// digest collision or an old link: no dedupe for this URL
				if err := s.insertRandom(ctx, &l); err != nil {
					return l, false, err
				}
				return l, false, s.indexOwner(ctx, &l)
			}
			if !errors.Is(err, ErrNotFound) {
				return l, false, err
			}
			if wait == 19 { // the reserving creator died: take the reservation over
				if _, err := casScript.Exec(ctx, s.c, []string{dkey}, []string{code, ""}).AsInt64(); err != nil {
					return l, false, fmt.Errorf("dedupe reservation: %w", err)
				}
				break
			}
			select {
			case <-ctx.Done():
				return l, false, ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return l, false, errors.New("dedupe reservation kept changing")
}

// Get reads a link from Redis (not from the cache: the API shows what Redis
// holds now). It returns ErrNotFound, or the link with ErrExpired.
func (s *Store) Get(ctx context.Context, code string) (Link, error) {
	l, _, err := s.getRaw(ctx, code)
	return l, err
}

// Delete removes a link and every key it owns. Only its owner or an admin
// may delete it: others get ErrForbidden and nothing changes.
func (s *Store) Delete(ctx context.Context, code, caller string, admin bool) error {
	if !ValidLookup(code) {
		return ErrNotFound
	}
	key := s.cfg.Keys.Link(code)
	raw, err := s.c.Do(ctx, s.c.B().Get().Key(key).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("delete %q: %w", code, err)
	}
	l := Link{Code: code}
	if err := decode(raw, &l); err != nil {
		if !errors.Is(err, errTombstone) {
			return fmt.Errorf("delete %q: %w", code, err)
		}
		if !admin { // nothing is left but the 410 marker, whose owner is unknown
			return ErrExpired
		}
		if err := s.c.Do(ctx, s.c.B().Del().Key(key).Build()).Error(); err != nil {
			return fmt.Errorf("delete %q: %w", code, err)
		}
		return nil
	}
	if !admin && (l.Owner == "" || l.Owner != caller) {
		return ErrForbidden
	}
	p := s.cfg.Keys.Partition(code)
	linkKeys := s.cfg.Keys.LinkKeys(code, s.now()) // the record first, then the rest
	keys := make([]string, 0, len(linkKeys)+3)
	keys = append(keys, linkKeys[0], s.cfg.Keys.Expiry(p), s.cfg.Keys.Top(p), s.cfg.Keys.Stream(p))
	keys = append(keys, linkKeys[1:]...)
	n, err := deleteScript.Exec(ctx, s.c, keys, []string{raw, code, s.event(EventDeleted, &l)}).AsInt64()
	if err != nil {
		return fmt.Errorf("delete %q: %w", code, err)
	}
	if n == 0 {
		return ErrNotFound // changed or deleted meanwhile
	}
	if l.Owner != "" {
		cmds := rueidis.Commands{s.c.B().Zrem().Key(s.cfg.Keys.Owner(l.Owner)).Member(ownerMember(&l)).Build()}
		for _, t := range l.Options.Tags {
			cmds = append(cmds, s.c.B().Zrem().Key(s.cfg.Keys.OwnerTag(l.Owner, t)).Member(ownerMember(&l)).Build())
		}
		for _, r := range s.c.DoMulti(ctx, cmds...) {
			if err := r.Error(); err != nil {
				return fmt.Errorf("delete %q from owner index: %w", code, err)
			}
		}
	}
	dkey := s.cfg.Keys.Dedupe(ownerTag(l.Owner), urlDigest(l.URL))
	if err := casScript.Exec(ctx, s.c, []string{dkey}, []string{code, ""}).Error(); err != nil {
		return fmt.Errorf("delete %q dedupe entry: %w", code, err)
	}
	return nil
}

// ErrCursor means a list cursor was not one this service issued.
var ErrCursor = errors.New("cursor is invalid")

// List returns an owner's links, newest first, limit at a time. cursor is ""
// for the first page or the next cursor of the previous page; next is ""
// after the last page.
func (s *Store) List(ctx context.Context, owner, tag, cursor string, limit int) (links []Link, next string, err error) {
	if limit <= 0 || limit > MaxListLimit {
		return nil, "", fmt.Errorf("limit must be 1 to %d", MaxListLimit)
	}
	start := "+"
	if cursor != "" {
		m, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !validMember(string(m)) {
			return nil, "", ErrCursor
		}
		start = "(" + string(m)
	}
	okey := s.cfg.Keys.Owner(owner)
	if tag != "" {
		okey = s.cfg.Keys.OwnerTag(owner, tag)
	}
	now := s.now()
	for len(links) < limit {
		members, err := s.c.Do(ctx, s.c.B().Zrange().Key(okey).Min(start).Max("-").Bylex().Rev().Limit(0, int64(limit-len(links)+1)).Build()).AsStrSlice()
		if err != nil {
			return nil, "", fmt.Errorf("list %q: %w", owner, err)
		}
		more := len(members) > limit-len(links)
		if more {
			members = members[:limit-len(links)]
		}
		if len(members) == 0 {
			return links, "", nil
		}
		cmds := make(rueidis.Commands, len(members))
		codes := make([]string, len(members))
		for i, m := range members {
			codes[i] = m[14:]
			cmds[i] = s.c.B().Get().Key(s.cfg.Keys.Link(codes[i])).Build()
		}
		var stale []string
		for i, r := range s.c.DoMulti(ctx, cmds...) {
			raw, err := r.ToString()
			if rueidis.IsRedisNil(err) {
				stale = append(stale, members[i])
				continue
			}
			if err != nil {
				return nil, "", fmt.Errorf("list %q: %w", owner, err)
			}
			l := Link{Code: codes[i]}
			if decode(raw, &l) != nil || l.Owner != owner || (tag != "" && !hasTag(&l, tag)) {
				stale = append(stale, members[i]) // a tombstone, the code taken again, or retagged
				continue
			}
			if l.Expired(now) {
				continue
			}
			links = append(links, l)
		}
		if len(stale) > 0 { // expired or deleted: drop from the index
			_ = s.c.Do(ctx, s.c.B().Zrem().Key(okey).Member(stale...).Build()).Error()
		}
		start = "(" + members[len(members)-1]
		if !more {
			return links, "", nil
		}
	}
	return links, base64.RawURLEncoding.EncodeToString([]byte(start[1:])), nil
}

func validMember(m string) bool {
	if len(m) < 15 || m[13] != ':' {
		return false
	}
	for i := 0; i < 13; i++ {
		if m[i] < '0' || m[i] > '9' {
			return false
		}
	}
	return ValidLookup(m[14:])
}

// Count returns the number of links that have not expired.
func (s *Store) Count(ctx context.Context) (int64, error) {
	now := "(" + strconv.FormatInt(s.now().UnixMilli(), 10)
	cmds := make(rueidis.Commands, s.cfg.Keys.Partitions)
	for p := range cmds {
		cmds[p] = s.c.B().Zcount().Key(s.cfg.Keys.Expiry(p)).Min(now).Max("+inf").Build()
	}
	var total int64
	for _, r := range s.c.DoMulti(ctx, cmds...) {
		n, err := r.AsInt64()
		if err != nil {
			return 0, fmt.Errorf("count links: %w", err)
		}
		total += n
	}
	return total, nil
}

// Clicks returns the all-time click total of each code (0 when none yet).
func (s *Store) Clicks(ctx context.Context, codes ...string) ([]int64, error) {
	out := make([]int64, len(codes))
	if len(codes) == 0 {
		return out, nil
	}
	cmds := make(rueidis.Commands, len(codes))
	for i, c := range codes {
		cmds[i] = s.c.B().Hmget().Key(s.cfg.Keys.ClickTotals(c)).Field("human", "bot").Build()
	}
	for i, r := range s.c.DoMulti(ctx, cmds...) {
		vals, err := r.ToArray()
		if err != nil && !rueidis.IsRedisNil(err) {
			return nil, fmt.Errorf("read clicks: %w", err)
		}
		for _, v := range vals { // total_clicks is human + bot
			n, _ := v.AsInt64()
			out[i] += n
		}
	}
	return out, nil
}

// TotalClicks returns the number of clicks ever counted, over all links.
func (s *Store) TotalClicks(ctx context.Context) (int64, error) {
	cmds := make(rueidis.Commands, s.cfg.Keys.Partitions)
	for p := range cmds {
		cmds[p] = s.c.B().Get().Key(s.cfg.Keys.PartitionClicks(p)).Build()
	}
	var total int64
	for _, r := range s.c.DoMulti(ctx, cmds...) {
		n, err := r.AsInt64()
		if err != nil && !rueidis.IsRedisNil(err) {
			return 0, fmt.Errorf("read total clicks: %w", err)
		}
		total += n
	}
	return total, nil
}

// RunSweeper sweeps every partition each interval until ctx ends, calling
// swept with the number of links tombstoned in each pass.
func (s *Store) RunSweeper(ctx context.Context, interval time.Duration, log *slog.Logger, swept func(n int)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		total := 0
		for p := 0; p < s.cfg.Keys.Partitions && ctx.Err() == nil; p++ {
			for ctx.Err() == nil {
				looked, n, err := s.Sweep(ctx, p)
				if err != nil {
					log.Warn("sweep failed", "partition", p, "err", err)
					break
				}
				total += n
				if looked < SweepBatch {
					break
				}
			}
		}
		if total > 0 {
			log.Info("expired links swept", "links", total)
		}
		if swept != nil {
			swept(total)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func hasTag(l *Link, tag string) bool {
	for _, t := range l.Options.Tags {
		if t == tag {
			return true
		}
	}
	return false
}
