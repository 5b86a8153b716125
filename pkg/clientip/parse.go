package clientip

import "net/netip"

// ParseAddr parses an IPv4 or IPv6 address in any form netip.ParseAddr
// accepts and returns it without its zone ("fe80::1%eth0" gives fe80::1).
// Unlike netip.ParseAddr it takes a string or a byte slice and never
// allocates, not even for malformed input, so it suits header values and
// hot paths. It reports false exactly when netip.ParseAddr would fail. It is
// safe for concurrent use.
func ParseAddr[T ~string | ~[]byte](s T) (netip.Addr, bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.':
			f, ok := parseIPv4Fields(s, 0, len(s))
			if !ok {
				return netip.Addr{}, false
			}
			return netip.AddrFrom4(f), true
		case ':':
			return parseIPv6(s)
		case '%':
			return netip.Addr{}, false
		}
	}
	return netip.Addr{}, false
}

// parseIPv4Fields parses s[off:end] as a dotted quad with the rules of
// netip: four decimal fields of at most 255, no leading zeros.
func parseIPv4Fields[T ~string | ~[]byte](s T, off, end int) (f [4]byte, ok bool) {
	var val, pos, digits int
	for i := off; i < end; i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			if digits == 1 && val == 0 {
				return f, false // leading zero
			}
			val = val*10 + int(c-'0')
			digits++
			if val > 255 {
				return f, false
			}
		case c == '.':
			if i == off || i == end-1 || s[i-1] == '.' || pos == 3 {
				return f, false
			}
			f[pos] = byte(val)
			pos++
			val, digits = 0, 0
		default:
			return f, false
		}
	}
	if pos < 3 {
		return f, false
	}
	f[3] = byte(val)
	return f, true
}

func hexDigit(c byte) (uint32, bool) {
	switch {
	case '0' <= c && c <= '9':
		return uint32(c - '0'), true
	case 'a' <= c && c <= 'f':
		return uint32(c - 'a' + 10), true
	case 'A' <= c && c <= 'F':
		return uint32(c - 'A' + 10), true
	}
	return 0, false
}

// parseIPv6 follows netip's parseIPv6 step by step, minus the errors.
func parseIPv6[T ~string | ~[]byte](s T) (netip.Addr, bool) {
	end := len(s)
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i == len(s)-1 {
				return netip.Addr{}, false // empty zone
			}
			end = i
			break
		}
	}

	var ip [16]byte
	ellipsis := -1 // position of the ellipsis in ip
	p := 0         // position in s
	if end >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis = 0
		p = 2
		if p == end {
			return netip.IPv6Unspecified(), true
		}
	}

	i := 0
	for i < 16 {
		off := 0
		acc := uint32(0)
		for ; p+off < end; off++ {
			d, ok := hexDigit(s[p+off])
			if !ok {
				break
			}
			acc = acc<<4 + d
			if off > 3 {
				return netip.Addr{}, false // more than 4 digits in a group
			}
		}
		if off == 0 {
			return netip.Addr{}, false
		}

		if p+off < end && s[p+off] == '.' { // trailing IPv4
			if (ellipsis < 0 && i != 12) || i+4 > 16 {
				return netip.Addr{}, false
			}
			f, ok := parseIPv4Fields(s, p, end)
			if !ok {
				return netip.Addr{}, false
			}
			copy(ip[i:], f[:])
			p = end
			i += 4
			break
		}

		ip[i] = byte(acc >> 8)
		ip[i+1] = byte(acc)
		i += 2

		p += off
		if p == end {
			break
		}
		if s[p] != ':' || p+1 == end {
			return netip.Addr{}, false
		}
		p++
		if s[p] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false // multiple ::
			}
			ellipsis = i
			p++
			if p == end {
				break
			}
		}
	}

	if p != end {
		return netip.Addr{}, false // trailing garbage
	}
	if i < 16 {
		if ellipsis < 0 {
			return netip.Addr{}, false // too short
		}
		n := 16 - i
		for j := i - 1; j >= ellipsis; j-- {
			ip[j+n] = ip[j]
		}
		clear(ip[ellipsis : ellipsis+n])
	} else if ellipsis >= 0 {
		return netip.Addr{}, false // :: must stand for at least one group
	}
	return netip.AddrFrom16(ip), true
}
