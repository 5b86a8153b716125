// Package link holds short links: code generation and validation, the URL
// safety rules, the record encoding, and the Store that keeps links in Redis
// and resolves codes through rueidis client-side caching.
package link

import (
	"crypto/rand"
	"strings"
)

const (
	// RandomCodeLength is the length of generated codes: 62^7 ≈ 3.5e12.
	RandomCodeLength = 7
	// MinCustomCodeLength and MaxCodeLength bound custom codes.
	MinCustomCodeLength = 3
	MaxCodeLength       = 64
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// reserved holds names that collide with routes or well-known files, in lower
// case; a custom code equal to one of them in any case is refused.
var reserved = map[string]bool{
	"api": true, "metrics": true, "healthz": true, "readyz": true, "livez": true,
	"favicon.ico": true, "robots.txt": true, "ui": true, "static": true, "admin": true,
	"rest": true, "v4": true, "openapi": true, "docs": true, "qr": true, "login": true,
	"sitemap.xml": true, "bulk": true, "humans.txt": true, ".well-known": true, "health": true,
}

// IsReserved reports whether code is a reserved name (case-insensitive).
func IsReserved(code string) bool { return reserved[strings.ToLower(code)] }

// NewCode returns a random code of RandomCodeLength base62 characters drawn
// from crypto/rand without modulo bias. It is safe for concurrent use.
func NewCode() string {
	var out [RandomCodeLength]byte
	var buf [16]byte
	n := 0
	for n < len(out) {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		for _, b := range buf {
			if b >= 248 { // 248 = 4*62: reject to keep the draw uniform
				continue
			}
			out[n] = base62[b%62]
			if n++; n == len(out) {
				break
			}
		}
	}
	s := string(out[:])
	if IsReserved(s) {
		return NewCode()
	}
	return s
}

// codeByte reports whether c may appear in a code.
func codeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// ValidLookup reports whether b has the shape of a code that could exist:
// 1 to MaxCodeLength of [A-Za-z0-9_-]. It does not allocate.
func ValidLookup[T ~string | ~[]byte](b T) bool {
	if len(b) == 0 || len(b) > MaxCodeLength {
		return false
	}
	for i := 0; i < len(b); i++ {
		if !codeByte(b[i]) {
			return false
		}
	}
	return true
}

// ValidateCustomCode checks a code chosen by a caller.
func ValidateCustomCode(code string) error {
	if len(code) < MinCustomCodeLength || len(code) > MaxCodeLength {
		return ErrCodeLength
	}
	if !ValidLookup(code) {
		return ErrCodeChars
	}
	if IsReserved(code) {
		return ErrCodeReserved
	}
	return nil
}
