// Package useragent classifies HTTP User-Agent strings for click analytics:
// device class (desktop, mobile, tablet or bot), browser family and OS
// family.
//
// Parsing uses the regexes embedded in github.com/ua-parser/uap-go, which
// costs on the order of a millisecond of CPU per new agent, so a Classifier
// keeps an LRU of results keyed by the (length-capped) agent string. It is
// meant for the analytics stream worker, not for the redirect hot path.
//
// Classification rules, in order:
//
//   - An empty (or all-blank) User-Agent is a bot: browsers always send one,
//     scripts and scanners often do not.
//   - An agent containing a bot token (see bots.go: "bot", "crawl", "spider",
//     "preview", "fetch", "curl/", "python-", "headless", link-preview
//     fetchers such as facebookexternalhit or WhatsApp, HTTP client libraries
//     such as okhttp or Go-http-client, ...) is a bot. The "bot" in the phone
//     brand CUBOT does not count.
//   - An agent that uap-go classifies as the device "Spider" is a bot.
//   - An agent in which uap-go recognises nothing at all (browser, OS and
//     device all unknown, e.g. binary junk or a bare "Mozilla/5.0") is a bot.
//   - Otherwise the agent is human and its device is "tablet" (iPad, Kindle
//     and Fire tablets, Silk, a "Tablet" token, Android without a "Mobile"
//     token), "mobile" (iPhone, iPod, Windows Phone, Opera Mini, Android with
//     "Mobile", other phones) or "desktop" (everything else, including TVs).
//
// Only the first 512 bytes of an agent are looked at (and used as the cache
// key), so a huge header costs no more memory or CPU than a normal one.
package useragent

import (
	"fmt"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/ua-parser/uap-go/uaparser"
)

// maxLen is how many leading bytes of a User-Agent are used as the cache key
// and parsed; the rest is ignored. Real browser agents are well under 300
// bytes.
const maxLen = 512

// DefaultCacheSize is the LRU size New uses when given cacheSize <= 0.
const DefaultCacheSize = 10000

// maxFamilyLen caps the length of a reported browser or OS family, so that
// odd captures cannot make huge analytics labels.
const maxFamilyLen = 64

// Device classes.
const (
	deviceDesktop = "desktop"
	deviceMobile  = "mobile"
	deviceTablet  = "tablet"
	deviceBot     = "bot"
)

// other is the family reported when none is known.
const other = "Other"

// Info is what analytics keeps of a user agent. It is a plain value: copies
// are independent and safe to share between goroutines.
type Info struct {
	Device  string // "desktop", "mobile", "tablet" (humans), or "bot"
	Browser string // family, e.g. "Chrome", "Firefox", "Safari", "Mobile Safari", "Edge", "Other"
	OS      string // family, e.g. "Windows", "Mac OS X", "iOS", "Android", "Linux", "Other"
	Bot     bool
	// Preview marks a link-preview fetcher (Slackbot, Twitterbot,
	// facebookexternalhit, WhatsApp, Discordbot, …): a bot that unfurls a
	// link shared in a chat or feed, counted apart from other bots.
	Preview bool
}

// Classifier parses agents with uap-go behind an LRU keyed by the full UA
// string (capped at its first 512 bytes). Safe for concurrent use by multiple
// goroutines.
type Classifier struct {
	parser *uaparser.Parser
	cache  *lru.Cache[string, Info]
	hits   atomic.Uint64
	misses atomic.Uint64
}

// New returns a Classifier whose LRU holds up to cacheSize agents
// (cacheSize <= 0 means 10000). Compiling uap-go's regexes takes a noticeable
// fraction of a second, so create one Classifier and share it. New itself is
// safe for concurrent use.
func New(cacheSize int) (*Classifier, error) {
	if cacheSize <= 0 {
		cacheSize = DefaultCacheSize
	}
	cache, err := lru.New[string, Info](cacheSize)
	if err != nil {
		return nil, fmt.Errorf("useragent: create lru: %w", err)
	}
	// uap-go keeps three ARC caches of its own keyed by the agent. Ours sits
	// in front and is larger, so theirs would only hold duplicates: keep them
	// as small as uap-go allows (0 makes it panic).
	parser, err := uaparser.New(uaparser.WithCacheSize(1))
	if err != nil {
		return nil, fmt.Errorf("useragent: create uap parser: %w", err)
	}
	return &Classifier{parser: parser, cache: cache}, nil
}

// Classify returns the Info of ua. Repeated agents are served from the LRU
// without parsing. Every call counts as exactly one LRU hit or miss (two
// goroutines missing the same new agent at once both parse it and both count
// a miss). Safe for concurrent use.
func (c *Classifier) Classify(ua string) Info {
	ua = truncate(ua, maxLen)
	if info, ok := c.cache.Get(ua); ok {
		c.hits.Add(1)
		return info
	}
	c.misses.Add(1)
	// Clone so that neither our LRU nor uap-go's caches pin the caller's
	// buffer (ua may be a slice of a much larger header or message).
	key := strings.Clone(ua)
	info := c.classify(key)
	c.cache.Add(key, info)
	return info
}

// Stats returns LRU hits and misses since New (for a Prometheus gauge/counter
// later); hits+misses is the number of Classify calls. Safe for concurrent
// use; the two numbers are read one after the other, not as one snapshot.
func (c *Classifier) Stats() (hits, misses uint64) {
	return c.hits.Load(), c.misses.Load()
}

// classify parses ua without the cache. ua is at most maxLen bytes.
func (c *Classifier) classify(ua string) Info {
	if strings.TrimSpace(ua) == "" {
		return Info{Device: deviceBot, Browser: other, OS: other, Bot: true}
	}
	lower := asciiLower(ua)

	// ParseUserAgent, ParseOs and ParseDevice are called directly rather
	// than through Parse, which runs them on three new goroutines and
	// allocates more for the same total CPU. They need no lock: the parser's
	// regex lists only change when it is built with WithSort, which we don't.
	browser := c.parser.ParseUserAgent(ua)
	osInfo := c.parser.ParseOs(ua)
	info := Info{Browser: family(browser.Family), OS: family(osInfo.Family)}

	if hasBotToken(lower) {
		// Device parsing is the costliest step for desktop agents and
		// adds nothing once we know it is a bot.
		info.Device, info.Bot, info.Preview = deviceBot, true, isPreview(lower)
		return info
	}
	dev := c.parser.ParseDevice(ua)
	if dev.Family == "Spider" ||
		(info.Browser == other && info.OS == other && (dev.Family == "" || dev.Family == other)) {
		info.Device, info.Bot = deviceBot, true
		return info
	}
	info.Device = humanDevice(lower, osInfo.Family, dev)
	return info
}

// humanDevice tells desktop, mobile and tablet apart for an agent already
// judged human. lower is the lower-cased agent.
func humanDevice(lower, osFamily string, dev *uaparser.Device) string {
	if isTV(lower) {
		return deviceDesktop
	}
	// Tablets first: Kindle Fire sends "Mobile Safari" and iPads "Mobile/".
	switch {
	case dev.Family == "iPad", strings.Contains(lower, "ipad"),
		dev.Brand == "Amazon", strings.Contains(lower, "kindle"), strings.Contains(lower, "silk/"),
		dev.Family == "Generic Tablet", dev.Brand == "Generic_Android_Tablet",
		strings.Contains(lower, "tablet") && !strings.Contains(lower, "tablet pc"),
		strings.Contains(lower, "playbook"):
		return deviceTablet
	}
	switch {
	case dev.Family == "iPhone", strings.Contains(lower, "iphone"), strings.Contains(lower, "ipod"),
		strings.Contains(lower, "windows phone"), strings.Contains(lower, "iemobile"),
		strings.Contains(lower, "opera mini"), strings.Contains(lower, "blackberry"),
		strings.Contains(lower, "bb10"), strings.Contains(lower, "symbian"), strings.Contains(lower, "kaios"),
		dev.Family == "Generic Smartphone", dev.Family == "Generic Feature Phone":
		return deviceMobile
	}
	// Android browsers put "Mobile" in phone agents and leave it out of
	// tablet ones (Chrome, Samsung Internet, Firefox all follow this).
	if strings.Contains(lower, "android") && !strings.Contains(lower, "mobi") {
		return deviceTablet
	}
	if strings.Contains(lower, "mobi") {
		return deviceMobile
	}
	switch osFamily {
	case "iOS", "Android", "Windows Phone", "BlackBerry OS", "Symbian OS", "KaiOS", "Firefox OS":
		return deviceMobile
	}
	return deviceDesktop
}

// tvTokens mark smart TVs and streaming sticks, which count as desktop.
// "; aft" is the start of an Amazon Fire TV model ("Android 9; AFTMM)"),
// which uap-go reports as a Kindle and so would otherwise pass as a tablet.
var tvTokens = []string{
	"smart-tv", "smarttv", "googletv", "google tv", "android tv", "hbbtv",
	"crkey", "appletv", "apple tv", "roku", "bravia", "web0s", "netcast", "; aft",
}

// isTV reports whether lower (a lower-cased agent) is a TV or a TV stick.
func isTV(lower string) bool {
	for _, t := range tvTokens {
		if strings.Contains(lower, t) {
			return true
		}
	}
	return false
}

// family normalises a uap-go family for reporting: valid UTF-8, at most
// maxFamilyLen bytes, "Other" when empty.
func family(s string) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, ""))
	s = strings.TrimSpace(truncate(s, maxFamilyLen))
	if s == "" {
		return other
	}
	return s
}

// truncate returns at most n leading bytes of s, backing off to a UTF-8
// character boundary when one is within utf8.UTFMax bytes of the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for cut := n; cut > 0 && cut > n-utf8.UTFMax; cut-- {
		if utf8.RuneStart(s[cut]) {
			return s[:cut]
		}
	}
	return s[:n] // not UTF-8 around the cut anyway
}

// asciiLower lower-cases ASCII letters only, leaving every other byte (and so
// the length) as it is.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
