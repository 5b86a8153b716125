// Package webhook holds webhook subscriptions and their delivery.
//
// A subscription belongs to an owner (the owner of the API key that made
// it) and names an HTTP(S) URL, the event types it wants (click,
// link.created, link.updated, link.deleted) and a signing secret. The
// Dispatcher, a consumer group of its own on the click streams, turns each
// event of a subscribed owner into one queued delivery per subscription,
// posts it signed in the Standard Webhooks style, retries it with
// exponential backoff, and after its last try keeps it in a dead-letter
// stream from which the API replays it. Registry.Update changes a
// subscription and rotates its secret (the replaced one keeps signing,
// next to the new, for SecretGrace); Registry.SendTest queues a
// webhook.test delivery to one subscription.
package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redisx"
)

// Event types a subscription may ask for.
const (
	EventClick       = "click"
	EventLinkCreated = link.EventCreated
	EventLinkUpdated = link.EventUpdated
	EventLinkDeleted = link.EventDeleted
)

// EventTypes lists every event type, in the order the API documents them.
var EventTypes = []string{EventClick, EventLinkCreated, EventLinkUpdated, EventLinkDeleted}

// EventTest is the type of the delivery SendTest queues. No subscription
// asks for it: it goes to the one subscription tested, on request.
const EventTest = "webhook.test"

// Limits of a subscription.
const (
	MaxPerOwner    = 25
	MaxURLLen      = 2048
	MaxDescription = 256
	// SecretPrefix starts every secret, as in Standard Webhooks.
	SecretPrefix  = "whsec_"
	minSecretSize = 24 // bytes of key material
	maxSecretSize = 64
	// DefaultCacheTTL bounds how long the dispatcher's cached view of an
	// owner's subscriptions lives without a Redis invalidation.
	DefaultCacheTTL = time.Hour
	// SecretGrace is how long the secret a rotation replaced keeps signing
	// deliveries next to the new one, as Standard Webhooks suggests.
	SecretGrace = 24 * time.Hour
	// maxUpdateTries bounds Update's compare-and-set retries.
	maxUpdateTries = 16
)

// Errors of Registry. The validation errors are the answer's detail as is.
var (
	ErrNotFound    = errors.New("no such webhook")
	ErrTooMany     = fmt.Errorf("an owner may have at most %d webhooks", MaxPerOwner)
	ErrURL         = errors.New("invalid webhook url")
	ErrEvents      = errors.New("invalid events")
	ErrSecret      = errors.New("invalid secret")
	ErrDescription = fmt.Errorf("description must be at most %d bytes of printable text", MaxDescription)
	ErrConflict    = fmt.Errorf("the webhook changed concurrently %d times; try again", maxUpdateTries)
)

// Subscription is one webhook.
type Subscription struct {
	ID          string    `json:"id"`
	Owner       string    `json:"owner"`
	URL         string    `json:"url"`
	Events      []string  `json:"events"`
	Description string    `json:"description"`
	Secret      string    `json:"secret"`
	CreatedAt   time.Time `json:"created_at"`
	// PreviousSecret is the secret the last rotation replaced: until
	// PreviousSecretExpiresAt, deliveries carry its signature too.
	PreviousSecret          string    `json:"previous_secret,omitempty"`
	PreviousSecretExpiresAt time.Time `json:"previous_secret_expires_at,omitzero"`
}

// Wants reports whether s subscribes to events of type typ.
func (s *Subscription) Wants(typ string) bool { return slices.Contains(s.Events, typ) }

// ActivePreviousSecret returns the previous secret while it still signs
// deliveries at now (before PreviousSecretExpiresAt), else "".
func (s *Subscription) ActivePreviousSecret(now time.Time) string {
	if s.PreviousSecret == "" || !now.Before(s.PreviousSecretExpiresAt) {
		return ""
	}
	return s.PreviousSecret
}

// CreateRequest asks for a new subscription.
type CreateRequest struct {
	URL         string
	Events      []string
	Description string
	// Secret is a "whsec_" + base64 secret of 24 to 64 bytes; "" makes a
	// new random one.
	Secret string
}

// UpdateRequest changes a subscription; nil fields stay as they are.
type UpdateRequest struct {
	URL         *string
	Events      *[]string
	Description *string
	// RotateSecret replaces the secret by a new random one; the old one
	// becomes the previous secret for SecretGrace (and a previous secret
	// still in its grace is dropped).
	RotateSecret bool
}

// RegistryConfig configures a Registry.
type RegistryConfig struct {
	Keys redisx.Keyspace
	// AllowPrivate accepts target URLs on loopback and private addresses
	// (for tests and in-cluster receivers). The dispatcher checks every
	// address it connects to as well (see Guard).
	AllowPrivate bool
	// CacheTTL bounds ForOwner's client-side caching; 0 means DefaultCacheTTL.
	CacheTTL time.Duration
	Now      func() time.Time
}

// Registry stores subscriptions in Redis, one hash per owner (the key
// Webhooks(owner)). It is safe for concurrent use.
type Registry struct {
	c   rueidis.Client
	cfg RegistryConfig
	now func() time.Time
	// beforeSet, if set, runs in Update between reading a record and
	// setting it (tests make conflicts with it).
	beforeSet func()
}

// NewRegistry returns a Registry over c.
func NewRegistry(c rueidis.Client, cfg RegistryConfig) *Registry {
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	r := &Registry{c: c, cfg: cfg, now: cfg.Now}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

// createScript adds a subscription unless the owner has MaxPerOwner.
var createScript = redisx.NewScript(`
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`)

// Create validates req and stores a new subscription of owner.
func (r *Registry) Create(ctx context.Context, owner string, req CreateRequest) (Subscription, error) {
	if !link.ValidOwner(owner) {
		return Subscription{}, fmt.Errorf("webhook: invalid owner %q", owner)
	}
	if err := CheckURL(req.URL, r.cfg.AllowPrivate); err != nil {
		return Subscription{}, err
	}
	events, err := checkEvents(req.Events)
	if err != nil {
		return Subscription{}, err
	}
	if err := checkDescription(req.Description); err != nil {
		return Subscription{}, err
	}
	secret := req.Secret
	if secret == "" {
		secret = NewSecret()
	} else if _, err := SecretKey(secret); err != nil {
		return Subscription{}, err
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	s := Subscription{ID: "wh_" + hex.EncodeToString(id), Owner: owner, URL: req.URL, Events: events,
		Description: req.Description, Secret: secret, CreatedAt: r.now().UTC().Truncate(time.Second)}
	rec, err := json.Marshal(s)
	if err != nil {
		return Subscription{}, err
	}
	n, err := createScript.ExecMulti(ctx, r.c, redisx.Call{Keys: []string{r.cfg.Keys.Webhooks(owner)},
		Args: []string{s.ID, string(rec), strconv.Itoa(MaxPerOwner)}})[0].AsInt64()
	if err != nil {
		return Subscription{}, fmt.Errorf("create webhook: %w", err)
	}
	if n == 0 {
		return Subscription{}, ErrTooMany
	}
	return s, nil
}

// updateScript replaces a subscription's record if it is still ARGV[2]
// (compare and set). KEYS: the owner's hash. ARGV: id, expected record,
// new record. Returns 1 if set, 0 if the record changed meanwhile, -1 if
// it is gone.
var updateScript = redisx.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return -1 end
if cur ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`)

// Update validates req and applies it to owner's subscription id
// (ErrNotFound if there is none), returning the subscription as stored.
// The change is a compare-and-set of the record, retried on conflict, so
// concurrent updates of different fields all take effect; after
// maxUpdateTries conflicts it gives up with ErrConflict. An invalid
// request, and one that changes nothing, writes nothing.
func (r *Registry) Update(ctx context.Context, owner, id string, req UpdateRequest) (Subscription, error) {
	if !ValidID(id) {
		return Subscription{}, ErrNotFound
	}
	if req.URL != nil {
		if err := CheckURL(*req.URL, r.cfg.AllowPrivate); err != nil {
			return Subscription{}, err
		}
	}
	var events []string
	if req.Events != nil {
		var err error
		if events, err = checkEvents(*req.Events); err != nil {
			return Subscription{}, err
		}
	}
	if req.Description != nil {
		if err := checkDescription(*req.Description); err != nil {
			return Subscription{}, err
		}
	}
	secret := ""
	if req.RotateSecret {
		secret = NewSecret()
	}
	key := r.cfg.Keys.Webhooks(owner)
	for range maxUpdateTries {
		cur, err := r.c.Do(ctx, r.c.B().Hget().Key(key).Field(id).Build()).ToString()
		if rueidis.IsRedisNil(err) {
			return Subscription{}, ErrNotFound
		}
		if err != nil {
			return Subscription{}, fmt.Errorf("update webhook: %w", err)
		}
		var s Subscription
		if err := json.Unmarshal([]byte(cur), &s); err != nil {
			return Subscription{}, fmt.Errorf("update webhook: %w", err)
		}
		was, _ := json.Marshal(s)
		if req.URL != nil {
			s.URL = *req.URL
		}
		if events != nil {
			s.Events = events
		}
		if req.Description != nil {
			s.Description = *req.Description
		}
		now := r.now().UTC().Truncate(time.Second)
		if req.RotateSecret {
			s.PreviousSecret, s.PreviousSecretExpiresAt, s.Secret = s.Secret, now.Add(SecretGrace), secret
		}
		rec, err := json.Marshal(s)
		if err != nil {
			return Subscription{}, err
		}
		if string(rec) == string(was) {
			return s, nil // nothing to change
		}
		if s.PreviousSecret != "" && s.ActivePreviousSecret(now) == "" {
			// a change anyway: drop the expired secret with it
			s.PreviousSecret, s.PreviousSecretExpiresAt = "", time.Time{}
			if rec, err = json.Marshal(s); err != nil {
				return Subscription{}, err
			}
		}
		if r.beforeSet != nil {
			r.beforeSet()
		}
		n, err := updateScript.ExecMulti(ctx, r.c, redisx.Call{Keys: []string{key}, Args: []string{id, cur, string(rec)}})[0].AsInt64()
		switch {
		case err != nil:
			return Subscription{}, fmt.Errorf("update webhook: %w", err)
		case n == 1:
			return s, nil
		case n == -1:
			return Subscription{}, ErrNotFound
		}
		// changed since it was read: apply the request to the new record
	}
	return Subscription{}, ErrConflict
}

// List returns owner's subscriptions, oldest first (ties by ID).
func (r *Registry) List(ctx context.Context, owner string) ([]Subscription, error) {
	m, err := r.c.Do(ctx, r.c.B().Hgetall().Key(r.cfg.Keys.Webhooks(owner)).Build()).AsStrMap()
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return parseAll(m), nil
}

// ForOwner is List through the client-side cache: a subscription change
// reaches every dispatcher by Redis invalidation, and an owner's events
// cost no round trip to look up.
func (r *Registry) ForOwner(ctx context.Context, owner string) ([]Subscription, error) {
	m, err := r.c.DoCache(ctx, r.c.B().Hgetall().Key(r.cfg.Keys.Webhooks(owner)).Cache(), r.cfg.CacheTTL).AsStrMap()
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return parseAll(m), nil
}

func parseAll(m map[string]string) []Subscription {
	out := make([]Subscription, 0, len(m))
	for _, v := range m {
		var s Subscription
		if json.Unmarshal([]byte(v), &s) == nil {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Subscription) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Get returns owner's subscription id, or ErrNotFound.
func (r *Registry) Get(ctx context.Context, owner, id string) (Subscription, error) {
	if !ValidID(id) {
		return Subscription{}, ErrNotFound
	}
	v, err := r.c.Do(ctx, r.c.B().Hget().Key(r.cfg.Keys.Webhooks(owner)).Field(id).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return Subscription{}, ErrNotFound
	}
	if err != nil {
		return Subscription{}, fmt.Errorf("get webhook: %w", err)
	}
	var s Subscription
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return Subscription{}, fmt.Errorf("get webhook: %w", err)
	}
	return s, nil
}

// Delete removes owner's subscription id (ErrNotFound if there is none).
// Its queued deliveries are dropped when they come due; its dead letters
// stay until their retention ends.
func (r *Registry) Delete(ctx context.Context, owner, id string) error {
	if !ValidID(id) {
		return ErrNotFound
	}
	n, err := r.c.Do(ctx, r.c.B().Hdel().Key(r.cfg.Keys.Webhooks(owner)).Field(id).Build()).AsInt64()
	if err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// ValidID reports whether id has the shape of a subscription ID.
func ValidID(id string) bool {
	h, ok := strings.CutPrefix(id, "wh_")
	if !ok || len(h) != 24 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil && strings.ToLower(h) == h
}

func checkDescription(d string) error {
	if len(d) > MaxDescription || strings.ContainsFunc(d, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		return ErrDescription
	}
	return nil
}

func checkEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, fmt.Errorf("%w: events must name at least one of %s", ErrEvents, strings.Join(EventTypes, ", "))
	}
	var out []string
	for _, e := range events {
		if !slices.Contains(EventTypes, e) {
			return nil, fmt.Errorf("%w: unknown event %q (known: %s)", ErrEvents, e, strings.Join(EventTypes, ", "))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	// the documented order, whatever the request's
	slices.SortFunc(out, func(a, b string) int { return slices.Index(EventTypes, a) - slices.Index(EventTypes, b) })
	return out, nil
}

// CheckURL validates a target URL: absolute http or https, a host, no
// userinfo or fragment, at most MaxURLLen bytes, and unless allowPrivate
// neither localhost nor a literal loopback, private, link-local or
// otherwise non-public address. (Names resolving to such addresses are
// refused when the dispatcher connects.)
func CheckURL(raw string, allowPrivate bool) error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrURL, why) }
	if raw == "" {
		return bad("url is required")
	}
	if len(raw) > MaxURLLen {
		return bad(fmt.Sprintf("url is longer than %d bytes", MaxURLLen))
	}
	if strings.ContainsFunc(raw, func(c rune) bool { return c <= ' ' || c == 0x7f }) {
		return bad("url contains spaces or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("url does not parse")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("url must be http or https")
	case u.Host == "" || u.Hostname() == "":
		return bad("url must have a host")
	case u.User != nil:
		return bad("url must not hold a user or password")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return bad("url must not have a fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad("url port must be 1 to 65535")
		}
	}
	if allowPrivate {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return bad("url must not point at localhost")
	}
	if ip, err := netip.ParseAddr(host); err == nil && !Public(ip) {
		return bad("url must not point at a loopback, private or reserved address")
	}
	return nil
}

// NewSecret returns a new random secret: "whsec_" and 32 random bytes in
// standard base64.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// SecretKey returns the HMAC key of a secret: the base64-decoded bytes
// after "whsec_" (24 to 64 of them).
func SecretKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: secret must start with %q", ErrSecret, SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: secret must be %q and standard base64", ErrSecret, SecretPrefix)
	}
	if len(key) < minSecretSize || len(key) > maxSecretSize {
		return nil, fmt.Errorf("%w: secret must hold %d to %d bytes, got %d", ErrSecret, minSecretSize, maxSecretSize, len(key))
	}
	return key, nil
}
