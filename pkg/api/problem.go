package api

import (
	"encoding/json"
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/shortener/shortener/pkg/auth"
	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/webhook"
)

// Problem is an RFC 7807 problem document.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// Problem types: stable URNs clients may match on.
const (
	TypeInvalidURL    = "urn:shortener:problem:invalid-url"
	TypeInvalidCode   = "urn:shortener:problem:invalid-code"
	TypeInvalidBody   = "urn:shortener:problem:invalid-body"
	TypeInvalidParam  = "urn:shortener:problem:invalid-parameter"
	TypeCodeTaken     = "urn:shortener:problem:code-taken"
	TypeConflict      = "urn:shortener:problem:conflict"
	TypeNotFound      = "urn:shortener:problem:not-found"
	TypeGone          = "urn:shortener:problem:expired"
	TypeUnauthorized  = "urn:shortener:problem:unauthorized"
	TypeForbidden     = "urn:shortener:problem:forbidden"
	TypeTooLarge      = "urn:shortener:problem:body-too-large"
	TypeMediaType     = "urn:shortener:problem:unsupported-media-type"
	TypeMethod        = "urn:shortener:problem:method-not-allowed"
	TypeUnavailable   = "urn:shortener:problem:unavailable"
	TypeInternal      = "urn:shortener:problem:internal"
	TypeHeaderTooBig  = "urn:shortener:problem:header-too-large"
	TypeBadRequest    = "urn:shortener:problem:bad-request"
	TypeRateLimited   = "urn:shortener:problem:rate-limited"
	TypeNotAcceptable = "urn:shortener:problem:not-acceptable"
)

// WriteProblem answers with a problem+json document.
func WriteProblem(ctx *fasthttp.RequestCtx, status int, typ, title, detail string) {
	b, _ := json.Marshal(Problem{Type: typ, Title: title, Status: status, Detail: detail})
	ctx.Response.Reset()
	ctx.Response.SetStatusCode(status)
	ctx.Response.Header.SetContentType("application/problem+json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.SetBody(b)
}

// errorStatus maps an error of the link, webhook or auth packages to its
// answer. It is the one place where errors become responses; errors it does
// not know are internal and their text never reaches the client.
func errorStatus(err error) (status int, typ, title string, public bool) {
	switch {
	case errors.Is(err, link.ErrNotFound):
		return 404, TypeNotFound, "Not Found", true
	case errors.Is(err, link.ErrExpired):
		return 410, TypeGone, "Gone", true
	case errors.Is(err, link.ErrConflict):
		return 409, TypeConflict, "Conflict", true
	case errors.Is(err, link.ErrCodeTaken):
		return 409, TypeCodeTaken, "Code Taken", true
	case errors.Is(err, link.ErrForbidden):
		return 403, TypeForbidden, "Forbidden", true
	case errors.Is(err, link.ErrCodeLength), errors.Is(err, link.ErrCodeChars), errors.Is(err, link.ErrCodeReserved):
		return 400, TypeInvalidCode, "Invalid Code", true
	case errors.Is(err, link.ErrURLEmpty), errors.Is(err, link.ErrURLTooLong), errors.Is(err, link.ErrURLChars),
		errors.Is(err, link.ErrURLParse), errors.Is(err, link.ErrURLScheme), errors.Is(err, link.ErrURLHost),
		errors.Is(err, link.ErrURLUserinfo), errors.Is(err, link.ErrURLSelf), errors.Is(err, link.ErrURLBlocked):
		return 400, TypeInvalidURL, "Invalid URL", true
	case errors.Is(err, link.ErrTTL), errors.Is(err, link.ErrExpiresAt), errors.Is(err, link.ErrTTLAndExpiresAt),
		errors.Is(err, link.ErrMaxClicks), errors.Is(err, link.ErrOwner), errors.Is(err, link.ErrRedirectStatus),
		errors.Is(err, link.ErrRule), errors.Is(err, link.ErrTooManyRules), errors.Is(err, link.ErrTag), errors.Is(err, link.ErrPassword):
		return 400, TypeInvalidBody, "Invalid Request Body", true
	case errors.Is(err, link.ErrCursor):
		return 400, TypeInvalidParam, "Invalid Parameter", true
	case errors.Is(err, webhook.ErrNotFound):
		return 404, TypeNotFound, "Not Found", true
	case errors.Is(err, webhook.ErrTooMany), errors.Is(err, webhook.ErrConflict):
		return 409, TypeConflict, "Conflict", true
	case errors.Is(err, webhook.ErrURL):
		return 400, TypeInvalidURL, "Invalid URL", true
	case errors.Is(err, webhook.ErrEvents), errors.Is(err, webhook.ErrSecret), errors.Is(err, webhook.ErrDescription):
		return 400, TypeInvalidBody, "Invalid Request Body", true
	case errors.Is(err, auth.ErrUnknownKey):
		return 401, TypeUnauthorized, "Unauthorized", true
	}
	return 503, TypeUnavailable, "Service Unavailable", false
}
