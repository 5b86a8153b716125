// Package analytics turns click events into analytics and reads them back.
// The worker side (Consumer) reads the partitioned click streams as a member
// of a consumer group and applies each batch with one XACK-gated Lua script
// on the partition's slot: an entry is counted only if this call removed it
// from the group's pending list, so a batch replayed after a crash (or
// claimed by another worker) is never counted twice. The edge side (Reader)
// builds the analytics document of a link and the top-links list.
package analytics

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/shortener/shortener/pkg/clicks"
	"github.com/shortener/shortener/pkg/clientip"
)

// Retention of the series.
const (
	DailyRetentionDays = 90
	HourlyRetention    = 7 * 24 * time.Hour
	RecentClicks       = 1000
	// OrphanRetentionDays is how long a day of orphan visits is kept.
	OrphanRetentionDays = 31
	// breakdownCap bounds the fields of one day's breakdown hash, below
	// Redis's listpack limit (512); past it new values count as "other".
	breakdownCap = 400
	// maxDimLen bounds a breakdown value (listpack values stay <= 64 bytes).
	maxDimLen = 60
)

// applyScript applies a batch of one partition. KEYS: stream, the
// partition's click counter, the partition's top-links set. ARGV: group,
// analytics prefix, link-record prefix, day-key TTL (s), daily cutoff day,
// hourly cutoff hour, recent-list size, breakdown cap, now (ms); then 12
// values per event. It answers one letter per event: a (applied),
// d (duplicate: acknowledged before), g (gone: the link no longer exists),
// and one line per event with the tags of applied events (comma-separated).
// A tagged link's clicks are also counted per (owner, tag) under the
// partition's tag prefix: the sum over partitions is the tag's analytics. Every key it touches carries the partition's hash tag.
var applyScript = rueidis.NewLuaScript(`
local stream, counter, top = KEYS[1], KEYS[2], KEYS[3]
local group, apre, lpre = ARGV[1], ARGV[2], ARGV[3]
local dayttl, cutday, cuthour = tonumber(ARGV[4]), ARGV[5], ARGV[6]
local recentmax, cap, now = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local tpre, opre, orphttl = ARGV[10], ARGV[11], tonumber(ARGV[12])
local status, tagsOut = {}, {}
local records, tops, ensured = {}, {}, {}
local applied = 0
local function prune(key, cutoff)
  for _, f in ipairs(redis.call('HKEYS', key)) do
    if f < cutoff then redis.call('HDEL', key, f) end
  end
end
-- bump counts one value of a breakdown, folding values past the cap into
-- "other"; it reports whether it created a field (so the key may be new).
local function bump(key, field, dim)
  if redis.call('HINCRBY', key, field, 1) ~= 1 then return false end
  if redis.call('HLEN', key) > cap then
    redis.call('HDEL', key, field)
    redis.call('HINCRBY', key, dim .. 'other', 1)
  end
  return true
end
-- expire gives a key its TTL once: only when the key may be new, and once
-- a batch (the expiry commands were a third of the work otherwise).
local function expire(key, ttl, exp)
  if ensured[key] then return end
  ensured[key] = true
  if ttl then
    redis.call('EXPIRE', key, ttl, 'NX')
    if exp ~= '0' then redis.call('PEXPIREAT', key, exp, 'LT') end
  elseif exp ~= '0' then
    redis.call('PEXPIREAT', key, exp)
  end
end
local function tagged(rec)
  local owner, opts = string.match(rec, '^2\n%d+\n%d+\n%d+\n([^\n]*)\n([^\n]*)\n')
  if not opts then return nil, nil end
  local ok, o = pcall(cjson.decode, opts)
  if not ok or type(o) ~= 'table' or type(o.t) ~= 'table' or #o.t == 0 then return nil, nil end
  if owner == '' then owner = '~anon' end
  return owner, o.t
end
local i = 13
while i <= #ARGV do
  local id, code, day, hour, bot, cc, dev, br, os, ref, vis, recent, kind, preview = unpack(ARGV, i, i + 13)
  i = i + 14
  if redis.call('XACK', stream, group, id) ~= 1 then
    status[#status + 1] = 'd' -- already applied (a replay)
  elseif kind == 'o' then
    -- an orphan visit: code is the path asked for; counted per day, capped
    local ok = opre .. day
    redis.call('HINCRBY', ok, 'total', 1)
    bump(ok, 'p:' .. code, 'p:')
    bump(ok, 'r:' .. ref, 'r:')
    if not ensured[ok] then ensured[ok] = true; redis.call('EXPIRE', ok, orphttl, 'NX') end
    status[#status + 1] = 'o'
  else
    local rec = records[code]
    if rec == nil then
      rec = redis.call('GET', lpre .. code) or false
      records[code] = rec
    end
    local exp = rec and string.match(rec, '^[12]\n%d+\n(%d+)\n')
    local base = apre .. code
    if not exp or (exp ~= '0' and tonumber(exp) <= now) then
      status[#status + 1] = 'g' -- deleted, expired or tombstoned: its analytics are gone too
    elseif kind == 'h' then
      -- a HEAD: a check of the link, not a visit
      if redis.call('HINCRBY', base, 'head', 1) == 1 then expire(base, nil, exp) end
      status[#status + 1] = 'h'
    else
      -- total_clicks is human + bot: no third counter to keep
      if redis.call('HINCRBY', base, bot == '1' and 'bot' or 'human', 1) == 1 then expire(base, nil, exp) end
      if bot == '1' then
        if preview == '1' then redis.call('HINCRBY', base, 'preview', 1) end
      else
        if redis.call('HINCRBY', base .. ':d', day, 1) == 1 then
          prune(base .. ':d', cutday)
          expire(base .. ':d', nil, exp)
        end
        if redis.call('HINCRBY', base .. ':h', hour, 1) == 1 then
          prune(base .. ':h', cuthour)
          expire(base .. ':h', nil, exp)
        end
        local bk, uk = base .. ':b:' .. day, base .. ':u:' .. day
        local new = bump(bk, 'c:' .. cc, 'c:')
        new = bump(bk, 'd:' .. dev, 'd:') or new
        new = bump(bk, 'b:' .. br, 'b:') or new
        new = bump(bk, 'o:' .. os, 'o:') or new
        new = bump(bk, 'r:' .. ref, 'r:') or new
        if new then expire(bk, dayttl, exp) end
        if redis.call('PFADD', uk, vis) == 1 then expire(uk, dayttl, exp) end
      end
      local n = redis.call('LPUSH', base .. ':r', recent)
      if n == 1 then expire(base .. ':r', nil, exp) end
      if n > recentmax then redis.call('LTRIM', base .. ':r', 0, recentmax - 1) end
      tops[code] = (tops[code] or 0) + 1
      applied = applied + 1
      local owner, tags = tagged(rec)
      if tags then
        for _, tag in ipairs(tags) do
          local tb = tpre .. owner .. ':' .. tag
          redis.call('HINCRBY', tb, bot == '1' and 'bot' or 'human', 1)
          if not ensured[tb] then ensured[tb] = true; redis.call('EXPIRE', tb, dayttl) end
          if bot ~= '1' then
            if redis.call('HINCRBY', tb .. ':d', day, 1) == 1 then prune(tb .. ':d', cutday) end
            if not ensured[tb .. ':d'] then ensured[tb .. ':d'] = true; redis.call('EXPIRE', tb .. ':d', dayttl) end
            local tbk = tb .. ':b:' .. day
            bump(tbk, 'c:' .. cc, 'c:')
            bump(tbk, 'd:' .. dev, 'd:')
            bump(tbk, 'b:' .. br, 'b:')
            bump(tbk, 'o:' .. os, 'o:')
            bump(tbk, 'r:' .. ref, 'r:')
            if not ensured[tbk] then ensured[tbk] = true; redis.call('EXPIRE', tbk, dayttl, 'NX') end
          end
        end
        tagsOut[#status + 1] = table.concat(tags, ',')
      end
      status[#status + 1] = 'a'
    end
  end
end
-- once a batch: the top-links scores and the partition's click counter
for code, n in pairs(tops) do redis.call('ZINCRBY', top, n, code) end
if applied > 0 then redis.call('INCRBY', counter, applied) end
local tagLines = {}
for k = 1, #status do tagLines[k] = tagsOut[k] or '' end
return {table.concat(status), table.concat(tagLines, '\n')}
`)

// deadLetterScript moves entries to the dead-letter stream and acknowledges
// them, atomically. KEYS: stream, dead-letter stream. ARGV: group, then
// (id, reason, payload) triples.
var deadLetterScript = rueidis.NewLuaScript(`
local n = 0
for i = 2, #ARGV, 3 do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', 100000, '*', 'id', ARGV[i], 'reason', ARGV[i + 1], 'e', ARGV[i + 2])
    n = n + 1
  end
end
return n
`)

// eventArgs are the 14 script values of one event.
type eventArgs [14]string

// fields computes what the script needs from an event.
func (c *Consumer) fields(id string, e *clicks.Event) eventArgs {
	t := e.Time.UTC()
	info := c.cfg.Classifier.Classify(e.UserAgent)
	bot := "0"
	if info.Bot {
		bot = "1"
	}
	ref := RefererDomain(e.Referer)
	country := e.Country
	if country == "" {
		country = clicks.CountryUnknown
	}
	browser, os := dimValue(info.Browser), dimValue(info.OS)
	anon := ""
	if ip, err := netip.ParseAddr(e.IP); err == nil {
		anon = clientip.Anonymize(ip)
	}
	preview := "0"
	if info.Preview {
		preview = "1"
	}
	kind := "c"
	switch e.Kind {
	case clicks.KindHead:
		kind = "h"
	case clicks.KindOrphan:
		kind = "o"
		if len(ref) > maxDimLen {
			ref = "other"
		}
	}
	recent := strings.Join([]string{strconv.FormatInt(t.UnixMilli(), 10), country, info.Device, browser, os, ref, bot, anon, preview}, "\t")
	return eventArgs{id, dimValue(e.Code), t.Format("20060102"), t.Format("2006010215"), bot, country, info.Device, browser, os, ref,
		c.visitor(e.IP, e.UserAgent), recent, kind, preview}
}

// visitor is a keyed hash of IP and agent: the same person counts once a
// day, and the raw IP is never stored.
func (c *Consumer) visitor(ip, ua string) string {
	m := hmac.New(sha256.New, c.cfg.VisitorKey)
	m.Write([]byte(ip))
	m.Write([]byte{0})
	m.Write([]byte(ua))
	return hex.EncodeToString(m.Sum(nil)[:10])
}

// dimValue makes a breakdown value safe as a hash field and a TSV cell.
func dimValue(s string) string {
	if s == "" {
		return "Other"
	}
	if len(s) > maxDimLen {
		s = s[:maxDimLen]
	}
	if strings.ContainsAny(s, "\t\n\r") {
		s = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, s)
	}
	return s
}

// RefererDomain returns the host of a Referer header, lower-cased without
// "www." and port, "direct" when there is none, "other" when it is not a
// usable host name.
func RefererDomain(ref string) string {
	if ref == "" {
		return "direct"
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" {
		return "other"
	}
	h := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	h = strings.TrimPrefix(h, "www.")
	if h == "" || len(h) > maxDimLen {
		return "other"
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '_') {
			return "other"
		}
	}
	return h
}
