// Package geo finds the country of a visitor: from a request header set by
// a trusted CDN or proxy (Cloudflare's CF-IPCountry and the like), else from
// a MaxMind DB (.mmdb) country database such as MaxMind GeoLite2/GeoIP2
// Country or City, or DB-IP country/city lite. Countries are returned as
// interned strings, so answering does not allocate.
package geo

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Unknown is the country of a visitor whose country is not known. It has the
// same value as clicks.CountryUnknown.
const Unknown = "unknown"

// codes holds every two-letter upper-case string, "AA" to "ZZ", so a country
// is returned without allocating a string per call.
var codes = func() (t [26 * 26]string) {
	for i := range t {
		t[i] = string([]byte{byte('A' + i/26), byte('A' + i%26)})
	}
	return t
}()

// Config says where countries come from. The zero Config resolves every
// visitor to Unknown.
type Config struct {
	// Header is the name of a trusted request header holding the visitor's
	// ISO 3166-1 alpha-2 country, e.g. "CF-IPCountry"; "" for none. Only set
	// it when every request passes through the proxy that sets the header,
	// as clients can send it too.
	Header string
	// DBPath is the path of an .mmdb file whose records hold
	// country.iso_code (MaxMind GeoLite2/GeoIP2 Country or City, DB-IP
	// country or city lite); "" for none.
	DBPath string
}

// Resolver finds the ISO country of a visitor. Header and Country are safe
// for concurrent use; Close is not, and must be called only once every
// Country call has returned.
type Resolver struct {
	header string
	db     *maxminddb.Reader // nil when no database is configured
}

// record is the part of a database record that Country decodes.
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
}

// Open returns a Resolver for cfg. It fails when cfg.DBPath is set but the
// file cannot be opened or is not a MaxMind DB.
func Open(cfg Config) (*Resolver, error) {
	r := &Resolver{header: strings.TrimSpace(cfg.Header)}
	if cfg.DBPath != "" {
		db, err := maxminddb.Open(cfg.DBPath)
		if err != nil {
			return nil, fmt.Errorf("cannot open geo database %q: %w", cfg.DBPath, err)
		}
		r.db = db
	}
	return r, nil
}

// Close releases the database, if any. Country keeps answering from the
// header afterwards. Calling Close again does nothing.
func (r *Resolver) Close() error {
	if r == nil || r.db == nil {
		return nil
	}
	db := r.db
	r.db = nil
	if err := db.Close(); err != nil {
		return fmt.Errorf("cannot close geo database: %w", err)
	}
	return nil
}

// Header returns the configured header name, "" when none.
func (r *Resolver) Header() string {
	if r == nil {
		return ""
	}
	return r.header
}

// Country returns the visitor's ISO 3166-1 alpha-2 country, upper case, or
// Unknown. headerValue is the raw value of the configured header (nil or
// empty when absent); it is believed when a header is configured and it
// holds two ASCII letters, spaces around them aside, other than "XX"
// (Cloudflare's "XX" and "T1", unknown and Tor, are not countries). Otherwise
// ip, unmapped, is looked up in the database. Country does not allocate: its
// results are interned constants. A nil *Resolver answers Unknown.
func (r *Resolver) Country(headerValue []byte, ip netip.Addr) string {
	if r == nil {
		return Unknown
	}
	if r.header != "" {
		if c, ok := intern(headerValue); ok {
			return c
		}
	}
	if r.db != nil && ip.IsValid() {
		if res := r.db.Lookup(ip.Unmap()); res.Found() {
			return decodeCountry(res)
		}
	}
	return Unknown
}

// records recycles the decoding targets: a record passed to Decode escapes,
// and would otherwise cost an allocation per lookup.
var records = sync.Pool{New: func() any { return new(record) }}

// decodeCountry decodes the interned country of a found database record, or
// Unknown.
func decodeCountry(res maxminddb.Result) string {
	rec := records.Get().(*record)
	defer records.Put(rec)
	rec.Country.ISOCode = "" // Decode leaves absent fields alone
	if err := res.Decode(rec); err != nil {
		return Unknown
	}
	c, ok := intern(rec.Country.ISOCode)
	if !ok {
		return Unknown
	}
	return c
}

// intern returns the interned upper-case form of s, a country code of two
// ASCII letters with optional spaces or tabs around it, and false when s is
// not one or is "XX".
func intern[T ~string | ~[]byte](s T) (string, bool) {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	if j-i != 2 {
		return "", false
	}
	a, ok1 := letter(s[i])
	b, ok2 := letter(s[i+1])
	if !ok1 || !ok2 {
		return "", false
	}
	c := codes[a*26+b]
	if c == "XX" {
		return "", false
	}
	return c, true
}

// letter returns the index in the alphabet of an ASCII letter of any case.
func letter(c byte) (int, bool) {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A'), true
	case 'a' <= c && c <= 'z':
		return int(c - 'a'), true
	}
	return 0, false
}
