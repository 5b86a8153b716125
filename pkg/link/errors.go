package link

import "errors"

// Errors returned by this package. Match them with errors.Is; the edge maps
// each to an HTTP status and a problem type in one place.
var (
	ErrNotFound  = errors.New("link: not found")
	ErrExpired   = errors.New("link: expired")
	ErrCodeTaken = errors.New("link: code taken")
	ErrForbidden = errors.New("link: not the owner")

	ErrCodeLength   = errors.New("code must be 3 to 64 characters")
	ErrCodeChars    = errors.New("code may contain only A-Z, a-z, 0-9, '_' and '-'")
	ErrCodeReserved = errors.New("code is a reserved name")

	ErrURLEmpty    = errors.New("url is empty")
	ErrURLTooLong  = errors.New("url is too long")
	ErrURLChars    = errors.New("url contains a space, a control character or invalid UTF-8")
	ErrURLParse    = errors.New("url cannot be parsed")
	ErrURLScheme   = errors.New("url scheme must be http or https")
	ErrURLHost     = errors.New("url has no valid host")
	ErrURLUserinfo = errors.New("url must not contain user:password@")
	ErrURLSelf     = errors.New("url points at this shortener (a redirect loop)")
	ErrURLBlocked  = errors.New("url host is on the blocklist")

	ErrTTL             = errors.New("ttl must be a positive number of seconds, at most 100 years")
	ErrExpiresAt       = errors.New("expires_at must be an RFC 3339 time in the future")
	ErrTTLAndExpiresAt = errors.New("give ttl or expires_at, not both")
	ErrMaxClicks       = errors.New("max_clicks must be at least 1")
	ErrOwner           = errors.New("owner must be 1 to 64 of A-Z, a-z, 0-9, '_', '.', '@', '-'")
)
