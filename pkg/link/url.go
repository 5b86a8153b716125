package link

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"
)

// DefaultMaxURLLength is the default bound on a destination URL, in bytes.
const DefaultMaxURLLength = 2048

// URLPolicy decides which destination URLs may be shortened. A URLPolicy is
// read-only after construction and safe for concurrent use.
type URLPolicy struct {
	maxLen   int
	selfHost string // lower-case host of the service's own base URL
	blocked  map[string]bool
}

// NewURLPolicy returns a policy. baseURL is the service's own base URL (links
// to its host are refused); blocklist, when not nil, is read as one domain a
// line ('#' starts a comment); a listed domain blocks its subdomains too.
func NewURLPolicy(maxLen int, baseURL string, blocklist io.Reader) (*URLPolicy, error) {
	if maxLen <= 0 {
		maxLen = DefaultMaxURLLength
	}
	p := &URLPolicy{maxLen: maxLen, blocked: map[string]bool{}}
	if baseURL != "" {
		u, err := url.Parse(baseURL)
		if err != nil || u.Hostname() == "" {
			return nil, fmt.Errorf("base URL %q has no host", baseURL)
		}
		p.selfHost = normHost(u.Hostname())
	}
	if blocklist != nil {
		sc := bufio.NewScanner(blocklist)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			}
			if line = normHost(strings.TrimSpace(line)); line != "" {
				p.blocked[line] = true
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("cannot read blocklist: %w", err)
		}
	}
	return p, nil
}

// MaxLen returns the maximum URL length in bytes.
func (p *URLPolicy) MaxLen() int { return p.maxLen }

// Blocked returns the number of blocked domains.
func (p *URLPolicy) Blocked() int { return len(p.blocked) }

func normHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

// Check returns nil when raw may be stored as a destination, else one of the
// ErrURL* errors. The stored URL is raw itself, byte for byte: Check never
// rewrites it.
func (p *URLPolicy) Check(raw string) error {
	if raw == "" {
		return ErrURLEmpty
	}
	if len(raw) > p.maxLen {
		return ErrURLTooLong
	}
	if !utf8.ValidString(raw) {
		return ErrURLChars
	}
	for _, r := range raw {
		// ASCII controls, space, DEL, C1 controls and the Unicode line and
		// paragraph separators: none may reach a Location header.
		if r <= ' ' || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x2028 || r == 0x2029 || r == 0xfeff {
			return ErrURLChars
		}
	}
	if strings.ContainsRune(raw, '\\') {
		return ErrURLParse // browsers read '\' as '/', which makes parsers disagree on the host
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ErrURLParse
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return ErrURLScheme
	}
	if u.Opaque != "" || !strings.HasPrefix(raw[len(u.Scheme):], "://") {
		return ErrURLHost
	}
	if u.User != nil {
		return ErrURLUserinfo
	}
	host := normHost(u.Hostname())
	if host == "" || !validHost(host) {
		return ErrURLHost
	}
	if port := u.Port(); port != "" && (len(port) > 5 || port == "0" || atoiPort(port) > 65535) {
		return ErrURLHost
	}
	if p.selfHost != "" && host == p.selfHost {
		return ErrURLSelf
	}
	if len(p.blocked) > 0 {
		for h := host; h != ""; {
			if p.blocked[h] {
				return ErrURLBlocked
			}
			i := strings.IndexByte(h, '.')
			if i < 0 {
				break
			}
			h = h[i+1:]
		}
	}
	return nil
}

func atoiPort(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// validHost accepts IP literals and DNS names whose labels are non-empty;
// non-ASCII (internationalised) labels are allowed as UTF-8.
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if c >= 0x80 || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
				continue
			}
			return false
		}
	}
	return true
}
