//go:build ui

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
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

// TestUI runs the edge and the worker as processes, makes links and clicks
// with known user agents, referers and countries, and then reads them back
// through the analytics page in headless Chromium: the list, the totals,
// the breakdowns, the live update, and a screenshot for people to look at.
func TestUI(t *testing.T) {
	began := time.Now()
	_, err := os.Stat(chromiumPath)
	require.NoError(t, err, "Chromium not found at %s: install Debian's package with `apt-get install -y chromium`", chromiumPath)

	srv := redistest.StartPrivate(t)
	dir := t.TempDir()
	edge, worker := build(t, dir, "./edge"), build(t, dir, "./worker")
	listen, edgeOps, workerOps := freeAddr(t), freeAddr(t), freeAddr(t)
	base := "http://" + listen
	env := []string{"SHORTENER_REDIS=" + srv.URL, "SHORTENER_LOG_FORMAT=text"}
	start(t, worker, env, "--ops-listen", workerOps, "--block", "100ms", "--consumer", "ui-worker")
	start(t, edge, env, "--listen", listen, "--ops-listen", edgeOps, "--base-url", base,
		"--admin-key", uiAdminKey, "--country-header", "X-Country", "--rate-api-key", "30")
	waitOK(t, "http://"+edgeOps+"/readyz")
	waitOK(t, "http://"+workerOps+"/readyz")

	// Keys of their own, as an operator makes them: the last line printed.
	newKey := func(owner string) string {
		t.Helper()
		cmd := exec.Command(edge, "keys", "create", "--owner", owner)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "edge keys create: %s", out)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		key := strings.TrimSpace(lines[len(lines)-1])
		require.NotEmpty(t, key)
		return key
	}
	key := newKey("alice")

	hc := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	apiCall := func(key, method, path, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+"/api/v1"+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
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

	// The browser: Debian's Chromium, headless, a fresh profile.
	artifacts := os.Getenv("SHORTENER_ARTIFACTS")
	if artifacts == "" {
		artifacts, err = filepath.Abs(filepath.Join("..", "..", ".data", "artifacts"))
		require.NoError(t, err)
	}
	require.NoError(t, os.MkdirAll(artifacts, 0o755))
	browserLog, err := os.Create(filepath.Join(dir, "chromium.log"))
	require.NoError(t, err)
	defer browserLog.Close()
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
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(browserLog.Name())
			t.Logf("chromium log:\n%s", b)
		}
	})

	// Every console message and browser log entry: a CSP violation or an
	// exception fails the test.
	messages := chromedp.Console(ctx)
	var mu sync.Mutex
	var console []string
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			console = append(console, m.String())
			mu.Unlock()
		}
	}()

	// Every request the page makes: it talks to its own origin only, and
	// sends a key to nothing but /api/v1.
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	var sent []string
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			auth := ""
			if v, ok := ev.Request.Headers["Authorization"]; ok {
				auth = fmt.Sprint(v)
			}
			mu.Lock()
			sent = append(sent, ev.Request.URL+" "+auth)
			mu.Unlock()
		}
	}()

	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		t0 := time.Now()
		require.NoError(t, chromedp.Do(ctx, actions...), what)
		if d := time.Since(t0); d > time.Second {
			t.Logf("%s took %s", what, d.Round(10*time.Millisecond))
		}
	}
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		require.NoError(t, err, "evaluate %s", js)
		return s
	}
	// waitFor polls a JavaScript condition and reports what the page showed
	// when it never became true.
	waitFor := func(what, cond, show string, timeout time.Duration) time.Duration {
		t.Helper()
		t0 := time.Now()
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond,
			chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond)))
		require.NoError(t, err, "%s: the page shows %q", what, eval(show))
		return time.Since(t0)
	}
	text := func(id string) string {
		t.Helper()
		return eval(fmt.Sprintf(`document.getElementById(%q).textContent.trim()`, id))
	}
	breakdown := func(id string) map[string]string {
		t.Helper()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](fmt.Sprintf(
			`Object.fromEntries([...document.querySelectorAll('#%s li[data-key]')].map(li => [li.dataset.key, li.querySelector('.bar-count').textContent]))`, id)))
		require.NoError(t, err)
		return raw
	}

	// shoot saves a screenshot of the whole page, for people to look at.
	shoot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		path := filepath.Join(artifacts, name)
		require.NoError(t, os.WriteFile(path, png, 0o644))
		t.Logf("screenshot: %s", path)
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
	bob := newKey("bob")
	do("open launch as bob", chromedp.Evaluate[chromedp.Void](`location.hash = 'launch'`), chromedp.WaitVisible(chromedp.ID("key-input")),
		chromedp.SendKeys(chromedp.ID("key-input"), bob), chromedp.Click(chromedp.ID("key-submit")))
	waitFor("another owner's link shows 403", `document.getElementById('error').textContent.includes('403')`, `document.getElementById('error').textContent`, 10*time.Second)
	assert.Equal(t, "yes", eval(`document.getElementById('a-body').hidden ? 'yes' : 'no'`))
	assert.Equal(t, "Key in use", eval(`document.getElementById("session-label").innerText`), "bob has no links, so nothing says his name")

	// A key whose rate limit is used up: 429, with when to try again.
	carol := newKey("carol")
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

	mu.Lock()
	require.NotEmpty(t, sent)
	keys := 0
	for _, r := range sent {
		u, auth, _ := strings.Cut(r, " ")
		assert.True(t, strings.HasPrefix(u, base+"/"), "the page asked another origin: %s", u)
		if auth != "" {
			keys++
			assert.True(t, strings.HasPrefix(u, base+"/api/v1/"), "a key was sent to %s", u)
			assert.True(t, strings.HasPrefix(auth, "Bearer "), "the key is sent as a bearer token to %s", u)
		}
	}
	assert.Positive(t, keys, "the page sent its key")
	t.Logf("the page made %d requests, %d with the key", len(sent), keys)
	for _, m := range console {
		assert.NotContains(t, m, "Content Security Policy", "the page breaks its own CSP")
		assert.False(t, strings.HasPrefix(m, "exception:"), "the page threw: %s", m)
	}
	t.Logf("console: %d messages: %q", len(console), console)
	mu.Unlock()
	t.Logf("TestUI took %s", time.Since(began).Round(100*time.Millisecond))
}
