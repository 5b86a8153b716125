package useragent

import "strings"

// botTokens are lower-case substrings that mark an agent as a bot, crawler,
// link-preview fetcher, monitor, scanner or HTTP client library. uap-go's
// "Spider" device catches many crawlers but not these. "bot" itself is
// handled by hasBotToken because of the CUBOT phone brand. Each token is
// chosen not to occur in the agents of browsers or in-app browsers (which
// carry app names such as "Instagram", "FBAN", "Telegram-Android" or
// "discord/" and are humans).
var botTokens = []string{
	// Self-descriptions and crawler conventions.
	"crawl", "spider", "slurp", "scrap", "preview", "fetch", "archiv",
	"indexer", "validator", "checklink", "linkcheck", "http://", "https://",

	// Headless and automated browsers, audits.
	"headless", "phantomjs", "lighthouse", "inspectiontool", "pagespeed",

	// Link unfurlers and AI agents whose names lack "bot".
	"facebookexternalhit", "facebookcatalog", "meta-external", "whatsapp",
	"embedly", "iframely", "vkshare", "qwantify", "mediapartners-google",
	"googleother", "google-read-aloud", "chatgpt-user", "perplexity-user",
	"anthropic-ai", "claude-web", "cohere-ai",

	// Uptime monitors.
	"pingdom", "statuscake", "uptime", "gtmetrix", "site24x7", "datadog",
	"newrelic", "nagios", "check_http", "zabbix",

	// Command-line tools and HTTP client libraries. An app's own HTTP
	// stack (Dalvik on Android, CFNetwork on Apple systems) fetching a
	// link is not a person's click either: taps open a browser or web view.
	"curl/", "libcurl", "wget/", "http-client", "httpclient", "python-",
	"python/", "aiohttp", "httpx", "urllib", "okhttp", "java/", "jakarta",
	"libwww-perl", "lwp::", "php/", "guzzle", "ruby", "faraday", "axios",
	"node-fetch", "undici", "node.js", "deno/", "postmanruntime", "insomnia",
	"httpie", "dart:io", "go-resty", "restsharp", "winhttp", "reqwest",
	"hackney", "colly", "powershell", "cfnetwork", "dalvik/",

	// Scanners.
	"zgrab", "masscan", "nmap", "nuclei", "censys", "netcraft", "nessus",
	"sqlmap", "nikto", "wpscan",
}

// hasBotToken reports whether lower, a lower-cased agent, contains a bot
// token. "bot" counts anywhere except as the end of "cubot", the CUBOT phone
// brand ("CUBOT_X30", "CUBOT NOTE 20"), which is a human's phone.
func hasBotToken(lower string) bool {
	for rest := lower; ; {
		i := strings.Index(rest, "bot")
		if i < 0 {
			break
		}
		if i < 2 || rest[i-2:i] != "cu" {
			return true
		}
		rest = rest[i+len("bot"):]
	}
	for _, t := range botTokens {
		if strings.Contains(lower, t) {
			return true
		}
	}
	return false
}

// previewTokens are lower-case substrings of link-preview fetchers: the bots
// that unfurl a link pasted into a chat, a post or a mail.
var previewTokens = []string{
	"slackbot", "slack-imgproxy", "twitterbot", "facebookexternalhit", "facebookcatalog", "meta-externalagent",
	"whatsapp", "discordbot", "telegrambot", "linkedinbot", "skypeuripreview", "pinterestbot", "redditbot",
	"embedly", "iframely", "vkshare", "mastodon", "bluesky", "snapchat", "viber", "line/", "kakaotalk-scrap",
	"microsoftpreview", "teams", "googledocs", "mattermost", "rocket.chat", "zoom", "signal",
}

// isPreview reports whether lower, a lower-cased bot agent, is a link-preview
// fetcher.
func isPreview(lower string) bool {
	for _, t := range previewTokens {
		if strings.Contains(lower, t) {
			return true
		}
	}
	return false
}
