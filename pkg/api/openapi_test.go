package api

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/shortener/shortener/pkg/analytics"
	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redirect"
	"github.com/shortener/shortener/pkg/webhook"
)

// openAPIDoc is the parsed OpenAPI document, as generic JSON.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(OpenAPI, &doc), "openapi.json is not JSON")
	return doc
}

// obj reads a JSON object at a path of keys, failing the test if absent.
func obj(t *testing.T, v any, keys ...string) map[string]any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		require.True(t, ok, "%v is not an object", keys)
		v = m[k]
	}
	m, ok := v.(map[string]any)
	require.True(t, ok, "%v is not an object", keys)
	return m
}

// pointer resolves a local JSON pointer ("#/components/schemas/Link").
func pointer(doc map[string]any, ref string) (any, bool) {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var v any = doc
	for _, tok := range strings.Split(p, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return v, true
}

// walk calls f on every JSON value of v, with its location.
func walk(v any, at string, f func(at string, v any)) {
	f(at, v)
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			walk(e, at+"/"+k, f)
		}
	case []any:
		for i, e := range x {
			walk(e, at+"/"+strconv.Itoa(i), f)
		}
	}
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operation is one operation of the document.
type operation struct {
	method, path string // "PATCH", "/api/v1/links/{code}"
	op           map[string]any
}

func operations(t *testing.T, doc map[string]any) []operation {
	t.Helper()
	var ops []operation
	for path, item := range obj(t, doc, "paths") {
		for _, m := range httpMethods {
			if op, ok := item.(map[string]any)[m]; ok {
				ops = append(ops, operation{strings.ToUpper(m), path, op.(map[string]any)})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	return ops
}

func TestOpenAPIDocument(t *testing.T) {
	doc := openAPIDoc(t)
	version, _ := doc["openapi"].(string)
	assert.Regexp(t, `^3\.[01]\.\d+$`, version, "openapi version")
	assert.NotEmpty(t, obj(t, doc, "info")["title"])
	assert.NotEmpty(t, obj(t, doc, "info")["version"])

	refs := map[string]bool{}
	walk(doc, "#", func(at string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return
		}
		refs[ref] = true
		assert.True(t, strings.HasPrefix(ref, "#/components/"), "%s: $ref %q is not a component", at, ref)
		_, found := pointer(doc, ref)
		assert.True(t, found, "%s: $ref %q does not resolve", at, ref)
	})
	assert.NotEmpty(t, refs)
	for kind, defs := range obj(t, doc, "components") {
		if kind == "securitySchemes" {
			continue // named by security requirements, not $ref
		}
		for name := range defs.(map[string]any) {
			assert.True(t, refs["#/components/"+kind+"/"+name], "component %s/%s is never used", kind, name)
		}
	}

	schemes := obj(t, doc, "components", "securitySchemes")
	assert.Equal(t, map[string]any{"type": "http", "scheme": "bearer", "description": schemes["bearerAuth"].(map[string]any)["description"]}, schemes["bearerAuth"])
	assert.Equal(t, "X-API-Key", obj(t, schemes, "apiKey")["name"])
	assert.Equal(t, "header", obj(t, schemes, "apiKey")["in"])

	ids := map[string]bool{}
	placeholder := regexp.MustCompile(`\{([^}]+)\}`)
	for _, o := range operations(t, doc) {
		name := o.method + " " + o.path
		id, _ := o.op["operationId"].(string)
		assert.NotEmpty(t, id, "%s: operationId", name)
		assert.False(t, ids[id], "%s: operationId %q twice", name, id)
		ids[id] = true
		assert.NotEmpty(t, o.op["responses"], "%s: responses", name)
		for _, req := range o.op["security"].([]any) {
			for scheme := range req.(map[string]any) {
				assert.Contains(t, schemes, scheme, "%s: security scheme", name)
			}
		}
		// Path parameters: exactly the template's placeholders.
		var declared []string
		for _, params := range []any{obj(t, doc, "paths", o.path)["parameters"], o.op["parameters"]} {
			for _, p := range asSlice(params) {
				p := deref(doc, p)
				if p["in"] == "path" {
					declared = append(declared, p["name"].(string))
					assert.Equal(t, true, p["required"], "%s: path parameter %v must be required", name, p["name"])
				}
			}
		}
		var want []string
		for _, m := range placeholder.FindAllStringSubmatch(o.path, -1) {
			want = append(want, m[1])
		}
		assert.ElementsMatch(t, want, declared, "%s: path parameters", name)
	}
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// deref returns the object v, or the one its $ref names.
func deref(doc map[string]any, v any) map[string]any {
	m, _ := v.(map[string]any)
	if ref, ok := m["$ref"].(string); ok {
		r, _ := pointer(doc, ref)
		m, _ = r.(map[string]any)
	}
	return m
}

// TestOpenAPIRoutes checks the document against Routes, both ways: the same
// (method, path) pairs, with the same route labels.
func TestOpenAPIRoutes(t *testing.T) {
	doc := openAPIDoc(t)
	documented := map[string]string{}
	for _, o := range operations(t, doc) {
		label, _ := o.op["x-route"].(string)
		documented[o.method+" "+o.path] = label
	}
	served := map[string]string{}
	for _, r := range Routes {
		key := r.Method + " " + r.Path
		assert.NotContains(t, served, key, "Routes lists %s twice", key)
		served[key] = r.Label
	}
	assert.Equal(t, served, documented, "OpenAPI operations (method path → x-route) against Routes")
}

// concrete fills a path template with sample values.
func concrete(template string) string {
	return strings.NewReplacer("{code}", "abc123", "{tag}", "spring", "{id}", sampleWebhookID).Replace(template)
}

// sampleWebhookID has the shape of a webhook id.
const sampleWebhookID = "wh_0123456789abcdef01234567"

// TestConcreteFillsEveryTemplate checks concrete knows every placeholder of
// Routes and of the document, so the tests below probe real paths.
func TestConcreteFillsEveryTemplate(t *testing.T) {
	assert.True(t, webhook.ValidID(sampleWebhookID))
	for _, r := range Routes {
		if !strings.HasPrefix(r.Path, "/{") {
			assert.NotContains(t, concrete(r.Path), "{", "concrete(%s)", r.Path)
		}
	}
	for _, o := range operations(t, openAPIDoc(t)) {
		if o.op["x-route"] != routeRedirect {
			assert.NotContains(t, concrete(o.path), "{", "concrete(%s)", o.path)
		}
	}
	assert.Equal(t, "/api/v1/webhooks/"+sampleWebhookID+"/replay", concrete(Prefix+"/webhooks/{id}/replay"))
}

// newRequestCtx returns a request context as the server would build it.
func newRequestCtx(method, uri string, header map[string]string, body string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(uri)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req.SetBodyString(body)
	ctx := &fasthttp.RequestCtx{}
	ctx.Init(&req, nil, nil)
	return ctx
}

func newTestAPI(t *testing.T, allowAnonymous bool) *API {
	t.Helper()
	a, err := New(Config{BaseURL: "https://sho.rt", AllowAnonymous: allowAnonymous, Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return a
}

// passwordResolver resolves every code to a password-protected link, so the
// redirect handler serves GET, HEAD (the form) and POST (a wrong password).
type passwordResolver struct{}

func (passwordResolver) Resolve(context.Context, []byte) (link.Target, error) {
	return link.Target{URL: "https://example.com/", Options: `{"p":"not-a-bcrypt-hash"}`}, nil
}

func (passwordResolver) Take(context.Context, []byte, link.Target, bool) error { return nil }

var probeMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}

// TestRoutesServed sends a request for every method to every path of Routes
// through the real routers: the API's matching (Route, which dispatch uses)
// and the redirect handler. A method is served exactly when Routes lists it.
func TestRoutesServed(t *testing.T) {
	a := newTestAPI(t, true)
	redirects, err := redirect.New(redirect.Config{Status: 302, Resolver: passwordResolver{}, Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	listed := map[string]string{}
	paths := map[string]bool{}
	for _, r := range Routes {
		listed[r.Method+" "+r.Path] = r.Label
		paths[r.Path] = true
	}
	for path := range paths {
		for _, method := range probeMethods {
			label, want := listed[method+" "+path]
			t.Run(method+" "+path, func(t *testing.T) {
				ctx := newRequestCtx(method, "http://sho.rt"+concrete(path), nil, "")
				route, ok := a.Route(string(ctx.Method()), string(ctx.Path()))
				if !strings.HasPrefix(path, "/{") {
					assert.Equal(t, want, ok, "Route(%s, %s) served = %v, want %v", method, ctx.Path(), ok, want)
					if want {
						assert.Equal(t, label, route, "Route(%s, %s) label", method, ctx.Path())
					} else {
						assert.NotEqual(t, routeNotFound, route, "a listed path answers 405, not 404")
					}
					return
				}
				// The redirect path: the API does not claim it; the redirect
				// handler serves exactly the listed methods.
				assert.False(t, ok, "Route(%s, %s) claims a redirect", method, ctx.Path())
				assert.Equal(t, routeNotFound, route)
				redirects.Serve(ctx)
				status := ctx.Response.StatusCode()
				if want {
					assert.NotEqual(t, 405, status, "%s %s answered 405", method, ctx.Path())
				} else {
					assert.Equal(t, 405, status, "%s %s", method, ctx.Path())
					assert.Equal(t, "GET, HEAD", string(ctx.Response.Header.Peek("Allow")))
				}
			})
		}
	}
}

// TestDispatchRefusals pins dispatch's 404 and 405 answers: status, Allow,
// problem document and route label. They never reach a handler, so the API
// needs no store.
func TestDispatchRefusals(t *testing.T) {
	a := newTestAPI(t, true)
	cases := []struct {
		method, path string
		status       int
		allow, label string
	}{
		{"GET", "/api/v1/nope", 404, "", routeNotFound},
		{"GET", "/api", 404, "", routeNotFound},
		{"GET", "/api/v2/links", 404, "", routeNotFound},
		{"GET", "/api/v1/links/abc123/clicks", 404, "", routeNotFound},
		{"GET", "/api/v1/links/a/b/c", 404, "", routeNotFound},
		{"GET", "/api/v1/tags/spring", 404, "", routeNotFound},
		{"PUT", "/api/v1/links", 405, "GET, POST", routeList},
		{"HEAD", "/api/v1/links", 405, "GET, POST", routeList},
		{"GET", "/api/v1/links/bulk", 405, "POST", routeBulk},
		{"POST", "/api/v1/links/abc123", 405, "GET, HEAD, PATCH, DELETE", routeGet},
		{"PUT", "/api/v1/links/abc123", 405, "GET, HEAD, PATCH, DELETE", routeGet},
		{"POST", "/api/v1/links/abc123/analytics", 405, "GET", routeAnalytic},
		{"HEAD", "/api/v1/links/abc123/analytics", 405, "GET", routeAnalytic},
		{"PUT", "/api/v1/links/abc123/qr", 405, "GET, HEAD", routeQR},
		{"DELETE", "/api/v1/tags/spring/analytics", 405, "GET", routeTag},
		{"POST", "/api/v1/stats", 405, "GET", routeStats},
		{"POST", "/api/v1/stats/top", 405, "GET", routeTop},
		{"HEAD", "/api/v1/openapi.json", 405, "GET", routeOpenAPI},
		{"GET", ShlinkPath, 405, "POST", routeShlink},
		{"GET", BitlyPath, 405, "POST", routeBitly},
		{"get", "/api/v1/links", 405, "GET, POST", routeList},
		{"GET", "/api/v1/webhooks/" + sampleWebhookID + "/nope", 404, "", routeNotFound},
		{"GET", "/api/v1/webhooks/" + sampleWebhookID + "/replay/x", 404, "", routeNotFound},
		{"PUT", "/api/v1/webhooks", 405, "GET, POST", routeListWebhooks},
		{"DELETE", "/api/v1/webhooks", 405, "GET, POST", routeListWebhooks},
		{"HEAD", "/api/v1/webhooks", 405, "GET, POST", routeListWebhooks},
		{"POST", "/api/v1/webhooks/" + sampleWebhookID, 405, "GET, PATCH, DELETE", routeGetWebhook},
		{"PUT", "/api/v1/webhooks/" + sampleWebhookID, 405, "GET, PATCH, DELETE", routeGetWebhook},
		{"HEAD", "/api/v1/webhooks/" + sampleWebhookID, 405, "GET, PATCH, DELETE", routeGetWebhook},
		{"POST", "/api/v1/webhooks/" + sampleWebhookID + "/dead-letters", 405, "GET", routeDeadLetters},
		{"DELETE", "/api/v1/webhooks/" + sampleWebhookID + "/dead-letters", 405, "GET", routeDeadLetters},
		{"GET", "/api/v1/webhooks/" + sampleWebhookID + "/replay", 405, "POST", routeReplayWebhook},
		{"PUT", "/api/v1/webhooks/" + sampleWebhookID + "/replay", 405, "POST", routeReplayWebhook},
		{"GET", "/api/v1/webhooks/" + sampleWebhookID + "/test", 405, "POST", routeTestWebhook},
		{"PATCH", "/api/v1/webhooks/" + sampleWebhookID + "/test", 405, "POST", routeTestWebhook},
		{"DELETE", "/api/v1/webhooks/" + sampleWebhookID + "/test", 405, "POST", routeTestWebhook},
		{"POST", "/api/v1/webhooks/" + sampleWebhookID + "/test/x", 404, "", routeNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			ctx := newRequestCtx(tc.method, "http://sho.rt"+tc.path, nil, "")
			label := a.serve(ctx)
			assert.Equal(t, tc.label, label, "route label")
			assert.Equal(t, tc.status, ctx.Response.StatusCode())
			assert.Equal(t, tc.allow, string(ctx.Response.Header.Peek("Allow")))
			assert.Equal(t, "application/problem+json", string(ctx.Response.Header.ContentType()))
			var p Problem
			require.NoError(t, json.Unmarshal(ctx.Response.Body(), &p))
			want := Problem{Type: TypeNotFound, Title: "Not Found", Status: 404, Detail: "no such API route"}
			if tc.status == 405 {
				want = Problem{Type: TypeMethod, Title: "Method Not Allowed", Status: 405, Detail: "allowed: " + tc.allow}
			}
			assert.Equal(t, want, p)
			route, ok := a.Route(tc.method, tc.path)
			assert.False(t, ok, "Route(%s, %s) served", tc.method, tc.path)
			assert.Equal(t, tc.label, route, "Route and dispatch agree on the label")
		})
	}
}

func TestServeOpenAPI(t *testing.T) {
	a := newTestAPI(t, false) // public even where anonymous creations are off
	ctx := newRequestCtx("GET", "http://sho.rt"+OpenAPIPath, nil, "")
	assert.Equal(t, routeOpenAPI, a.serve(ctx))
	assert.Equal(t, 200, ctx.Response.StatusCode())
	assert.Equal(t, "application/json", string(ctx.Response.Header.ContentType()))
	assert.Equal(t, OpenAPI, ctx.Response.Body())
	assert.True(t, json.Valid(ctx.Response.Body()))
}

// TestOpenAPIAuth checks the document's security against the API: a call
// documented to need a key answers 401 without one; the anonymous creations
// answer 401 while anonymous callers are refused; and every API call
// answers 401 to a malformed Authorization header, as documented.
func TestOpenAPIAuth(t *testing.T) {
	doc := openAPIDoc(t)
	strict := newTestAPI(t, false)
	anonymousCreates := []string{routeCreate, routeShlink, routeBitly}
	for _, o := range operations(t, doc) {
		label := o.op["x-route"].(string)
		if label == routeRedirect {
			assert.Empty(t, o.op["security"], "redirects take no key")
			continue
		}
		anonymous := slices.ContainsFunc(o.op["security"].([]any), func(r any) bool { return len(r.(map[string]any)) == 0 })
		name := o.method + " " + o.path
		assert.Contains(t, obj(t, o.op, "responses"), "401", "%s: every API call may answer 401", name)
		t.Run(name, func(t *testing.T) {
			header := map[string]string{"Content-Type": "application/json"}
			switch {
			case !anonymous && label == routeAnalytic:
				// It reads the link before it checks the key (a 404 needs no
				// key): not answerable without a store.
			case !anonymous || slices.Contains(anonymousCreates, label):
				ctx := newRequestCtx(o.method, "http://sho.rt"+concrete(o.path), header, "{}")
				if !serveWithoutStore(t, strict, ctx) {
					return
				}
				assert.Equal(t, 401, ctx.Response.StatusCode(), "%s without a key; body %s", name, ctx.Response.Body())
				assert.Equal(t, `Bearer realm="shortener"`, string(ctx.Response.Header.Peek("WWW-Authenticate")))
			}
			header["Authorization"] = "Basic YWxpY2U6c2VjcmV0"
			ctx := newRequestCtx(o.method, "http://sho.rt"+concrete(o.path), header, "{}")
			assert.Equal(t, "unauthorized", strict.serve(ctx))
			assert.Equal(t, 401, ctx.Response.StatusCode(), "%s with a malformed Authorization", name)
		})
	}
}

// serveWithoutStore serves ctx with an API that has no store, reporting a
// handler that reaches for it (a call that did not refuse the caller first).
func serveWithoutStore(t *testing.T, a *API, ctx *fasthttp.RequestCtx) (ok bool) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s %s went past the key check to the store (%v): the document says it needs a key", ctx.Method(), ctx.Path(), r)
			ok = false
		}
	}()
	a.Serve(ctx)
	return true
}

// TestOpenAPIResponses checks the answers every API operation can give are
// documented: 401, 429 and 503 everywhere; 413 and 415 with a JSON body.
func TestOpenAPIResponses(t *testing.T) {
	doc := openAPIDoc(t)
	for _, o := range operations(t, doc) {
		name := o.method + " " + o.path
		responses := obj(t, o.op, "responses")
		if o.op["x-route"] == routeRedirect {
			for _, s := range []string{"404", "410", "503"} {
				assert.Contains(t, responses, s, name)
			}
			continue
		}
		for _, s := range []string{"401", "429", "503"} {
			assert.Contains(t, responses, s, name)
		}
		if rb, ok := o.op["requestBody"]; ok {
			assert.Contains(t, obj(t, rb, "content"), "application/json", name)
			assert.Contains(t, responses, "413", name)
			assert.Contains(t, responses, "415", name)
		}
		for status, r := range responses {
			r := deref(doc, r)
			if status >= "400" {
				assert.Contains(t, obj(t, r, "content"), "application/problem+json", "%s %s", name, status)
			}
			if status != "413" { // fasthttp refuses the body before the API runs
				assert.Contains(t, obj(t, r, "headers"), "X-RateLimit-Remaining", "%s %s", name, status)
			}
		}
		assert.Contains(t, obj(t, deref(doc, responses["429"]), "headers"), "Retry-After", name)
	}
	assert.Contains(t, obj(t, doc, "paths", Prefix+"/links", "post", "responses", "201", "headers"), "Location")
	assert.Contains(t, obj(t, doc, "paths", Prefix+"/webhooks", "post", "responses", "201", "headers"), "Location")
	assert.Contains(t, obj(t, doc, "paths", Prefix+"/links/{code}/qr", "get", "responses", "200", "headers"), "ETag")
	assert.Contains(t, obj(t, doc, "paths", Prefix+"/links/{code}/qr", "get", "responses"), "304")
	for _, s := range []string{"301", "302", "307", "308"} {
		assert.Contains(t, obj(t, doc, "paths", "/{code}", "get", "responses", s, "headers"), "Location")
	}
}

// jsonFields returns the JSON names of a struct type's fields (embedded
// structs flattened) and whether each is always present (no omitempty).
func jsonFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = !strings.Contains(opts, "omitempty")
	}
	return out
}

// TestOpenAPISchemasMatchGoTypes compares the component schemas with the Go
// types the code encodes and decodes: the same fields; for answers, the
// fields always present are the required ones.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	doc := openAPIDoc(t)
	type analyticsJSON struct { // as analytics() writes it
		Code      string `json:"code"`
		URL       string `json:"url"`
		CreatedAt string `json:"created_at"`
		analytics.Report
	}
	cases := []struct {
		schema string
		typ    any
		answer bool // an answer: required = always present
	}{
		{"Link", linkJSON{}, true},
		{"Rule", link.Rule{}, true},
		{"Problem", Problem{}, true},
		{"BulkItemResult", bulkResult{}, true},
		{"Analytics", analyticsJSON{}, true},
		{"RecentClick", analytics.Recent{}, true},
		{"TagAnalytics", analytics.TagReport{}, true},
		{"TopLink", topJSON{}, true},
		{"ShlinkShortUrl", shlinkShortURL{}, true},
		{"ShlinkMeta", shlinkMeta{}, true},
		{"CreateLink", createBody{}, false},
		{"PatchLink", patchBody{}, false},
		{"ShlinkCreate", shlinkRequest{}, false},
		{"BitlyShorten", bitlyRequest{}, false},
		{"Webhook", webhookJSON{}, true},
		{"WebhookList", webhookListJSON{}, true},
		{"DeadLetter", webhook.DeadLetter{}, true},
		{"DeadLetterList", deadLettersJSON{}, true},
		{"WebhookReplay", replayJSON{}, true},
		{"WebhookCreate", webhookCreateBody{}, false},
		{"WebhookUpdate", webhookUpdateBody{}, false},
		{"WebhookTest", webhookTestJSON{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.schema, func(t *testing.T) {
			s := obj(t, doc, "components", "schemas", tc.schema)
			fields := jsonFields(reflect.TypeOf(tc.typ))
			var names, always []string
			for name, present := range fields {
				names = append(names, name)
				if present {
					always = append(always, name)
				}
			}
			var props []string
			for name := range obj(t, s, "properties") {
				props = append(props, name)
			}
			assert.ElementsMatch(t, names, props, "%s properties against %T", tc.schema, tc.typ)
			if tc.answer {
				var required []string
				for _, r := range asSlice(s["required"]) {
					required = append(required, r.(string))
				}
				assert.ElementsMatch(t, always, required, "%s required against %T's fields without omitempty", tc.schema, tc.typ)
			}
		})
	}
	// Strict bodies refuse unknown fields; the shims' tolerate them.
	for name, strict := range map[string]bool{"CreateLink": true, "PatchLink": true, "BulkRequest": true, "Rule": true, "WebhookCreate": true, "WebhookUpdate": true, "ShlinkCreate": false, "BitlyShorten": false} {
		assert.Equal(t, !strict, obj(t, doc, "components", "schemas", name)["additionalProperties"], "%s additionalProperties", name)
	}
}

// TestOpenAPIProblemTypes checks the Problem schema lists every problem
// type of problem.go (the redirect path uses the same types).
func TestOpenAPIProblemTypes(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "problem.go", nil, 0)
	require.NoError(t, err)
	var want []any
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			for i, id := range vs.Names {
				if strings.HasPrefix(id.Name, "Type") && i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						want = append(want, s)
					}
				}
			}
		}
		return true
	})
	require.Greater(t, len(want), 10, "problem types found in problem.go")
	enum := obj(t, openAPIDoc(t), "components", "schemas", "Problem", "properties", "type")["enum"]
	assert.ElementsMatch(t, want, enum)
}

// TestOpenAPIExamples checks every example against its schema: required
// keys present, no unknown keys where the schema is closed, types, enums,
// patterns and bounds.
func TestOpenAPIExamples(t *testing.T) {
	doc := openAPIDoc(t)
	n := 0
	walk(doc, "#", func(at string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		if ex, ok := m["example"]; ok {
			schema := m
			if s, ok := m["schema"]; ok { // a media type or a parameter
				schema = s.(map[string]any)
			}
			for _, e := range checkExample(doc, schema, ex, at+"/example") {
				t.Error(e)
			}
			n++
		}
		if exs, ok := m["examples"].(map[string]any); ok {
			for name, e := range exs {
				for _, err := range checkExample(doc, m["schema"].(map[string]any), deref(doc, e)["value"], at+"/examples/"+name) {
					t.Error(err)
				}
				n++
			}
		}
	})
	assert.Greater(t, n, 20, "examples checked")

	// The checker itself finds what it should.
	linkSchema := obj(t, doc, "components", "schemas", "Link")
	bad := map[string]any{"code": "launch", "colour": "red", "clicks": 1.5, "expires_at": "tomorrow", "tags": []any{"UPPER"}}
	errs := strings.Join(checkExample(doc, linkSchema, bad, "bad"), "\n")
	for _, want := range []string{"missing required short_url", "unknown key colour", "bad/clicks: 1.5 is not an integer", "bad/expires_at", "bad/tags/0"} {
		assert.Contains(t, errs, want)
	}
}

// checkExample validates v against schema (the subset of JSON Schema the
// document uses) and returns what is wrong.
func checkExample(doc map[string]any, schema map[string]any, v any, at string) []string {
	schema = deref(doc, schema)
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		fail("%v is not one of %v", v, enum)
	}
	if v == nil {
		if schema["nullable"] != true {
			fail("null where the schema is not nullable")
		}
		return errs
	}
	for _, key := range []string{"allOf", "anyOf", "oneOf"} {
		subs := asSlice(schema[key])
		ok := 0
		for _, s := range subs {
			sub := checkExample(doc, s.(map[string]any), v, at)
			if len(sub) == 0 {
				ok++
			} else if key == "allOf" {
				errs = append(errs, sub...)
			}
		}
		if key != "allOf" && len(subs) > 0 && ok == 0 {
			fail("matches none of %s", key)
		}
	}
	num := func(k string) (float64, bool) { f, ok := schema[k].(float64); return f, ok }
	switch schema["type"] {
	case "object":
		o, ok := v.(map[string]any)
		if !ok {
			fail("%v is not an object", v)
			break
		}
		for _, r := range asSlice(schema["required"]) {
			if _, ok := o[r.(string)]; !ok {
				fail("missing required %s", r)
			}
		}
		props, _ := schema["properties"].(map[string]any)
		for k, e := range o {
			switch p, ok := props[k]; {
			case ok:
				errs = append(errs, checkExample(doc, p.(map[string]any), e, at+"/"+k)...)
			case schema["additionalProperties"] == false:
				fail("unknown key %s", k)
			default:
				if ap, ok := schema["additionalProperties"].(map[string]any); ok {
					errs = append(errs, checkExample(doc, ap, e, at+"/"+k)...)
				}
			}
		}
		if max, ok := num("maxProperties"); ok && float64(len(o)) > max {
			fail("more than %v properties", max)
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			fail("%v is not an array", v)
			break
		}
		if min, ok := num("minItems"); ok && float64(len(a)) < min {
			fail("fewer than %v items", min)
		}
		if max, ok := num("maxItems"); ok && float64(len(a)) > max {
			fail("more than %v items", max)
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, e := range a {
				errs = append(errs, checkExample(doc, items, e, at+"/"+strconv.Itoa(i))...)
			}
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			fail("%v is not a string", v)
			break
		}
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(s) {
			fail("%q does not match %s", s, p)
		}
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				fail("%q is not an RFC 3339 time", s)
			}
		}
		if max, ok := num("maxLength"); ok && float64(len(s)) > max {
			fail("%q is longer than %v", s, max)
		}
	case "integer", "number":
		f, ok := v.(float64)
		if !ok {
			fail("%v is not a number", v)
			break
		}
		if schema["type"] == "integer" && f != math.Trunc(f) {
			fail("%v is not an integer", v)
		}
		if min, ok := num("minimum"); ok && f < min {
			fail("%v is below %v", f, min)
		}
		if max, ok := num("maximum"); ok && f > max {
			fail("%v is above %v", f, max)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("%v is not a boolean", v)
		}
	}
	return errs
}

// TestOpenAPIWebhookContract checks what the document says of webhooks
// against package webhook: event types, limits, id and secret shapes.
func TestOpenAPIWebhookContract(t *testing.T) {
	doc := openAPIDoc(t)
	schemas := obj(t, doc, "components", "schemas")
	var events []any
	for _, e := range webhook.EventTypes {
		events = append(events, e)
	}
	for _, name := range []string{"Webhook", "WebhookCreate", "WebhookUpdate"} {
		props := obj(t, schemas, name, "properties")
		assert.Equal(t, events, obj(t, props, "events", "items")["enum"], "%s events", name)
		assert.EqualValues(t, webhook.MaxDescription, obj(t, props, "description")["maxLength"], "%s description", name)
		assert.EqualValues(t, webhook.MaxURLLen, obj(t, props, "url")["maxLength"], "%s url", name)
	}
	// Deliveries also carry the test event, which nobody subscribes to.
	delivered := append(slices.Clone(events), webhook.EventTest)
	assert.NotContains(t, events, webhook.EventTest)
	assert.Equal(t, delivered, obj(t, schemas, "DeadLetter", "properties", "type")["enum"])
	assert.Equal(t, delivered, obj(t, schemas, "WebhookEvent", "properties", "type")["enum"])
	assert.Equal(t, "^"+webhook.TestMessagePrefix+"[0-9a-f]{32}$", obj(t, schemas, "WebhookTest", "properties", "message_id")["pattern"])
	expires := obj(t, schemas, "Webhook", "properties", "previous_secret_expires_at")
	assert.Equal(t, true, expires["nullable"])
	assert.Equal(t, "date-time", expires["format"])
	assert.NotContains(t, obj(t, schemas, "Webhook", "properties"), "previous_secret", "the previous secret is never shown")

	secret := regexp.MustCompile(obj(t, schemas, "Webhook", "properties", "secret")["pattern"].(string))
	given := regexp.MustCompile(obj(t, schemas, "WebhookCreate", "properties", "secret")["pattern"].(string))
	for range 20 {
		s := webhook.NewSecret()
		assert.Regexp(t, secret, s)
		assert.Regexp(t, given, s)
	}
	example := obj(t, schemas, "Webhook", "example")["secret"].(string)
	_, err := webhook.SecretKey(example)
	assert.NoError(t, err, "the example secret is a valid one")

	idParam := obj(t, doc, "components", "parameters", "webhookId")
	assert.Equal(t, "id", idParam["name"])
	assert.True(t, webhook.ValidID(idParam["example"].(string)))
	idPattern := regexp.MustCompile(obj(t, idParam, "schema")["pattern"].(string))
	assert.Equal(t, idPattern.String(), obj(t, schemas, "Webhook", "properties", "id")["pattern"])
	for _, id := range []string{sampleWebhookID, "wh_" + strings.Repeat("f", 24)} {
		assert.Equal(t, webhook.ValidID(id), idPattern.MatchString(id), id)
	}
	for _, id := range []string{"wh_" + strings.Repeat("F", 24), "wh_123", "xx_0123456789abcdef01234567"} {
		assert.False(t, idPattern.MatchString(id), id)
		assert.False(t, webhook.ValidID(id), id)
	}

	var limit map[string]any
	for _, p := range asSlice(obj(t, doc, "paths", Prefix+"/webhooks/{id}/dead-letters", "get")["parameters"]) {
		if p := deref(doc, p); p["name"] == "limit" {
			limit = obj(t, p, "schema")
		}
	}
	require.NotNil(t, limit, "dead-letters documents limit")
	assert.EqualValues(t, DefaultDeadLetterLimit, limit["default"])
	assert.EqualValues(t, 1, limit["minimum"])
	assert.EqualValues(t, MaxDeadLetterLimit, limit["maximum"])
}
