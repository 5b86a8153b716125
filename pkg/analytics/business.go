package analytics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Business metrics: clicks by country, device, browser, OS and referer for
// dashboards. Every label has a fixed set of values chosen at start-up
// (rare values fold into "other"), so no traffic can grow the number of
// series. Per-code series exist only for the campaign codes an operator
// names.

// DefaultMetricReferers are the referer domains that get their own label
// value; the rest count as "other" (and no referer as "direct").
var DefaultMetricReferers = []string{
	"google.com", "bing.com", "duckduckgo.com", "yahoo.com", "baidu.com", "yandex.ru",
	"facebook.com", "m.facebook.com", "l.facebook.com", "instagram.com", "l.instagram.com",
	"t.co", "twitter.com", "x.com", "linkedin.com", "lnkd.in", "reddit.com", "youtube.com",
	"tiktok.com", "pinterest.com", "news.ycombinator.com", "mail.google.com", "outlook.live.com",
}

var metricBrowsers = set(
	"Chrome", "Chrome Mobile", "Chrome Mobile iOS", "Chrome Mobile WebView", "Chromium",
	"Firefox", "Firefox Mobile", "Firefox iOS", "Safari", "Mobile Safari", "Mobile Safari UI/WKWebView",
	"Edge", "Edge Mobile", "Opera", "Opera Mobile", "Samsung Internet", "UC Browser", "Yandex Browser",
	"Brave", "Vivaldi", "IE", "Facebook", "Instagram", "Other",
)

var metricOS = set(
	"Windows", "Mac OS X", "iOS", "iPadOS", "Android", "Linux", "Ubuntu", "Chrome OS", "Fedora",
	"Debian", "FreeBSD", "Windows Phone", "KaiOS", "HarmonyOS", "Other",
)

var metricDevices = set("desktop", "mobile", "tablet", "bot")

// countries are the ISO 3166-1 alpha-2 codes.
var countries = set(strings.Fields(`AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL
BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL
IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG
MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN
PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK
TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW`)...)

func set(vals ...string) map[string]bool {
	m := make(map[string]bool, len(vals))
	for _, v := range vals {
		m[v] = true
	}
	return m
}

type businessMetrics struct {
	clicks                                *prometheus.CounterVec
	country, device, browser, os, referer *prometheus.CounterVec
	campaign, tag                         *prometheus.CounterVec
	campaigns, referers, tags             map[string]bool
}

func newBusinessMetrics(campaigns, referers, tags []string) *businessMetrics {
	if referers == nil {
		referers = DefaultMetricReferers
	}
	vec := func(name, help, label string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{label})
	}
	return &businessMetrics{
		clicks:    vec("shortener_worker_clicks_total", "Clicks applied, by kind: human or bot.", "kind"),
		country:   vec("shortener_worker_clicks_by_country_total", "Human clicks by ISO country (unknown, other).", "country"),
		device:    vec("shortener_worker_clicks_by_device_total", "Clicks by device: desktop, mobile, tablet, bot.", "device"),
		browser:   vec("shortener_worker_clicks_by_browser_total", "Human clicks by browser family (rare ones as other).", "browser"),
		os:        vec("shortener_worker_clicks_by_os_total", "Human clicks by OS family (rare ones as other).", "os"),
		referer:   vec("shortener_worker_clicks_by_referer_total", "Human clicks by referer domain (direct, other, and the configured domains).", "referer"),
		campaign:  vec("shortener_worker_campaign_clicks_total", "Clicks of the campaign codes named by --metrics-campaign-codes.", "code"),
		tag:       vec("shortener_worker_tag_clicks_total", "Clicks of links with the tags named by --metrics-tags.", "tag"),
		campaigns: set(campaigns...),
		tags:      set(tags...),
		referers:  set(referers...),
	}
}

func (b *businessMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{b.clicks, b.country, b.device, b.browser, b.os, b.referer, b.campaign, b.tag}
}

func bounded(v string, allowed map[string]bool) string {
	if allowed[v] {
		return v
	}
	return "other"
}

// count records one applied click.
func (b *businessMetrics) count(e *eventArgs) {
	if b.campaigns[e[1]] {
		b.campaign.WithLabelValues(e[1]).Inc()
	}
	b.device.WithLabelValues(bounded(e[6], metricDevices)).Inc()
	if e[4] == "1" {
		b.clicks.WithLabelValues("bot").Inc()
		return
	}
	b.clicks.WithLabelValues("human").Inc()
	cc := e[5]
	if cc != "unknown" {
		cc = bounded(cc, countries)
	}
	b.country.WithLabelValues(cc).Inc()
	b.browser.WithLabelValues(bounded(e[7], metricBrowsers)).Inc()
	b.os.WithLabelValues(bounded(e[8], metricOS)).Inc()
	ref := e[9]
	if ref != "direct" {
		ref = bounded(ref, b.referers)
	}
	b.referer.WithLabelValues(ref).Inc()
}

// countTags records one applied click of a link with the given tags
// (comma-separated); only operator-named tags get a series.
func (b *businessMetrics) countTags(tags string) {
	for _, t := range strings.Split(tags, ",") {
		if b.tags[t] {
			b.tag.WithLabelValues(t).Inc()
		}
	}
}
