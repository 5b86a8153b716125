// Package clicks holds the click event and its compact encoding as the value
// of one Redis Stream entry. The edge encodes events with AppendEncode
// without allocating; the worker reads them back with Decode.
//
// The encoding is versioned text, seven fields separated by tabs:
//
//	1 \t <unix ms> \t <code> \t <country> \t <ip> \t <referer> \t <user agent>
//
// Encoding normalises an event (see Normalize): control bytes inside the
// free-text fields become spaces, invalid UTF-8 becomes U+FFFD, and the
// free-text fields are truncated on a UTF-8 boundary to their limits, so the
// fields can always be split back and Decode(AppendEncode(e)) equals
// Normalize(e).
package clicks

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shortener/shortener/pkg/clientip"
)

// Limits on the fields of an encoded event, in bytes. Normalize and
// AppendEncode truncate longer values; Decode rejects them.
const (
	MaxCode      = 64
	MaxUserAgent = 512
	MaxReferer   = 1024
)

// MaxEncodedLen is the longest encoding AppendEncode can produce; a buffer
// of this capacity never grows.
const MaxEncodedLen = len("2\th\t") + len(version) + 1 +
	len("-9223372036854775808") + 1 +
	MaxCode + 1 +
	len(CountryUnknown) + 1 +
	len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") + 1 +
	MaxReferer + 1 +
	MaxUserAgent

// CountryUnknown is the Country of an event whose country is not known.
const CountryUnknown = "unknown"

// version is the first field of every encoding.
const version = "1"

// numFields is the number of tab-separated fields of an encoding.
const numFields = 7

// Errors returned by Decode. Match them with errors.Is.
var (
	// ErrMalformed reports an encoding that AppendEncode could not have
	// produced. Every Decode error wraps it.
	ErrMalformed = errors.New("clicks: malformed event")
	// ErrVersion additionally reports an encoding of an unknown version,
	// for instance one written by a newer edge during a rolling upgrade.
	ErrVersion = errors.New("clicks: unknown event version")
)

// Kind says what an event records. Only clicks are link clicks; HEAD
// requests and orphan visits (unknown or expired codes) are counted apart.
type Kind byte

// Kinds of events.
const (
	KindClick  Kind = 0   // a GET redirect (or a password form passed)
	KindHead   Kind = 'h' // a HEAD of a link: a check, not a visit
	KindOrphan Kind = 'o' // a visit of an unknown or expired code; Code holds the path
)

// Event is one click. An Event is a plain value; it is not safe for
// concurrent mutation, but copies may be used freely.
type Event struct {
	Code      string    // the short code that was followed
	Time      time.Time // millisecond precision, UTC once normalised
	IP        string    // textual IP of the visitor ("" if unknown)
	UserAgent string
	Referer   string
	Country   string // ISO 3166-1 alpha-2 upper case, or CountryUnknown
	Kind      Kind   // KindClick unless set
}

// Normalize returns e as Decode(AppendEncode(e)) would return it: Time
// truncated to the millisecond and in UTC; IP in canonical form (unmapped,
// without zone) or "" when it does not parse; Country upper-cased when it is
// two ASCII letters and CountryUnknown otherwise; Code, Referer and UserAgent
// with control bytes replaced by spaces, invalid UTF-8 replaced by U+FFFD and
// truncated on a UTF-8 boundary to MaxCode, MaxReferer and MaxUserAgent.
// Normalize is idempotent and safe for concurrent use.
func Normalize(e Event) Event {
	return Event{
		Code:      normalizeText(e.Code, MaxCode),
		Time:      time.UnixMilli(e.Time.UnixMilli()).UTC(),
		IP:        normalizeIP(e.IP),
		UserAgent: normalizeText(e.UserAgent, MaxUserAgent),
		Referer:   normalizeText(e.Referer, MaxReferer),
		Country:   normalizeCountry(e.Country),
		Kind:      normalizeKind(e.Kind),
	}
}

func normalizeKind(k Kind) Kind {
	if k == KindHead || k == KindOrphan {
		return k
	}
	return KindClick
}

// AppendEncode appends the encoding of Normalize(*e) to dst and returns the
// extended slice. It does not allocate when dst has room for the result;
// MaxEncodedLen bytes are always enough. It is safe for concurrent use as
// long as e is not being modified.
func AppendEncode(dst []byte, e *Event) []byte {
	if k := normalizeKind(e.Kind); k != KindClick {
		// version 2 is version 1 behind a kind: "2\t<kind>\t1\t…"
		dst = append(dst, '2', '\t', byte(k), '\t')
	}
	dst = append(dst, version...)
	dst = append(dst, '\t')
	dst = strconv.AppendInt(dst, e.Time.UnixMilli(), 10)
	dst = append(dst, '\t')
	dst = appendText(dst, e.Code, MaxCode)
	dst = append(dst, '\t')
	dst = appendCountry(dst, e.Country)
	dst = append(dst, '\t')
	if ip, ok := parseIP(e.IP); ok {
		dst = ip.AppendTo(dst)
	}
	dst = append(dst, '\t')
	dst = appendText(dst, e.Referer, MaxReferer)
	dst = append(dst, '\t')
	dst = appendText(dst, e.UserAgent, MaxUserAgent)
	return dst
}

// Decode parses an encoding made by AppendEncode. The string fields of the
// result are substrings of s, so Decode does not allocate on success. Any
// input AppendEncode could not have produced yields an error wrapping
// ErrMalformed (and ErrVersion for an unknown version). Decode never panics
// and is safe for concurrent use.
func Decode(s string) (Event, error) {
	if len(s) >= 4 && s[0] == '2' && s[1] == '\t' && s[3] == '\t' {
		k := Kind(s[2])
		if k != KindHead && k != KindOrphan {
			return Event{}, malformed("kind %q is not h or o", s[2])
		}
		e, err := decode1(s[4:])
		e.Kind = k
		return e, err
	}
	return decode1(s)
}

// decode1 decodes a version 1 encoding: a click.
func decode1(s string) (Event, error) {
	var f [numFields]string
	rest := s
	for i := range numFields - 1 {
		var ok bool
		f[i], rest, ok = strings.Cut(rest, "\t")
		if !ok {
			if isOtherVersion(f[0]) {
				return Event{}, versionError(f[0])
			}
			return Event{}, malformed("%d fields, want %d", i+1, numFields)
		}
	}
	f[numFields-1] = rest
	if f[0] != version {
		if isOtherVersion(f[0]) {
			return Event{}, versionError(f[0])
		}
		return Event{}, malformed("version %.16q is not a number", f[0])
	}
	if strings.IndexByte(rest, '\t') >= 0 {
		return Event{}, malformed("more than %d fields", numFields)
	}

	ms, ok := parseMillis(f[1])
	if !ok {
		return Event{}, malformed("time %.32q is not a canonical integer of milliseconds", f[1])
	}
	if !isClean(f[2], MaxCode) {
		return Event{}, malformed("code %.32q is longer than %d bytes or holds control bytes or invalid UTF-8", f[2], MaxCode)
	}
	if !isCountry(f[3]) {
		return Event{}, malformed("country %.32q is neither two upper-case letters nor %q", f[3], CountryUnknown)
	}
	if f[4] != "" && !isCanonicalIP(f[4]) {
		return Event{}, malformed("ip %.64q is not a canonical IP address", f[4])
	}
	if !isClean(f[5], MaxReferer) {
		return Event{}, malformed("referer is longer than %d bytes or holds control bytes or invalid UTF-8", MaxReferer)
	}
	if !isClean(f[6], MaxUserAgent) {
		return Event{}, malformed("user agent is longer than %d bytes or holds control bytes or invalid UTF-8", MaxUserAgent)
	}
	return Event{
		Code:      f[2],
		Time:      time.UnixMilli(ms).UTC(),
		IP:        f[4],
		Referer:   f[5],
		UserAgent: f[6],
		Country:   f[3],
	}, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("cannot decode click event: %s: %w", fmt.Sprintf(format, args...), ErrMalformed)
}

func versionError(v string) error {
	return fmt.Errorf("cannot decode click event: version %.16q: %w: %w", v, ErrVersion, ErrMalformed)
}

// isOtherVersion reports whether v looks like a version number other than
// version: a short run of digits.
func isOtherVersion(v string) bool {
	if v == version || v == "" || len(v) > 4 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// parseMillis parses a decimal int64 in the form strconv.AppendInt writes:
// an optional '-', no '+', no leading zeros, no "-0".
func parseMillis(s string) (int64, bool) {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || (digits[0] == '0' && (len(digits) > 1 || len(s) > 1)) {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// isControl reports whether c is an ASCII control byte.
func isControl(c byte) bool { return c < 0x20 || c == 0x7f }

// appendText appends s to dst with control bytes replaced by spaces and
// invalid UTF-8 bytes by U+FFFD, stopping before the first rune that would
// take the appended length past limit.
func appendText(dst []byte, s string, limit int) []byte {
	if isClean(s, limit) {
		return append(dst, s...)
	}
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if n+1 > limit {
				break
			}
			if isControl(c) {
				c = ' '
			}
			dst = append(dst, c)
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			if n+len(string(utf8.RuneError)) > limit {
				break
			}
			dst = utf8.AppendRune(dst, utf8.RuneError)
			n += len(string(utf8.RuneError))
			i++
			continue
		}
		if n+size > limit {
			break
		}
		dst = append(dst, s[i:i+size]...)
		n += size
		i += size
	}
	return dst
}

// isClean reports whether appendText would copy s unchanged: s fits limit,
// is valid UTF-8 and holds no control bytes.
func isClean(s string, limit int) bool {
	if len(s) > limit {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			if c < 0x80 {
				return false // a control byte
			}
			return noControl(s[i:]) && utf8.ValidString(s[i:])
		}
	}
	return true
}

func noControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if isControl(s[i]) {
			return false
		}
	}
	return true
}

func normalizeText(s string, limit int) string {
	if isClean(s, limit) {
		return s
	}
	return string(appendText(make([]byte, 0, min(len(s)+8, limit)), s, limit))
}

func isASCIILetter(c byte) bool { return ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') }

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

func appendCountry(dst []byte, c string) []byte {
	if len(c) == 2 && isASCIILetter(c[0]) && isASCIILetter(c[1]) {
		return append(dst, upper(c[0]), upper(c[1]))
	}
	return append(dst, CountryUnknown...)
}

func normalizeCountry(c string) string {
	if isCountry(c) {
		return c
	}
	var buf [len(CountryUnknown)]byte
	return string(appendCountry(buf[:0], c))
}

func isCountry(c string) bool {
	if c == CountryUnknown {
		return true
	}
	return len(c) == 2 && 'A' <= c[0] && c[0] <= 'Z' && 'A' <= c[1] && c[1] <= 'Z'
}

// parseIP parses s, without allocating, and returns it unmapped and without
// zone.
func parseIP(s string) (netip.Addr, bool) {
	ip, ok := clientip.ParseAddr(s)
	return ip.Unmap(), ok
}

func normalizeIP(s string) string {
	ip, ok := parseIP(s)
	if !ok {
		return ""
	}
	if isCanonicalIP(s) {
		return s
	}
	return ip.String()
}

// isCanonicalIP reports whether s is exactly the text parseIP and AppendTo
// would produce for it.
func isCanonicalIP(s string) bool {
	if len(s) > len("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") || strings.IndexByte(s, '%') >= 0 {
		return false
	}
	ip, ok := parseIP(s)
	if !ok {
		return false
	}
	var buf [64]byte
	return string(ip.AppendTo(buf[:0])) == s
}
