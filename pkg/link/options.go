package link

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
	"golang.org/x/crypto/bcrypt"

	"github.com/shortener/shortener/pkg/redisx"
)

// Limits of the per-link options.
const (
	MaxRules       = 20
	MaxTags        = 10
	MaxTagLength   = 32
	MaxPasswordLen = 72 // bcrypt's limit, in bytes
	// PasswordCost is the bcrypt cost of link passwords.
	PasswordCost = 10
)

// Errors of the options.
var (
	ErrRedirectStatus = errors.New("redirect_status must be 301, 302, 307 or 308")
	ErrRule           = errors.New("a rule needs a url and at least one of device (ios, android, desktop), country (two letters) and language (two or three letters)")
	ErrTooManyRules   = fmt.Errorf("at most %d rules", MaxRules)
	ErrTag            = fmt.Errorf("tags are 1 to %d of a-z, 0-9, '_', '.', '-'; at most %d", MaxTagLength, MaxTags)
	ErrPassword       = fmt.Errorf("password must be 1 to %d bytes", MaxPasswordLen)
	ErrConflict       = errors.New("link: changed concurrently; try again")
)

// ValidTag reports whether t is a well-formed tag.
func ValidTag(t string) bool {
	if t == "" || len(t) > MaxTagLength {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// normalizeTags lower-cases, checks and de-duplicates tags, keeping order.
func normalizeTags(tags []string) ([]string, error) {
	if len(tags) > MaxTags {
		return nil, ErrTag
	}
	var out []string
	seen := map[string]bool{}
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if !ValidTag(t) {
			return nil, ErrTag
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}

func (s *Store) checkRules(rules []Rule) ([]Rule, error) {
	if len(rules) > MaxRules {
		return nil, ErrTooManyRules
	}
	out := make([]Rule, 0, len(rules))
	for _, r := range rules {
		r.Device = strings.ToLower(r.Device)
		r.Country = strings.ToUpper(r.Country)
		r.Language = strings.ToLower(r.Language)
		if r.Device == "" && r.Country == "" && r.Language == "" {
			return nil, ErrRule
		}
		if r.Device != "" && r.Device != "ios" && r.Device != "android" && r.Device != "desktop" {
			return nil, ErrRule
		}
		if r.Country != "" && (len(r.Country) != 2 || !letters(r.Country)) {
			return nil, ErrRule
		}
		if r.Language != "" && (len(r.Language) < 2 || len(r.Language) > 3 || !letters(r.Language)) {
			return nil, ErrRule
		}
		if err := s.cfg.Policy.Check(r.URL); err != nil {
			return nil, fmt.Errorf("rule url: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}

func letters(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func hashPassword(pw string) (string, error) {
	if pw == "" || len(pw) > MaxPasswordLen {
		return "", ErrPassword
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), PasswordCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether pw is the password of options o. It is
// deliberately slow (bcrypt).
func CheckPassword(o *Options, pw string) bool {
	return o.PasswordHash != "" && len(pw) <= MaxPasswordLen &&
		bcrypt.CompareHashAndPassword([]byte(o.PasswordHash), []byte(pw)) == nil
}

// OptionsRequest are the options of a create request, as the API takes them.
type OptionsRequest struct {
	RedirectStatus int
	ForwardQuery   bool
	Password       string // plain text; stored only as a bcrypt hash
	Rules          []Rule
	Tags           []string
}

// options validates r into stored Options.
func (s *Store) options(r OptionsRequest) (Options, error) {
	var o Options
	if r.RedirectStatus != 0 && r.RedirectStatus != 301 && r.RedirectStatus != 302 && r.RedirectStatus != 307 && r.RedirectStatus != 308 {
		return o, ErrRedirectStatus
	}
	o.RedirectStatus, o.ForwardQuery = r.RedirectStatus, r.ForwardQuery
	var err error
	if o.Tags, err = normalizeTags(r.Tags); err != nil {
		return o, err
	}
	if len(r.Rules) > 0 {
		if o.Rules, err = s.checkRules(r.Rules); err != nil {
			return o, err
		}
	}
	if r.Password != "" {
		if o.PasswordHash, err = hashPassword(r.Password); err != nil {
			return o, err
		}
	}
	return o, nil
}

// Patch changes some fields of a link; nil leaves a field as it is. The
// Clear* flags remove an optional value.
type Patch struct {
	URL            *string
	ExpiresAt      *time.Time
	ClearExpiresAt bool
	MaxClicks      *int64  // 0 removes the limit
	Password       *string // "" removes the password
	RedirectStatus *int    // 0 returns to the edge's flag
	ForwardQuery   *bool
	Tags           *[]string
	Rules          *[]Rule
}

// updateScript replaces a record only if it is still the one read (a
// compare-and-set on the link's slot), moves its expiry index entry and
// gives the link's analytics keys the new expiry, and appends the link
// event (if any) to the partition's stream. KEYS: record, expiry index,
// stream, then the analytics keys. ARGV: old record, new record, PXAT or
// 0, score, code, analytics expiry (ms) or 0, event or "".
var updateScript = redisx.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
-- the link's analytics keep its expiry (the worker sets it only once)
for k = 4, #KEYS do
  if ARGV[6] ~= '0' then redis.call('PEXPIREAT', KEYS[k], ARGV[6]) else redis.call('PERSIST', KEYS[k]) end
end
if ARGV[7] ~= '' then redis.call('XADD', KEYS[3], '*', 'l', ARGV[7]) end
return 1
`)

// Update applies p to the link code for caller (its owner, or an admin).
// Every edge sees the change at once: the write invalidates their caches.
func (s *Store) Update(ctx context.Context, code, caller string, admin bool, p Patch) (Link, error) {
	for attempt := 0; attempt < 5; attempt++ {
		l, raw, err := s.getRaw(ctx, code)
		if err != nil {
			return l, err
		}
		if !admin && (l.Owner == "" || l.Owner != caller) {
			return l, ErrForbidden
		}
		oldTags := l.Options.Tags
		if err := s.applyPatch(&l, p); err != nil {
			return l, err
		}
		pxat, score, analyticsExp := "0", "+inf", "0"
		if !l.ExpiresAt.IsZero() {
			pxat = strconv.FormatInt(l.ExpiresAt.Add(TombstoneRetention).UnixMilli(), 10)
			score = strconv.FormatInt(l.ExpiresAt.UnixMilli(), 10)
			analyticsExp = score
		}
		k := s.cfg.Keys
		base := k.ClickTotals(code)
		n, err := updateScript.ExecMulti(ctx, s.c, redisx.Call{
			Keys: []string{k.Link(code), k.Expiry(k.Partition(code)), k.Stream(k.Partition(code)),
				base, base + redisx.SuffixDaily, base + redisx.SuffixHourly, base + redisx.SuffixRecent},
			Args: []string{raw, encode(&l), pxat, score, code, analyticsExp, s.event(EventUpdated, &l)},
		})[0].AsInt64()
		if err != nil {
			return l, fmt.Errorf("update %q: %w", code, err)
		}
		if n == 1 {
			return l, s.retag(ctx, &l, oldTags)
		}
	}
	return Link{}, ErrConflict
}

func (s *Store) applyPatch(l *Link, p Patch) error {
	now := s.now()
	if p.URL != nil {
		if err := s.cfg.Policy.Check(*p.URL); err != nil {
			return err
		}
		l.URL = *p.URL
	}
	switch {
	case p.ClearExpiresAt:
		l.ExpiresAt = time.Time{}
	case p.ExpiresAt != nil:
		if !p.ExpiresAt.After(now) || p.ExpiresAt.Sub(now) > MaxTTL {
			return ErrExpiresAt
		}
		l.ExpiresAt = p.ExpiresAt.UTC()
		if !l.ExpiresAt.Equal(l.ExpiresAt.Truncate(time.Second)) {
			l.ExpiresAt = l.ExpiresAt.Truncate(time.Second).Add(time.Second)
		}
	}
	if p.MaxClicks != nil {
		if *p.MaxClicks < 0 {
			return ErrMaxClicks
		}
		l.MaxClicks = *p.MaxClicks
	}
	o := &l.Options
	if p.RedirectStatus != nil {
		if v := *p.RedirectStatus; v != 0 && v != 301 && v != 302 && v != 307 && v != 308 {
			return ErrRedirectStatus
		}
		o.RedirectStatus = *p.RedirectStatus
	}
	if p.ForwardQuery != nil {
		o.ForwardQuery = *p.ForwardQuery
	}
	if p.Tags != nil {
		tags, err := normalizeTags(*p.Tags)
		if err != nil {
			return err
		}
		o.Tags = tags
	}
	if p.Rules != nil {
		rules, err := s.checkRules(*p.Rules)
		if err != nil {
			return err
		}
		o.Rules = rules
		if len(rules) == 0 {
			o.Rules = nil
		}
	}
	if p.Password != nil {
		if *p.Password == "" {
			o.PasswordHash = ""
		} else {
			h, err := hashPassword(*p.Password)
			if err != nil {
				return err
			}
			o.PasswordHash = h
		}
	}
	return nil
}

// getRaw reads a link and its record string (for compare-and-set).
func (s *Store) getRaw(ctx context.Context, code string) (Link, string, error) {
	l := Link{Code: code}
	if !ValidLookup(code) {
		return l, "", ErrNotFound
	}
	raw, err := s.c.Do(ctx, s.c.B().Get().Key(s.cfg.Keys.Link(code)).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return l, "", ErrNotFound
	}
	if err != nil {
		return l, "", fmt.Errorf("get %q: %w", code, err)
	}
	if err := decode(raw, &l); err != nil {
		if errors.Is(err, errTombstone) {
			return l, raw, ErrExpired
		}
		return l, raw, fmt.Errorf("get %q: %w", code, err)
	}
	if l.Expired(s.now()) {
		return l, raw, ErrExpired
	}
	return l, raw, nil
}
