//go:build ui

package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx/redistest"
)

// chromiumPath is Debian's Chromium; the test drives it headless.
const chromiumPath = "/usr/bin/chromium"

const uiAdminKey = "ui-admin-key"

// User agents the clicks come from: uap-go calls them desktop Chrome on
// Windows, mobile Safari on iOS, desktop Firefox on macOS, and a bot.
const (
	uaChrome  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
	uaIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
	uaFirefox = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0"
	uaCurl    = "curl/8.5.0"
)

// uiStack is Redis, a worker and an edge run as processes, as an operator
// runs them, for a test of the page.
type uiStack struct {
	t    *testing.T
	dir  string
	edge string   // the edge binary
	env  []string // the environment of both
	base string   // the edge's public URL
	hc   *http.Client
}

// startUIStack starts Redis, the worker with workerArgs and the edge with
// edgeArgs (their addresses and the admin key added), and waits until both
// are ready.
func startUIStack(t *testing.T, workerArgs, edgeArgs []string) *uiStack {
	t.Helper()
	srv := redistest.StartPrivate(t)
	dir := t.TempDir()
	edge, worker := build(t, dir, "./edge"), build(t, dir, "./worker")
	listen, edgeOps, workerOps := freeAddr(t), freeAddr(t), freeAddr(t)
	s := &uiStack{
		t: t, dir: dir, edge: edge, base: "http://" + listen,
		env: []string{"SHORTENER_REDIS=" + srv.URL, "SHORTENER_LOG_FORMAT=text"},
		hc:  &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	start(t, worker, s.env, append([]string{"--ops-listen", workerOps}, workerArgs...)...)
	start(t, edge, s.env, append([]string{"--listen", listen, "--ops-listen", edgeOps, "--base-url", s.base,
		"--admin-key", uiAdminKey}, edgeArgs...)...)
	waitOK(t, "http://"+edgeOps+"/readyz")
	waitOK(t, "http://"+workerOps+"/readyz")
	return s
}

// newKey makes a key of its own for owner, as an operator does: the last
// line printed.
func (s *uiStack) newKey(owner string) string {
	s.t.Helper()
	cmd := exec.Command(s.edge, "keys", "create", "--owner", owner)
	cmd.Env = append(os.Environ(), s.env...)
	out, err := cmd.CombinedOutput()
	require.NoError(s.t, err, "edge keys create: %s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	key := strings.TrimSpace(lines[len(lines)-1])
	require.NotEmpty(s.t, key)
	return key
}

// api calls a path under /api/v1 with key, and a JSON body unless it is "".
func (s *uiStack) api(key, method, path, body string) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+"/api/v1"+path, strings.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.hc.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// uiBrowser is Debian's Chromium, headless, with a fresh profile, and what
// the page did in it: every console message and every request.
type uiBrowser struct {
	t         *testing.T
	ctx       context.Context
	artifacts string

	mu      sync.Mutex
	console []string
	sent    []string // URL, a space, the Authorization header
}

// requireChromium fails the test at once when there is no Chromium to run.
func requireChromium(t *testing.T) {
	t.Helper()
	_, err := os.Stat(chromiumPath)
	require.NoError(t, err, "Chromium not found at %s: install Debian's package with `apt-get install -y chromium`", chromiumPath)
}

func newUIBrowser(t *testing.T, dir string) *uiBrowser {
	t.Helper()
	requireChromium(t)
	var err error
	artifacts := os.Getenv("SHORTENER_ARTIFACTS")
	if artifacts == "" {
		artifacts, err = filepath.Abs(filepath.Join("..", "..", ".data", "artifacts"))
		require.NoError(t, err)
	}
	require.NoError(t, os.MkdirAll(artifacts, 0o755))
	browserLog, err := os.Create(filepath.Join(dir, "chromium.log"))
	require.NoError(t, err)
	t.Cleanup(func() { browserLog.Close() })
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(dir, "chromium-profile")),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(browserLog),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(browserLog.Name())
			t.Logf("chromium log:\n%s", b)
		}
	})
	b := &uiBrowser{t: t, ctx: ctx, artifacts: artifacts}

	// Every console message and browser log entry: a CSP violation or an
	// exception fails the test.
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m.String())
			b.mu.Unlock()
		}
	}()

	// Every request the page makes: it talks to its own origin only, and
	// sends a key to nothing but /api/v1.
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			auth := ""
			if v, ok := ev.Request.Headers["Authorization"]; ok {
				auth = fmt.Sprint(v)
			}
			b.mu.Lock()
			b.sent = append(b.sent, ev.Request.URL+" "+auth)
			b.mu.Unlock()
		}
	}()
	return b
}

func (b *uiBrowser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	t0 := time.Now()
	require.NoError(b.t, chromedp.Do(b.ctx, actions...), what)
	if d := time.Since(t0); d > time.Second {
		b.t.Logf("%s took %s", what, d.Round(10*time.Millisecond))
	}
}

func (b *uiBrowser) eval(js string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	require.NoError(b.t, err, "evaluate %s", js)
	return s
}

// waitFor polls a JavaScript condition and reports what the page showed
// when it never became true.
func (b *uiBrowser) waitFor(what, cond, show string, timeout time.Duration) time.Duration {
	b.t.Helper()
	t0 := time.Now()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond)))
	require.NoError(b.t, err, "%s: the page shows %q", what, b.eval(show))
	return time.Since(t0)
}

// text is the trimmed text of the element with id.
func (b *uiBrowser) text(id string) string {
	b.t.Helper()
	return b.eval(fmt.Sprintf(`document.getElementById(%q).textContent.trim()`, id))
}

// shoot saves a screenshot of the whole page, for people to look at.
func (b *uiBrowser) shoot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err)
	b.save(name, png)
}

// shootID saves a screenshot of the element with id.
func (b *uiBrowser) shootID(name, id string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.Screenshot(chromedp.ID(id)))
	require.NoError(b.t, err)
	b.save(name, png)
}

func (b *uiBrowser) save(name string, png []byte) {
	b.t.Helper()
	path := filepath.Join(b.artifacts, name)
	require.NoError(b.t, os.WriteFile(path, png, 0o644))
	b.t.Logf("screenshot: %s", path)
}

// checkTraffic asserts that the page asked nothing but base, sent its key
// to base's /api/v1 only, never broke its CSP and never threw.
func (b *uiBrowser) checkTraffic(base string) {
	b.t.Helper()
	t := b.t
	b.mu.Lock()
	defer b.mu.Unlock()
	require.NotEmpty(t, b.sent)
	keys := 0
	for _, r := range b.sent {
		u, auth, _ := strings.Cut(r, " ")
		assert.True(t, strings.HasPrefix(u, base+"/"), "the page asked another origin: %s", u)
		if auth != "" {
			keys++
			assert.True(t, strings.HasPrefix(u, base+"/api/v1/"), "a key was sent to %s", u)
			assert.True(t, strings.HasPrefix(auth, "Bearer "), "the key is sent as a bearer token to %s", u)
		}
	}
	assert.Positive(t, keys, "the page sent its key")
	t.Logf("the page made %d requests, %d with the key", len(b.sent), keys)
	for _, m := range b.console {
		assert.NotContains(t, m, "Content Security Policy", "the page breaks its own CSP")
		assert.False(t, strings.HasPrefix(m, "exception:"), "the page threw: %s", m)
	}
	t.Logf("console: %d messages: %q", len(b.console), b.console)
}

// TestUI runs the edge and the worker as processes, makes links and clicks
// with known user agents, referers and countries, and then reads them back
// through the analytics page in headless Chromium: the list, the totals,
// the breakdowns, the live update, and a screenshot for people to look at.
func TestUI(t *testing.T) {
	began := time.Now()
	requireChromium(t)
	s := startUIStack(t, []string{"--block", "100ms", "--consumer", "ui-worker"},
		[]string{"--country-header", "X-Country", "--rate-api-key", "30"})
	base, hc, apiCall := s.base, s.hc, s.api
	key := s.newKey("alice")

	// 50 older links, one page of the list: the links below are on the first
	// page, and "More" brings these.
	var bulk []string
	for i := range 50 {
		bulk = append(bulk, fmt.Sprintf(`{"url":"https://example.com/archive/%d"}`, i))
	}
	status, b := apiCall(key, "POST", "/links/bulk", `{"links":[`+strings.Join(bulk, ",")+`]}`)
	require.Equal(t, 200, status, "bulk create: %s", b)
	require.Equal(t, 50, strings.Count(string(b), `"status":201`), "bulk create: %s", b)
	time.Sleep(5 * time.Millisecond) // newer than every bulk link, to the millisecond
	for _, body := range []string{
		`{"url":"https://example.com/launch?utm_source=mail","custom_code":"launch","tags":["spring","mail"]}`,
		`{"url":"https://example.com/docs/getting-started","custom_code":"guide","tags":["docs"]}`,
		// Markup in a destination must reach the page as text, never as markup.
		`{"url":"https://example.com/search?q=<b>bold</b>&x=<img/src=x>","custom_code":"markup"}`,
	} {
		status, b := apiCall(key, "POST", "/links", body)
		require.Equal(t, 201, status, "create %s: %s", body, b)
	}

	click := func(code, ua, referer, country string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/"+code, nil)
		req.Header.Set("User-Agent", ua)
		if referer != "" {
			req.Header.Set("Referer", referer)
		}
		req.Header.Set("X-Country", country)
		resp, err := hc.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 302, resp.StatusCode, "GET /%s", code)
	}
	// launch: 3 desktop Chrome from DE via news.example.org, 2 iPhones from
	// the US direct, 1 bot. Every click comes from 127.0.0.1, so a visitor
	// is a user agent: 2 human visitors.
	for range 3 {
		click("launch", uaChrome, "https://news.example.org/story/1", "DE")
	}
	for range 2 {
		click("launch", uaIPhone, "", "US")
	}
	click("launch", uaCurl, "", "US")
	click("guide", uaChrome, "https://www.google.com/", "GB")
	click("guide", uaChrome, "https://www.google.com/", "GB")

	type report struct {
		TotalClicks int64 `json:"total_clicks"`
	}
	// The test reads with the admin key, which is never rate limited.
	counted := func(code string) int64 {
		status, b := apiCall(uiAdminKey, "GET", "/links/"+code+"/analytics?days=7", "")
		if status != 200 {
			return -1
		}
		var r report
		require.NoError(t, json.Unmarshal(b, &r))
		return r.TotalClicks
	}
	require.Eventually(t, func() bool { return counted("launch") == 6 && counted("guide") == 2 },
		30*time.Second, 100*time.Millisecond, "the worker never counted the clicks")

	br := newUIBrowser(t, s.dir)
	do, eval, waitFor, text, shoot := br.do, br.eval, br.waitFor, br.text, br.shoot
	breakdown := func(id string) map[string]string {
		t.Helper()
		raw, err := chromedp.Run(br.ctx, chromedp.Evaluate[map[string]string](fmt.Sprintf(
			`Object.fromEntries([...document.querySelectorAll('#%s li[data-key]')].map(li => [li.dataset.key, li.querySelector('.bar-count').textContent]))`, id)))
		require.NoError(t, err)
		return raw
	}

	// /ui redirects to /ui/, which asks for a key; a wrong key is refused
	// with a clear message.
	do("open /ui", chromedp.Navigate(base+"/ui"), chromedp.WaitVisible(chromedp.ID("key-input")))
	assert.Equal(t, base+"/ui/", eval(`location.href`))
	do("enter a wrong key", chromedp.SendKeys(chromedp.ID("key-input"), "not-a-key"), chromedp.Click(chromedp.ID("key-submit")))
	waitFor("a wrong key shows 401", `document.getElementById('error').textContent.includes('401')`, `document.getElementById('error').textContent`, 10*time.Second)
	assert.Equal(t, "", eval(`sessionStorage.getItem('shortener.apiKey') || ''`), "a refused key is not kept")
	shoot("ui-key.png")

	// The right key lists the links.
	do("enter the key", chromedp.SendKeys(chromedp.ID("key-input"), key), chromedp.Click(chromedp.ID("key-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#links button[data-code="launch"]`)))
	assert.Equal(t, "guide,launch,markup", eval(`[...document.querySelectorAll('#links li')].slice(0, 3).map(li => li.dataset.code).sort().join()`),
		"the newest links come first")
	assert.Equal(t, "50", eval(`String(document.querySelectorAll('#links li').length)`), "the first page")
	do("the next page", chromedp.Click(chromedp.ID("more")))
	waitFor("the next page", `document.querySelectorAll('#links li').length === 53 && document.getElementById('more').hidden`,
		`document.querySelectorAll('#links li').length + ' links, more hidden: ' + document.getElementById('more').hidden`, 10*time.Second)
	item := eval(`document.querySelector('#links button[data-code="launch"]').textContent`)
	for _, want := range []string{"launch", "6 clicks", base + "/launch", "https://example.com/launch?utm_source=mail", "spring", "mail"} {
		assert.Contains(t, item, want, "the list shows %q for launch", want)
	}
	assert.Contains(t, eval(`document.querySelector('#links button[data-code="markup"]').textContent`), "q=<b>bold</b>&x=<img/src=x>")
	assert.Equal(t, "0", eval(`String(document.querySelectorAll('#links b, #links img').length)`), "markup from the API stayed text")
	assert.True(t, eval(`document.getElementById('error').hidden ? 'yes' : 'no'`) == "yes", "the error is gone")
	assert.Equal(t, key, eval(`sessionStorage.getItem('shortener.apiKey')`))
	assert.Equal(t, "0", eval(`String(localStorage.length)`), "the key is never kept beyond the tab")
	assert.Equal(t, "Signed in as alice", text("session-label"), "the owner, from the listed links")

	// One link's analytics: the exact figures of the clicks above.
	do("open launch", chromedp.Click(chromedp.CSS(`#links button[data-code="launch"]`)))
	waitFor("launch's analytics", `document.getElementById('stat-total').textContent === '6'`, `document.getElementById('analytics').innerText`, 10*time.Second)
	assert.Equal(t, "#launch", eval(`location.hash`))
	do("choose 7 days", chromedp.Click(chromedp.CSS(`label[for="days-7"]`)))
	waitFor("the 7-day window", `document.getElementById('stat-unique-note').textContent === 'last 7 days' && document.querySelectorAll('#chart-daily rect').length > 0`, `document.getElementById('stat-unique-note').textContent`, 10*time.Second)
	assert.Equal(t, map[string]string{"total": "6", "human": "5", "bot": "1", "unique": "2", "today": "2"}, map[string]string{
		"total": text("stat-total"), "human": text("stat-human"), "bot": text("stat-bot"), "unique": text("stat-unique"), "today": text("stat-today"),
	})
	assert.Equal(t, map[string]string{"DE": "3", "US": "2"}, breakdown("by-country"))
	assert.Equal(t, map[string]string{"desktop": "3", "mobile": "2"}, breakdown("by-device"))
	assert.Equal(t, map[string]string{"news.example.org": "3", "direct": "2"}, breakdown("by-referer"))
	assert.Equal(t, map[string]string{"Chrome": "3", "Mobile Safari": "2"}, breakdown("by-browser"))
	assert.Equal(t, map[string]string{"Windows": "3", "iOS": "2"}, breakdown("by-os"))
	assert.Equal(t, "6", eval(`String(document.querySelectorAll('#recent tr').length)`), "recent clicks, the bot included")
	assert.Equal(t, "1", eval(`String(document.querySelectorAll('#recent .kind.bot').length)`))
	for _, chart := range []string{"chart-daily", "chart-hourly"} {
		label := eval(fmt.Sprintf(`document.querySelector('#%s svg[role="img"]').getAttribute('aria-label')`, chart))
		assert.Contains(t, label, "5 in total", "%s is summarised for screen readers", chart)
	}
	assert.Equal(t, "5", eval(`[...document.querySelectorAll('#chart-daily rect')].map(r => r.dataset.value).join()`),
		"the daily chart has one bar, today's")
	assert.NotEqual(t, "0", eval(`String(document.querySelectorAll('#chart-daily text.c-axis[text-anchor="middle"]').length)`), "the days are labelled")
	assert.Regexp(t, `^updated \d\d:\d\d:\d\d$`, text("updated"))

	// Live: a new click shows up without touching the page.
	before := text("updated")
	click("launch", uaFirefox, "https://www.google.com/search?q=x", "FR")
	took := waitFor("the live update", `document.getElementById('stat-total').textContent === '7'`, `document.getElementById('stat-total').textContent`, 10*time.Second)
	t.Logf("the page showed the new click after %s", took.Round(10*time.Millisecond))
	assert.Equal(t, "6", text("stat-human"))
	assert.Equal(t, "3", text("stat-unique"))
	assert.Equal(t, "1", breakdown("by-country")["FR"])
	assert.Equal(t, "1", breakdown("by-referer")["google.com"])
	assert.NotEqual(t, before, text("updated"))
	assert.Contains(t, eval(`document.querySelector('#links button[data-code="launch"]').textContent`), "7 clicks", "the list follows")

	// Screenshots for people: the desktop page, then a phone's width.
	do("scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`), chromedp.Sleep(400*time.Millisecond))
	shoot("ui.png")
	do("a phone's width", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Sleep(600*time.Millisecond),
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	assert.Equal(t, "0", eval(`String(Math.max(0, document.documentElement.scrollWidth - window.innerWidth))`), "nothing is wider than a phone")
	shoot("ui-phone.png")

	// A hidden tab does not poll; shown again, it updates at once.
	setHidden := func(hidden bool) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`Object.defineProperty(document, 'hidden', {configurable: true, get: () => %t});
			document.dispatchEvent(new Event('visibilitychange'))`, hidden))
	}
	do("hide the tab", setHidden(true))
	assert.Contains(t, eval(`document.getElementById('live').className`), "paused")
	click("launch", uaFirefox, "", "FR")
	require.Eventually(t, func() bool { return counted("launch") == 8 }, 10*time.Second, 50*time.Millisecond)
	time.Sleep(6 * time.Second) // longer than the polling interval
	assert.Equal(t, "7", text("stat-total"), "a hidden tab kept polling")
	do("show the tab", setHidden(false))
	took = waitFor("the update on showing the tab", `document.getElementById('stat-total').textContent === '8'`, `document.getElementById('stat-total').textContent`, 2*time.Second)
	t.Logf("shown again, the page updated after %s", took.Round(10*time.Millisecond))

	// Forgetting the key clears it and asks again.
	do("forget the key", chromedp.EmulateViewport(1280, 900), chromedp.Click(chromedp.ID("forget-key")), chromedp.WaitVisible(chromedp.ID("key-input")))
	assert.Equal(t, "", eval(`sessionStorage.getItem('shortener.apiKey') || ''`))

	// Another owner's link: 403, said plainly, and no empty charts.
	bob := s.newKey("bob")
	do("open launch as bob", chromedp.Evaluate[chromedp.Void](`location.hash = 'launch'`), chromedp.WaitVisible(chromedp.ID("key-input")),
		chromedp.SendKeys(chromedp.ID("key-input"), bob), chromedp.Click(chromedp.ID("key-submit")))
	waitFor("another owner's link shows 403", `document.getElementById('error').textContent.includes('403')`, `document.getElementById('error').textContent`, 10*time.Second)
	assert.Equal(t, "yes", eval(`document.getElementById('a-body').hidden ? 'yes' : 'no'`))
	assert.Equal(t, "Key in use", eval(`document.getElementById("session-label").innerText`), "bob has no links, so nothing says his name")

	// A key whose rate limit is used up: 429, with when to try again.
	carol := s.newKey("carol")
	for i := 0; ; i++ {
		require.Less(t, i, 100, "carol's calls were never limited")
		if status, _ := apiCall(carol, "GET", "/links", ""); status == 429 {
			break
		}
	}
	do("sign in as carol", chromedp.Click(chromedp.ID("forget-key")), chromedp.WaitVisible(chromedp.ID("key-input")),
		chromedp.SendKeys(chromedp.ID("key-input"), carol), chromedp.Click(chromedp.ID("key-submit")))
	waitFor("a used-up rate limit shows 429", `document.getElementById('error').textContent.includes('429')`, `document.getElementById('error').textContent`, 10*time.Second)
	assert.Regexp(t, `Trying again in \d+ s`, text("error"))

	br.checkTraffic(base)
	t.Logf("TestUI took %s", time.Since(began).Round(100*time.Millisecond))
}

// uiDelivery is one request a uiReceiver got, and what it answered.
type uiDelivery struct {
	method, path        string
	id, timestamp, sigs string // the webhook-id, webhook-timestamp and webhook-signature headers
	body                []byte
	status              int
}

// uiReceiver is a webhook receiver on 127.0.0.1 that records every request
// and answers 204, or 500 while failing.
type uiReceiver struct {
	url     string
	failing atomic.Bool
	mu      sync.Mutex
	got     []uiDelivery
}

func startUIReceiver(t *testing.T) *uiReceiver {
	t.Helper()
	r := &uiReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		status := http.StatusNoContent
		if r.failing.Load() {
			status = http.StatusInternalServerError
		}
		r.mu.Lock()
		r.got = append(r.got, uiDelivery{method: req.Method, path: req.URL.Path, id: req.Header.Get("webhook-id"),
			timestamp: req.Header.Get("webhook-timestamp"), sigs: req.Header.Get("webhook-signature"), body: body, status: status})
		r.mu.Unlock()
		if status != http.StatusNoContent {
			http.Error(w, "receiver down for the test", status)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// find answers the first request f accepts.
func (r *uiReceiver) find(f func(uiDelivery) bool) (uiDelivery, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.got {
		if f(d) {
			return d, true
		}
	}
	return uiDelivery{}, false
}

// waitFor waits for a request f accepts and answers it.
func (r *uiReceiver) waitFor(t *testing.T, what string, f func(uiDelivery) bool) uiDelivery {
	t.Helper()
	var d uiDelivery
	require.Eventually(t, func() bool {
		var ok bool
		d, ok = r.find(f)
		return ok
	}, 15*time.Second, 20*time.Millisecond, "the receiver never got %s", what)
	return d
}

// uiSignature is a delivery's Standard Webhooks signature by secret.
func uiSignature(t *testing.T, secret string, d uiDelivery) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	require.NoError(t, err, "the secret %q", secret)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(d.id + "." + d.timestamp + "."))
	mac.Write(d.body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// TestUIWebhooks manages webhooks through the page in headless Chromium,
// against a real edge and worker delivering to a local receiver: create
// (the secret shown once), send a test, see a failed delivery among the
// dead letters and replay it, rotate the secret, delete.
func TestUIWebhooks(t *testing.T) {
	began := time.Now()
	requireChromium(t)
	rcv := startUIReceiver(t)
	// One try per delivery: a failure is a dead letter at once.
	s := startUIStack(t, []string{"--block", "100ms", "--consumer", "ui-hooks-worker", "--webhook-allow-private",
		"--webhook-poll-interval", "50ms", "--webhook-attempts", "1"}, []string{"--webhook-allow-private"})
	key := s.newKey("dana")
	br := newUIBrowser(t, s.dir)
	eval, waitFor := br.eval, br.waitFor
	js := func(v string) string { // v as a JavaScript string literal
		b, _ := json.Marshal(v)
		return string(b)
	}

	br.do("sign in", chromedp.Navigate(s.base+"/ui/"), chromedp.WaitVisible(chromedp.ID("key-input")),
		chromedp.SendKeys(chromedp.ID("key-input"), key), chromedp.Click(chromedp.ID("key-submit")),
		chromedp.WaitVisible(chromedp.ID("wh-empty")))
	assert.Equal(t, "0", eval(`String(document.querySelectorAll('#wh-list li').length)`))

	// A URL the API refuses: its problem's detail, by the form.
	br.do("create with an ftp URL", chromedp.SendKeys(chromedp.ID("wh-url"), "ftp://example.com/hooks"),
		chromedp.Click(chromedp.CSS(`#wh-form input[value="link.created"]`)), chromedp.Click(chromedp.ID("wh-create")))
	waitFor("the refusal", `!document.getElementById('wh-form-error').hidden`, `document.getElementById('webhooks').innerText`, 10*time.Second)
	assert.Equal(t, "Creating the webhook failed (400): invalid webhook url: url must be http or https", br.text("wh-form-error"))
	assert.Equal(t, "yes", eval(`document.getElementById('wh-created').hidden ? 'yes' : 'no'`))
	assert.Equal(t, "0", eval(`String(document.querySelectorAll('#wh-list li').length)`))

	// The receiver, for link.created only, with markup in its description.
	hookURL := rcv.url + "/hooks?src=<ui>"
	const description = `<b>CRM</b> <img src=x>`
	br.do("create the webhook", chromedp.Evaluate[chromedp.Void](`document.getElementById('wh-url').value = ''`),
		chromedp.SendKeys(chromedp.ID("wh-url"), hookURL), chromedp.SendKeys(chromedp.ID("wh-description"), description),
		chromedp.Click(chromedp.ID("wh-create")))
	waitFor("the new secret", `!document.getElementById('wh-created').hidden`, `document.getElementById('webhooks').innerText`, 10*time.Second)
	secret1 := eval(`document.querySelector('#wh-created input.secret').value`)
	assert.Regexp(t, `^whsec_[A-Za-z0-9+/]+={0,2}$`, secret1)
	created := br.text("wh-created")
	assert.Contains(t, created, "Store it now; it signs every delivery")
	assert.Contains(t, created, "Standard Webhooks")
	assert.Contains(t, created, hookURL)
	assert.True(t, eval(`document.getElementById('wh-form-error').hidden ? 'yes' : 'no'`) == "yes", "the refusal is gone")
	assert.Equal(t, "", eval(`document.getElementById('wh-url').value`), "the form is cleared")

	assert.Equal(t, "1", eval(`String(document.querySelectorAll('#wh-list li').length)`))
	id := eval(`document.querySelector('#wh-list li').dataset.id`)
	require.Regexp(t, `^wh_[0-9a-f]{24}$`, id)
	item := fmt.Sprintf(`#wh-list li[data-id=%q]`, id)
	itemText := eval(fmt.Sprintf(`document.querySelector(%s).innerText`, js(item)))
	for _, want := range []string{hookURL, "link.created", description, "Created "} {
		assert.Contains(t, itemText, want)
	}
	assert.Equal(t, "link.created", eval(fmt.Sprintf(`[...document.querySelectorAll(%s)].map(e => e.textContent).join()`, js(item+" .tag"))))
	assert.Equal(t, "0", eval(`String(document.querySelectorAll('#webhooks b, #webhooks img, #webhooks ui').length)`), "markup from the API stayed text")
	assert.Equal(t, "", eval(`Object.keys(sessionStorage).filter(k => sessionStorage.getItem(k).includes('whsec_')).join()`), "the secret is not kept")

	type webhookJSON struct {
		ID                      string   `json:"id"`
		URL                     string   `json:"url"`
		Events                  []string `json:"events"`
		Description             string   `json:"description"`
		Secret                  string   `json:"secret"`
		PreviousSecretExpiresAt *string  `json:"previous_secret_expires_at"`
	}
	listed := func() []webhookJSON {
		t.Helper()
		status, b := s.api(key, "GET", "/webhooks", "")
		require.Equal(t, 200, status, "%s", b)
		var l struct {
			Webhooks []webhookJSON `json:"webhooks"`
		}
		require.NoError(t, json.Unmarshal(b, &l))
		return l.Webhooks
	}
	hooks := listed()
	require.Len(t, hooks, 1)
	assert.Equal(t, webhookJSON{ID: id, URL: hookURL, Events: []string{"link.created"}, Description: description}, hooks[0])

	// Send test: a webhook.test, signed with the secret shown.
	button := func(action string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.CSS(fmt.Sprintf(`%s button[data-action=%q]`, item, action)))
	}
	note := func() string {
		return eval(fmt.Sprintf(`document.querySelector(%s).textContent`, js(item+" .wh-note")))
	}
	br.do("send a test", button("test"))
	waitFor("the queued test", fmt.Sprintf(`document.querySelector(%s).textContent.includes('evt_test_')`, js(item+" .wh-note")),
		fmt.Sprintf(`document.querySelector(%s).innerText`, js(item)), 10*time.Second)
	testID := regexp.MustCompile(`evt_test_[0-9a-f]{32}`).FindString(note())
	require.NotEmpty(t, testID, "the note names the test's webhook-id: %q", note())
	d := rcv.waitFor(t, "the test", func(d uiDelivery) bool { return d.id == testID })
	assert.Equal(t, "POST", d.method)
	assert.Equal(t, "/hooks", d.path)
	assert.Contains(t, string(d.body), `"type":"webhook.test"`)
	assert.Equal(t, uiSignature(t, secret1, d), d.sigs, "signed with the secret the page showed")

	// A link of dana's: link.created.
	status, b := s.api(key, "POST", "/links", `{"url":"https://example.com/hooked","custom_code":"hooked"}`)
	require.Equal(t, 201, status, "%s", b)
	d = rcv.waitFor(t, "link.created", func(d uiDelivery) bool { return strings.Contains(string(d.body), `"type":"link.created"`) })
	assert.Contains(t, string(d.body), `"code":"hooked"`)
	assert.True(t, strings.HasPrefix(d.id, "evt_"), "webhook-id %q", d.id)

	// Rotate secret: a new one, shown once; the old one signs for 24 h more.
	br.do("rotate the secret", button("rotate"))
	waitFor("the rotated secret", fmt.Sprintf(`!!document.querySelector(%s)`, js(item+" .wh-secret input.secret")),
		fmt.Sprintf(`document.querySelector(%s).innerText`, js(item)), 10*time.Second)
	secret2 := eval(fmt.Sprintf(`document.querySelector(%s).value`, js(item+" .wh-secret input.secret")))
	assert.Regexp(t, `^whsec_[A-Za-z0-9+/]+={0,2}$`, secret2)
	assert.NotEqual(t, secret1, secret2)
	rotated := eval(fmt.Sprintf(`document.querySelector(%s).innerText`, js(item+" .wh-secret")))
	assert.Contains(t, rotated, "Store it now")
	assert.Contains(t, rotated, "previous secret keeps signing too for 24 h")
	assert.Contains(t, eval(fmt.Sprintf(`document.querySelector(%s).textContent`, js(item+" .wh-meta"))), "the previous secret signs too until")
	status, b = s.api(key, "GET", "/webhooks/"+id, "")
	require.Equal(t, 200, status, "%s", b)
	var one webhookJSON
	require.NoError(t, json.Unmarshal(b, &one))
	assert.Equal(t, secret2, one.Secret, "the API agrees")
	assert.NotNil(t, one.PreviousSecretExpiresAt)

	// A failing receiver: the test becomes a dead letter; the page shows it
	// and replays it.
	rcv.failing.Store(true)
	status, b = s.api(key, "POST", "/webhooks/"+id+"/test", "")
	require.Equal(t, 202, status, "%s", b)
	var queued struct {
		MessageID string `json:"message_id"`
	}
	require.NoError(t, json.Unmarshal(b, &queued))
	deadID := queued.MessageID
	require.True(t, strings.HasPrefix(deadID, "evt_test_"), "%s", b)
	type deadLetter struct {
		MessageID  string `json:"message_id"`
		LastStatus *int   `json:"last_status"`
	}
	deadLetters := func() []deadLetter {
		t.Helper()
		status, b := s.api(key, "GET", "/webhooks/"+id+"/dead-letters", "")
		require.Equal(t, 200, status, "%s", b)
		var l struct {
			DeadLetters []deadLetter `json:"dead_letters"`
		}
		require.NoError(t, json.Unmarshal(b, &l))
		return l.DeadLetters
	}
	require.Eventually(t, func() bool {
		dl := deadLetters()
		return len(dl) == 1 && dl[0].MessageID == deadID
	}, 15*time.Second, 50*time.Millisecond, "the failed test never became a dead letter")
	rcv.waitFor(t, "the failing try", func(d uiDelivery) bool { return d.id == deadID && d.status == 500 })

	br.do("show the dead letters", button("dead-letters"))
	rows := js(item + " .wh-dead tbody tr")
	waitFor("the dead letter", fmt.Sprintf(`document.querySelectorAll(%s).length === 1`, rows),
		fmt.Sprintf(`document.querySelector(%s).innerText`, js(item)), 10*time.Second)
	assert.Equal(t, deadID, eval(fmt.Sprintf(`document.querySelector(%s).dataset.message`, rows)))
	raw, err := chromedp.Run(br.ctx, chromedp.Evaluate[map[string]string](fmt.Sprintf(
		`Object.fromEntries([...document.querySelector(%s).cells].map(c => [c.dataset.label, c.textContent]))`, rows)))
	require.NoError(t, err)
	assert.Equal(t, "webhook.test", raw["Type"])
	assert.Equal(t, "1", raw["Attempts"])
	assert.Equal(t, "500", raw["Last status"])
	assert.Contains(t, raw["Last error"], "500")
	assert.NotEmpty(t, raw["Failed at"])
	assert.Equal(t, "true", eval(fmt.Sprintf(`document.querySelector(%s).getAttribute('aria-expanded')`, js(item+` button[data-action="dead-letters"]`))))
	// Screenshots for people, the sticky top bar out of the way: the
	// section on a desktop, then the page at a phone's width.
	br.do("unstick the top bar", chromedp.Evaluate[chromedp.Void](`document.querySelector('.topbar').style.position = 'static'`),
		chromedp.ScrollIntoView(chromedp.ID("webhooks")), chromedp.Sleep(200*time.Millisecond))
	br.shootID("ui-webhooks.png", "webhooks")
	br.do("a phone's width", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Sleep(600*time.Millisecond),
		chromedp.ScrollIntoView(chromedp.ID("webhooks")))
	assert.Equal(t, "0", eval(`String(Math.max(0, document.documentElement.scrollWidth - window.innerWidth))`), "nothing is wider than a phone")
	br.shootID("ui-webhooks-phone.png", "webhooks")
	br.do("a desktop's width again", chromedp.EmulateViewport(1280, 900),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('.topbar').style.position = ''`))

	rcv.failing.Store(false)
	br.do("replay all", chromedp.Click(chromedp.CSS(item+` .wh-dead button[data-action="replay"]`)))
	waitFor("the replay", fmt.Sprintf(`(document.querySelector(%s) || {}).textContent === '1 dead letter queued again.'`, js(item+" .wh-dead .wh-note")),
		fmt.Sprintf(`document.querySelector(%s).innerText`, js(item)), 10*time.Second)
	assert.Equal(t, "0", eval(fmt.Sprintf(`String(document.querySelectorAll(%s).length)`, rows)), "replayed: no dead letters left")
	d = rcv.waitFor(t, "the replayed test", func(d uiDelivery) bool { return d.id == deadID && d.status == 204 })
	// Within the 24 hours, both secrets sign: the new one first.
	assert.Equal(t, uiSignature(t, secret2, d)+" "+uiSignature(t, secret1, d), d.sigs)
	assert.Empty(t, deadLetters())

	// Delete: asked first; "Cancel" keeps it, "OK" deletes it.
	var answer atomic.Bool
	var dialogs atomic.Int32
	var dialogMu sync.Mutex
	var dialogText string
	opening := chromedp.Events(br.ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range opening {
			if err != nil {
				return
			}
			dialogMu.Lock()
			dialogText = ev.Message
			dialogMu.Unlock()
			accept := answer.Load()
			go func() { // not from the goroutine that receives the events
				_, err := chromedp.Call(br.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: accept})
				if err != nil && br.ctx.Err() == nil {
					t.Errorf("answer the dialog: %v", err)
				}
				dialogs.Add(1)
			}()
		}
	}()
	br.do("delete, then cancel", button("delete"))
	require.Eventually(t, func() bool { return dialogs.Load() == 1 }, 10*time.Second, 20*time.Millisecond, "no confirm() was shown")
	dialogMu.Lock()
	assert.Contains(t, dialogText, "Delete the webhook to "+hookURL)
	dialogMu.Unlock()
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, "1", eval(`String(document.querySelectorAll('#wh-list li').length)`), "cancelled: still listed")
	assert.Len(t, listed(), 1, "cancelled: not deleted")
	answer.Store(true)
	br.do("delete, then OK", button("delete"))
	waitFor("the deletion", `document.querySelectorAll('#wh-list li').length === 0 && !document.getElementById('wh-empty').hidden`,
		`document.getElementById('webhooks').innerText`, 10*time.Second)
	assert.Equal(t, int32(2), dialogs.Load())
	assert.Empty(t, listed(), "the API agrees")
	br.do("reload the list", chromedp.Click(chromedp.ID("wh-reload")))
	waitFor("the reloaded list", `!document.getElementById('wh-reload').disabled`, `document.getElementById('webhooks').innerText`, 10*time.Second)
	assert.Equal(t, "0", eval(`String(document.querySelectorAll('#wh-list li').length)`))

	// Forgetting the key forgets every secret shown.
	br.do("forget the key", chromedp.Click(chromedp.ID("forget-key")), chromedp.WaitVisible(chromedp.ID("key-input")))
	assert.Equal(t, "0", eval(`String(document.querySelectorAll('#webhooks input.secret').length)`))

	br.checkTraffic(s.base)
	t.Logf("TestUIWebhooks took %s", time.Since(began).Round(100*time.Millisecond))
}
