package link

import (
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
}

// Expired reports whether the link has expired at now.
func (l *Link) Expired(now time.Time) bool { return !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt) }

// The record is one Redis string, fields separated by '\n' (which a URL and
// an owner can never contain), the URL last so the redirect path finds it
// with one backwards scan:
//
//	1\n<created ms>\n<expires ms or 0>\n<max clicks or 0>\n<owner>\n<url>
const recordVersion = "1"

var errBadRecord = errors.New("link: malformed record")

// A tombstone replaces the record of an expired link once the sweeper has
// removed its data: "x\n<expires ms>". It keeps the code answering 410 (and
// not reusable) for TombstoneRetention.
const tombstonePrefix = "x\n"

// errTombstone is decode's answer for a tombstone.
var errTombstone = errors.New("link: tombstone")

// encode returns the record string of l.
func encode(l *Link) string {
	var b strings.Builder
	b.Grow(len(l.URL) + len(l.Owner) + 48)
	b.WriteString(recordVersion)
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
	var f [5]string
	rest := s
	for i := range f {
		j := strings.IndexByte(rest, '\n')
		if j < 0 {
			return errBadRecord
		}
		f[i], rest = rest[:j], rest[j+1:]
	}
	if f[0] != recordVersion {
		return errBadRecord
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
	l.URL = rest
	return nil
}

// Target is what the redirect path needs from a record, read without
// allocating: the URL (a substring of the cached record) and the expiry.
type Target struct {
	URL       string
	ExpiresMs int64 // 0: never
	MaxClicks int64
	Cached    bool // served from the client-side cache
	Tombstone bool // the link expired and its data is gone
	Stale     bool // served from the fallback while Redis is unreachable
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
	if i < 0 || len(s) < 2 || s[0] != '1' || s[1] != '\n' {
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
	if t.MaxClicks, _, ok = parseField(rest); !ok {
		return Target{}, false
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
