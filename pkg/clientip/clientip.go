// Package clientip decides which IP address is the visitor's: the TCP peer,
// or, behind trusted reverse proxies, the right-most untrusted hop of
// X-Forwarded-For. It also anonymises addresses for logs and parses
// addresses from strings or header bytes without allocating.
package clientip

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
)

// Trusted is a set of proxy networks whose X-Forwarded-For is believed. The
// zero value and a nil *Trusted trust nobody. A Trusted is read-only once
// made, so it is safe for concurrent use.
type Trusted struct {
	prefixes []netip.Prefix // masked; IPv4 ones unmapped
}

// ParseTrusted parses a comma-separated list of CIDRs ("10.0.0.0/8,
// 2001:db8::/32"); single addresses without "/n" are allowed and stand for
// themselves, spaces around entries and empty entries are ignored, and ""
// trusts nobody. Host bits of a CIDR are ignored; IPv4-mapped IPv6 CIDRs
// of /96 or longer are taken as the IPv4 CIDR. The error names the first bad
// entry.
func ParseTrusted(list string) (*Trusted, error) {
	t := &Trusted{}
	for entry := range strings.SplitSeq(list, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := parseTrustedEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("cannot parse trusted proxy %q: %w", entry, err)
		}
		t.prefixes = append(t.prefixes, p)
	}
	return t, nil
}

func parseTrustedEntry(entry string) (netip.Prefix, error) {
	if strings.Contains(entry, "/") {
		p, err := netip.ParsePrefix(entry)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(entry)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("zone %q not allowed", a.Zone())
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// contains reports whether ip, unmapped and without zone, is trusted.
func (t *Trusted) contains(ip netip.Addr) bool {
	for _, p := range t.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ClientIP returns the visitor's address. When the peer (the TCP remote
// address) is not trusted, or xff is empty, that is the peer. Otherwise the
// X-Forwarded-For hops are walked right to left and the first hop that is
// not itself trusted is the visitor; when every hop is trusted, the
// left-most one is. A malformed hop stops the walk and the last good address
// (the last trusted hop, or the peer) is returned. Empty hops are skipped.
//
// xff is the raw header value; several X-Forwarded-For headers are to be
// joined with commas. Hops may carry spaces around them and ports
// ("1.2.3.4:5678", "[::1]:80"). IPv4-mapped IPv6 addresses are unmapped and
// zones dropped, in the peer as in the hops, so the result is always
// unmapped. ClientIP does not allocate and does not retain xff. It is safe
// for concurrent use.
func (t *Trusted) ClientIP(peer netip.Addr, xff []byte) netip.Addr {
	peer = peer.Unmap().WithZone("")
	if t == nil || len(xff) == 0 || !t.contains(peer) {
		return peer
	}
	last := peer
	for end := len(xff); end >= 0; {
		start := bytes.LastIndexByte(xff[:end], ',') + 1
		hop := bytes.Trim(xff[start:end], " \t")
		end = start - 1
		if len(hop) == 0 {
			continue
		}
		ip, ok := parseHop(hop)
		if !ok {
			return last
		}
		if !t.contains(ip) {
			return ip
		}
		last = ip
	}
	return last
}

// parseHop parses one X-Forwarded-For hop: an address, "ipv4:port",
// "[ipv6]" or "[ipv6]:port". The result is unmapped.
func parseHop(hop []byte) (netip.Addr, bool) {
	if hop[0] == '[' {
		end := bytes.IndexByte(hop, ']')
		if end < 0 || (end+1 < len(hop) && !isPort(hop[end+1:])) {
			return netip.Addr{}, false
		}
		ip, ok := ParseAddr(hop[1:end])
		if !ok || !ip.Is6() {
			return netip.Addr{}, false
		}
		return ip.Unmap(), true
	}
	if i := bytes.IndexByte(hop, ':'); i >= 0 && bytes.IndexByte(hop[i+1:], ':') < 0 {
		// Exactly one colon: ipv4:port.
		if !isPort(hop[i:]) {
			return netip.Addr{}, false
		}
		ip, ok := ParseAddr(hop[:i])
		if !ok || !ip.Is4() {
			return netip.Addr{}, false
		}
		return ip, true
	}
	ip, ok := ParseAddr(hop)
	return ip.Unmap(), ok
}

// isPort reports whether b is ':' followed by a decimal port of 0 to 65535.
func isPort(b []byte) bool {
	if len(b) < 2 || len(b) > 6 || b[0] != ':' {
		return false
	}
	n := 0
	for _, c := range b[1:] {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

// Anonymize returns ip as text with its host part zeroed, for logs kept
// about visitors: an IPv4 address is cut to its /24 ("203.0.113.0"), an
// IPv6 address to its /48 ("2001:db8:1::"). IPv4-mapped addresses are
// unmapped first and zones dropped. It returns "" for the zero Addr. It is
// safe for concurrent use.
func Anonymize(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() {
		return ""
	}
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p.Addr().String()
}
