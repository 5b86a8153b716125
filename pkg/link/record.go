package link

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Link is a short link as the API shows it.
type Link struct {
	Code      string
	URL       string
	Owner     string // "" for an anonymous link
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never expires
	MaxClicks int64     // 0: no limit
	Options   Options
}

// Options are the per-link features beyond a plain redirect. The zero
// value is a plain link, whose record (and redirect path) is unchanged.
type Options struct {
	// RedirectStatus overrides the edge's --redirect-status (0: the flag).
	RedirectStatus int `json:"s,omitempty"`
	// ForwardQuery merges the visitor's query string into the destination's.
	ForwardQuery bool `json:"q,omitempty"`
	// PasswordHash is the bcrypt hash of the link's password ("" : none).
	PasswordHash string `json:"p,omitempty"`
	// Rules send matching visitors elsewhere; the first match wins.
	Rules []Rule `json:"r,omitempty"`
	// Tags group links for listing and analytics.
	Tags []string `json:"t,omitempty"`
}

// Rule is a targeting rule: every condition given must match.
type Rule struct {
	Device   string `json:"device,omitempty"`   // ios, android or desktop
	Country  string `json:"country,omitempty"`  // ISO 3166-1 alpha-2
	Language string `json:"language,omitempty"` // primary language subtag, e.g. de
	URL      string `json:"url"`
}

// IsZero reports whether o is a plain link's options.
func (o *Options) IsZero() bool {
	return o.RedirectStatus == 0 && !o.ForwardQuery && o.PasswordHash == "" && len(o.Rules) == 0 && len(o.Tags) == 0
}

// Expired reports whether the link has expired at now.
func (l *Link) Expired(now time.Time) bool { return !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt) }

// The record is one Redis string, fields separated by '\n' (which a URL, an
// owner and JSON from encoding/json can never contain), the URL last so the
// redirect path finds it with one backwards scan. A plain link:
//
//	1\n<created ms>\n<expires ms or 0>\n<max clicks or 0>\n<owner>\n<url>
//
// A link with options carries them as compact JSON before the URL:
//
//	2\n<created ms>\n<expires ms or 0>\n<max clicks or 0>\n<owner>\n<options>\n<url>
const (
	recordPlain   = "1"
	recordOptions = "2"
)

var errBadRecord = errors.New("link: malformed record")

// A tombstone replaces the record of an expired link once the sweeper has
// removed its data: "x\n<expires ms>". It keeps the code answering 410 (and
// not reusable) for TombstoneRetention.
const tombstonePrefix = "x\n"

// errTombstone is decode's answer for a tombstone.
var errTombstone = errors.New("link: tombstone")

// encode returns the record string of l.
func encode(l *Link) string {
	var opts []byte
	if !l.Options.IsZero() {
		opts, _ = json.Marshal(&l.Options) // plain structs: cannot fail
	}
	var b strings.Builder
	b.Grow(len(l.URL) + len(l.Owner) + len(opts) + 48)
	if opts == nil {
		b.WriteString(recordPlain)
	} else {
		b.WriteString(recordOptions)
	}
	b.WriteByte('\n')
	b.WriteString(strconv.FormatInt(l.CreatedAt.UnixMilli(), 10))
	b.WriteByte('\n')
	var exp int64
	if !l.ExpiresAt.IsZero() {
		exp = l.ExpiresAt.UnixMilli()
	}
	b.WriteString(strconv.FormatInt(exp, 10))
	b.WriteByte('\n')
	b.WriteString(strconv.FormatInt(l.MaxClicks, 10))
	b.WriteByte('\n')
	b.WriteString(l.Owner)
	b.WriteByte('\n')
	if opts != nil {
		b.Write(opts)
		b.WriteByte('\n')
	}
	b.WriteString(l.URL)
	return b.String()
}

// decode parses a record string into l (Code is left to the caller).
func decode(s string, l *Link) error {
	if strings.HasPrefix(s, tombstonePrefix) {
		ms, err := strconv.ParseInt(s[len(tombstonePrefix):], 10, 64)
		if err != nil {
			return errBadRecord
		}
		l.ExpiresAt = time.UnixMilli(ms).UTC()
		return errTombstone
	}
	n := 5
	if strings.HasPrefix(s, recordOptions+"\n") {
		n = 6
	} else if !strings.HasPrefix(s, recordPlain+"\n") {
		return errBadRecord
	}
	var f [6]string
	rest := s
	for i := 0; i < n; i++ {
		j := strings.IndexByte(rest, '\n')
		if j < 0 {
			return errBadRecord
		}
		f[i], rest = rest[:j], rest[j+1:]
	}
	created, err1 := strconv.ParseInt(f[1], 10, 64)
	exp, err2 := strconv.ParseInt(f[2], 10, 64)
	maxc, err3 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return errBadRecord
	}
	l.CreatedAt = time.UnixMilli(created).UTC()
	l.ExpiresAt = time.Time{}
	if exp != 0 {
		l.ExpiresAt = time.UnixMilli(exp).UTC()
	}
	l.MaxClicks = maxc
	l.Owner = f[4]
	l.Options = Options{}
	if n == 6 && json.Unmarshal([]byte(f[5]), &l.Options) != nil {
		return errBadRecord
	}
	l.URL = rest
	return nil
}

// Target is what the redirect path needs from a record, read without
// allocating: the URL (a substring of the cached record), the expiry and
// limit, and the raw options of a link that has any.
type Target struct {
	URL       string
	ExpiresMs int64 // 0: never
	MaxClicks int64
	Options   string // the options JSON ("" for a plain link); see ParseOptions
	Cached    bool   // served from the client-side cache
	Tombstone bool   // the link expired and its data is gone
	Stale     bool   // served from the fallback while Redis is unreachable
}

// ParseOptions decodes Target.Options.
func ParseOptions(raw string) (Options, error) {
	var o Options
	if err := json.Unmarshal([]byte(raw), &o); err != nil {
		return o, errBadRecord
	}
	return o, nil
}

// parseTarget reads the redirect fields of a record without allocating.
func parseTarget(s string) (Target, bool) {
	if len(s) > 2 && s[0] == 'x' && s[1] == '\n' {
		var ms int64
		for i := 2; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return Target{}, false
			}
			ms = ms*10 + int64(s[i]-'0')
		}
		return Target{ExpiresMs: ms, Tombstone: true}, true
	}
	i := strings.LastIndexByte(s, '\n')
	if i < 0 || len(s) < 2 || (s[0] != '1' && s[0] != '2') || s[1] != '\n' {
		return Target{}, false
	}
	t := Target{URL: s[i+1:]}
	rest := s[2:]
	j := strings.IndexByte(rest, '\n') // skip created
	if j < 0 {
		return Target{}, false
	}
	rest = rest[j+1:]
	var ok bool
	if t.ExpiresMs, rest, ok = parseField(rest); !ok {
		return Target{}, false
	}
	if t.MaxClicks, rest, ok = parseField(rest); !ok {
		return Target{}, false
	}
	if s[0] == '2' {
		k := strings.IndexByte(rest, '\n') // skip owner
		if k < 0 {
			return Target{}, false
		}
		rest = rest[k+1:]
		end := strings.IndexByte(rest, '\n')
		if end <= 0 {
			return Target{}, false
		}
		t.Options = rest[:end]
	}
	return t, true
}

func parseField(s string) (int64, string, bool) {
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\n' {
			return n, s[i+1:], i > 0
		}
		if c < '0' || c > '9' {
			return 0, s, false
		}
		n = n*10 + int64(c-'0')
	}
	return 0, s, false
}
