package api

import (
	_ "embed" // the OpenAPI document
	"strings"

	"github.com/valyala/fasthttp"
)

// OpenAPI is the OpenAPI 3.0 document of the edge's HTTP interface: every
// route of Routes with its parameters, bodies, answers and headers. The edge
// serves it at GET /api/v1/openapi.json. It is read-only: never modify it.
//
//go:embed openapi.json
var OpenAPI []byte

// OpenAPIPath is where the API serves OpenAPI.
const OpenAPIPath = Prefix + "/openapi.json"

// Route labels besides those of api.go.
const (
	routeOpenAPI = "openapi"
	// routeRedirect is the edge's label for GET, HEAD and POST /{code},
	// which the redirect handler serves, not the API.
	routeRedirect = "redirect"
)

// Endpoint is one method and path template the edge serves, with the route
// label of its requests (the route label of
// shortener_edge_api_requests_total; "redirect" for /{code}).
type Endpoint struct {
	Method string
	Path   string // a template: {code}, {tag} and {id} stand for one path segment
	Label  string
}

// Routes lists every method and path the edge serves: the API's (as
// dispatch routes them) and the redirects. The OpenAPI document describes
// exactly these. Never modify it.
var Routes = []Endpoint{
	{"GET", Prefix + "/links", routeList},
	{"POST", Prefix + "/links", routeCreate},
	{"POST", Prefix + "/links/bulk", routeBulk},
	{"GET", Prefix + "/links/{code}", routeGet},
	{"HEAD", Prefix + "/links/{code}", routeGet},
	{"PATCH", Prefix + "/links/{code}", routePatch},
	{"DELETE", Prefix + "/links/{code}", routeDelete},
	{"GET", Prefix + "/links/{code}/analytics", routeAnalytic},
	{"GET", Prefix + "/links/{code}/analytics.csv", routeAnalyticCSV},
	{"GET", Prefix + "/links/{code}/clicks.csv", routeClicksCSV},
	{"GET", Prefix + "/links/{code}/qr", routeQR},
	{"HEAD", Prefix + "/links/{code}/qr", routeQR},
	{"GET", Prefix + "/tags/{tag}/analytics", routeTag},
	{"GET", Prefix + "/stats", routeStats},
	{"GET", Prefix + "/stats/top", routeTop},
	{"GET", Prefix + "/stats/orphans", routeOrphans},
	{"GET", Prefix + "/webhooks", routeListWebhooks},
	{"POST", Prefix + "/webhooks", routeCreateWebhook},
	{"GET", Prefix + "/webhooks/{id}", routeGetWebhook},
	{"PATCH", Prefix + "/webhooks/{id}", routeUpdateWebhook},
	{"DELETE", Prefix + "/webhooks/{id}", routeDeleteWebhook},
	{"GET", Prefix + "/webhooks/{id}/dead-letters", routeDeadLetters},
	{"POST", Prefix + "/webhooks/{id}/replay", routeReplayWebhook},
	{"POST", Prefix + "/webhooks/{id}/test", routeTestWebhook},
	{"GET", OpenAPIPath, routeOpenAPI},
	{"POST", ShlinkPath, routeShlink},
	{"POST", BitlyPath, routeBitly},
	{"GET", "/{code}", routeRedirect},
	{"HEAD", "/{code}", routeRedirect},
	{"POST", "/{code}", routeRedirect},
}

// Route reports the route label dispatch gives a request with method and
// path, and whether the API serves that method there, without running a
// handler. A path the API does not know (a redirect among them) gives
// "unknown" and false; a known path with a method it does not serve gives
// its label and false (dispatch answers 405). It is safe for concurrent use.
func (a *API) Route(method, path string) (route string, ok bool) {
	label, allowed, found := matchRoute(method, path)
	return label, found && allowed == ""
}

// matchRoute is dispatch's routing table. found is false for a path the API
// does not serve (404, label "unknown"). For a path it serves, label is the
// route label, and allowed is "" when method is served there, else the
// Allow header of the 405 answer.
func matchRoute(method, path string) (label, allowed string, found bool) {
	only := func(label, allow string, ok bool) (string, string, bool) {
		if ok {
			return label, "", true
		}
		return label, allow, true
	}
	get, head, post := method == fasthttp.MethodGet, method == fasthttp.MethodHead, method == fasthttp.MethodPost
	switch path {
	case ShlinkPath:
		return only(routeShlink, "POST", post)
	case BitlyPath:
		return only(routeBitly, "POST", post)
	}
	rest, ok := strings.CutPrefix(path, Prefix+"/")
	if !ok {
		return routeNotFound, "", false
	}
	seg := strings.Split(rest, "/")
	switch {
	case len(seg) == 1 && seg[0] == "links":
		switch {
		case post:
			return routeCreate, "", true
		case get:
			return routeList, "", true
		}
		return routeList, "GET, POST", true
	case len(seg) == 2 && seg[0] == "links" && seg[1] == "bulk":
		return only(routeBulk, "POST", post)
	case len(seg) == 2 && seg[0] == "links":
		switch {
		case get || head:
			return routeGet, "", true
		case method == fasthttp.MethodDelete:
			return routeDelete, "", true
		case method == fasthttp.MethodPatch:
			return routePatch, "", true
		}
		return routeGet, "GET, HEAD, PATCH, DELETE", true
	case len(seg) == 3 && seg[0] == "links" && seg[2] == "analytics":
		return only(routeAnalytic, "GET", get)
	case len(seg) == 3 && seg[0] == "links" && seg[2] == "analytics.csv":
		return only(routeAnalyticCSV, "GET", get)
	case len(seg) == 3 && seg[0] == "links" && seg[2] == "clicks.csv":
		return only(routeClicksCSV, "GET", get)
	case len(seg) == 3 && seg[0] == "links" && seg[2] == "qr":
		return only(routeQR, "GET, HEAD", get || head)
	case len(seg) == 3 && seg[0] == "tags" && seg[2] == "analytics":
		return only(routeTag, "GET", get)
	case len(seg) == 2 && seg[0] == "stats" && seg[1] == "top":
		return only(routeTop, "GET", get)
	case len(seg) == 2 && seg[0] == "stats" && seg[1] == "orphans":
		return only(routeOrphans, "GET", get)
	case len(seg) == 1 && seg[0] == "stats":
		return only(routeStats, "GET", get)
	case len(seg) == 1 && seg[0] == "openapi.json":
		return only(routeOpenAPI, "GET", get)
	case len(seg) == 1 && seg[0] == "webhooks":
		switch {
		case post:
			return routeCreateWebhook, "", true
		case get:
			return routeListWebhooks, "", true
		}
		return routeListWebhooks, "GET, POST", true
	case len(seg) == 2 && seg[0] == "webhooks":
		switch {
		case get:
			return routeGetWebhook, "", true
		case method == fasthttp.MethodPatch:
			return routeUpdateWebhook, "", true
		case method == fasthttp.MethodDelete:
			return routeDeleteWebhook, "", true
		}
		return routeGetWebhook, "GET, PATCH, DELETE", true
	case len(seg) == 3 && seg[0] == "webhooks" && seg[2] == "dead-letters":
		return only(routeDeadLetters, "GET", get)
	case len(seg) == 3 && seg[0] == "webhooks" && seg[2] == "replay":
		return only(routeReplayWebhook, "POST", post)
	case len(seg) == 3 && seg[0] == "webhooks" && seg[2] == "test":
		return only(routeTestWebhook, "POST", post)
	}
	return routeNotFound, "", false
}

// pathParam is the code, tag or webhook id of a path that matchRoute found:
// its second segment under Prefix.
func pathParam(path string) string {
	seg := strings.Split(strings.TrimPrefix(path, Prefix+"/"), "/")
	if len(seg) < 2 {
		return ""
	}
	return seg[1]
}

// openAPI answers GET /api/v1/openapi.json: the embedded document.
func (a *API) openAPI(ctx *fasthttp.RequestCtx) {
	ctx.Response.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.SetContentType("application/json")
	ctx.Response.SetBodyRaw(OpenAPI)
}
