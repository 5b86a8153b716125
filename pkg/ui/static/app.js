// Link analytics and webhooks page. Plain JavaScript, no dependencies.
// Everything that comes from the API is put into the page as text
// (textContent, attributes and input values via the DOM, SVG built with
// createElementNS): never as markup.
'use strict';

(() => {
  const API = '/api/v1';
  const KEY_STORE = 'shortener.apiKey';
  const DAYS_STORE = 'shortener.days';
  const POLL_MS = 5000;
  const PAGE_SIZE = 50;
  const TOP_N = 10;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const RECENT_COLUMNS = ['Time', 'Country', 'Device', 'Browser', 'OS', 'Referer', 'Kind'];

  const $ = (id) => document.getElementById(id);
  const nf = new Intl.NumberFormat();
  const fmt = (n) => nf.format(n || 0);
  const pad = (n) => String(n).padStart(2, '0');
  const hms = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  let regionNames = null;
  try { regionNames = new Intl.DisplayNames(undefined, { type: 'region' }); } catch (e) { regionNames = null; }

  const state = {
    key: sessionStorage.getItem(KEY_STORE) || '',
    links: new Map(), // code → link object from the list
    cursor: '',
    code: '',
    days: [7, 30, 90].includes(Number(sessionStorage.getItem(DAYS_STORE))) ? Number(sessionStorage.getItem(DAYS_STORE)) : 30,
    report: null,
    timer: 0,
    ctrl: null,
    listCtrl: null,
    hooks: new Map(), // webhook id → { hook (never its secret), li, … }
    hooksCtrl: null,
    hooksGen: 0, // bumped on sign-out: answers to calls made before it are dropped
  };

  // el makes an element with a class and, optionally, text.
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // ---- API -----------------------------------------------------------

  class APIError extends Error {
    constructor(status, detail, retryAfter) {
      super(detail || `HTTP ${status}`);
      this.name = 'APIError';
      this.status = status;
      this.detail = detail || '';
      this.retryAfter = retryAfter;
    }
  }

  // api GETs a path under /api/v1 of this origin with the key; it answers
  // the decoded JSON or throws an APIError.
  function api(path, signal) {
    return request('GET', path, undefined, signal);
  }

  // request calls a path under /api/v1 of this origin with the key, and a
  // JSON body unless body is undefined; it answers the decoded JSON (null
  // for an empty answer) or throws an APIError.
  async function request(method, path, body, signal) {
    const headers = { Authorization: 'Bearer ' + state.key, Accept: 'application/json' };
    const init = {
      method,
      headers,
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
      referrerPolicy: 'no-referrer',
      signal,
    };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(API + path, init);
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new APIError(0, '');
    }
    if (resp.ok) {
      const text = await resp.text();
      return text ? JSON.parse(text) : null;
    }
    let detail = '';
    try {
      const p = await resp.json();
      if (p && typeof p.detail === 'string') detail = p.detail;
    } catch (e) { /* not JSON */ }
    const ra = Number(resp.headers.get('Retry-After'));
    throw new APIError(resp.status, detail, Number.isFinite(ra) && ra > 0 ? ra : 0);
  }

  function describe(err, what) {
    switch (err.status) {
      case 0: return `Cannot reach the server while loading ${what}. The page keeps trying.`;
      case 401: return 'This API key was not accepted (401 Unauthorized). Enter a valid key.';
      case 403: return `This key may not read ${what} (403 Forbidden): only the link's owner or an admin can.`;
      case 404: return `Not found (404): ${what} does not exist, or was deleted.`;
      case 410: return `Gone (410): ${what} has expired.`;
      case 429: return `Too many requests (429): this key's rate limit is used up. Trying again in ${err.retryAfter || 5} s.`;
      default: return `Loading ${what} failed (${err.status})${err.detail ? ': ' + err.detail : '.'}`;
    }
  }

  function showError(msg) {
    const b = $('error');
    b.textContent = msg;
    b.hidden = false;
  }

  function clearError() {
    $('error').hidden = true;
    $('error').textContent = '';
  }

  // ---- Key -----------------------------------------------------------

  function showKeyPanel() {
    $('app').hidden = true;
    $('webhooks').hidden = true;
    $('session').hidden = true;
    $('key-panel').hidden = false;
    $('key-input').value = '';
    $('key-input').focus();
  }

  function signOut(message) {
    stopPolling();
    state.key = '';
    state.links.clear();
    state.code = '';
    state.report = null;
    sessionStorage.removeItem(KEY_STORE);
    $('links').replaceChildren();
    resetWebhooks();
    showKeyPanel();
    if (message) showError(message); else clearError();
  }

  function showApp() {
    $('key-panel').hidden = true;
    $('app').hidden = false;
    $('webhooks').hidden = false;
    $('session').hidden = false;
  }

  $('key-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = $('key-input').value.trim();
    if (!key) return;
    state.key = key;
    const ok = await loadLinks(true);
    if (!ok) return;
    sessionStorage.setItem(KEY_STORE, key);
    showApp();
    openFromHash();
    loadWebhooks();
  });

  $('forget-key').addEventListener('click', () => {
    history.replaceState(null, '', location.pathname);
    signOut('');
  });

  // ---- Links ---------------------------------------------------------

  // loadLinks loads the first page (reset) or the next one; it answers
  // whether the key was accepted.
  async function loadLinks(reset) {
    if (state.listCtrl) state.listCtrl.abort();
    const ctrl = new AbortController();
    state.listCtrl = ctrl;
    const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (!reset && state.cursor) q.set('cursor', state.cursor);
    $('more').disabled = true;
    try {
      const page = await api('/links?' + q.toString(), ctrl.signal);
      if (reset) {
        state.links.clear();
        $('links').replaceChildren();
      }
      const links = Array.isArray(page.links) ? page.links : [];
      for (const l of links) {
        if (!l || typeof l.code !== 'string' || state.links.has(l.code)) continue;
        state.links.set(l.code, l);
        $('links').append(linkItem(l));
      }
      state.cursor = typeof page.next_cursor === 'string' ? page.next_cursor : '';
      $('more').hidden = !state.cursor;
      $('links-empty').hidden = state.links.size > 0;
      const first = state.links.values().next().value;
      // No call says whose key this is: a listed link's owner does.
      const owner = first && typeof first.owner === 'string' ? first.owner : '';
      $('session-prefix').hidden = !owner;
      $('session-owner').textContent = owner || 'Key in use';
      markCurrent();
      clearError();
      return true;
    } catch (e) {
      if (e.name === 'AbortError') return false;
      if (e.status === 401) {
        signOut(describe(e, 'your links'));
        return false;
      }
      showError(describe(e, 'your links'));
      return true; // the key was not refused: the list may load later
    } finally {
      $('more').disabled = false;
      if (state.listCtrl === ctrl) state.listCtrl = null;
    }
  }

  function linkItem(l) {
    const li = el('li');
    li.dataset.code = l.code;
    const b = el('button', 'link-item');
    b.type = 'button';
    b.dataset.code = l.code;
    const top = el('div', 'li-top');
    top.append(el('span', 'li-code', l.code), el('span', 'li-clicks', clicksText(l.clicks)));
    const short = el('div', 'li-short', l.short_url || '');
    const dest = el('div', 'li-url', l.url || '');
    dest.title = l.url || '';
    b.append(top, short, dest);
    if (Array.isArray(l.tags) && l.tags.length) {
      const tags = el('div', 'tags');
      for (const t of l.tags) tags.append(el('span', 'tag', t));
      b.append(tags);
    }
    b.addEventListener('click', () => {
      if (state.code === l.code) return;
      location.hash = encodeURIComponent(l.code);
    });
    li.append(b);
    return li;
  }

  function clicksText(n) {
    return `${fmt(n)} ${n === 1 ? 'click' : 'clicks'}`;
  }

  function markCurrent() {
    for (const b of $('links').querySelectorAll('.link-item')) {
      b.setAttribute('aria-current', b.dataset.code === state.code ? 'true' : 'false');
    }
  }

  function updateListClicks(code, n) {
    const l = state.links.get(code);
    if (l) l.clicks = n;
    for (const b of $('links').querySelectorAll('.link-item')) {
      if (b.dataset.code === code) b.querySelector('.li-clicks').textContent = clicksText(n);
    }
  }

  $('more').addEventListener('click', () => loadLinks(false));
  $('reload-links').addEventListener('click', () => loadLinks(true));

  // ---- One link's analytics ------------------------------------------

  function openFromHash() {
    let code = '';
    try { code = decodeURIComponent(location.hash.slice(1)); } catch (e) { code = ''; }
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(code)) code = '';
    if (code === state.code) return;
    openLink(code);
  }

  window.addEventListener('hashchange', () => { if (state.key) openFromHash(); });

  function openLink(code) {
    stopPolling();
    state.code = code;
    state.report = null;
    markCurrent();
    $('placeholder').hidden = !!code;
    $('analytics').hidden = !code;
    $('a-body').hidden = true; // until the first answer
    if (!code) {
      document.title = 'Link analytics · shortener';
      return;
    }
    document.title = code + ' · Link analytics';
    const l = state.links.get(code);
    $('a-code').textContent = code;
    $('a-short').textContent = l ? l.short_url : '';
    $('a-url').textContent = l ? l.url : '';
    setLive('', 'loading…');
    for (const id of ['stat-total', 'stat-human', 'stat-bot', 'stat-unique', 'stat-today']) $(id).textContent = '–';
    for (const id of ['chart-daily', 'chart-hourly']) $(id).replaceChildren();
    for (const id of ['by-country', 'by-device', 'by-browser', 'by-os', 'by-referer', 'recent']) $(id).replaceChildren();
    if (!l) {
      // Not on the loaded pages: the link document has its short URL.
      api('/links/' + encodeURIComponent(code)).then((d) => {
        if (state.code === code && d) $('a-short').textContent = d.short_url || '';
      }).catch(() => {});
    }
    if (window.matchMedia('(max-width: 860px)').matches) {
      $('analytics').scrollIntoView({ block: 'start' });
    }
    refresh();
  }

  function stopPolling() {
    clearTimeout(state.timer);
    state.timer = 0;
    if (state.ctrl) state.ctrl.abort();
    state.ctrl = null;
  }

  function schedule(delay) {
    clearTimeout(state.timer);
    state.timer = 0;
    if (!state.code || document.hidden) return;
    state.timer = setTimeout(refresh, delay);
  }

  // refresh fetches the open link's analytics now, renders them and plans
  // the next fetch.
  async function refresh() {
    clearTimeout(state.timer);
    if (state.ctrl) state.ctrl.abort();
    const code = state.code;
    const days = state.days;
    if (!code) return;
    const ctrl = new AbortController();
    state.ctrl = ctrl;
    let delay = POLL_MS;
    try {
      const r = await api(`/links/${encodeURIComponent(code)}/analytics?days=${days}`, ctrl.signal);
      if (ctrl.signal.aborted || state.code !== code) return;
      state.report = r;
      $('a-body').hidden = false;
      render(r);
      clearError();
      setLive('flash', 'updated ' + hms(new Date()));
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e.status === 401) {
        signOut(describe(e, 'these analytics'));
        return;
      }
      showError(describe(e, `the analytics of “${code}”`));
      setLive('stale', 'update failed ' + hms(new Date()));
      if (e.status === 429) delay = Math.max(POLL_MS, (e.retryAfter || 5) * 1000);
      if (e.status === 403 || e.status === 404 || e.status === 410) delay = 0;
    } finally {
      if (state.ctrl === ctrl) {
        state.ctrl = null;
        if (delay > 0) schedule(delay);
      }
    }
  }

  function setLive(cls, text) {
    const live = $('live');
    live.classList.remove('paused', 'stale', 'flash');
    if (cls) {
      void live.offsetWidth; // restart the pulse animation
      live.classList.add(cls);
    }
    $('updated').textContent = text;
  }

  document.addEventListener('visibilitychange', () => {
    if (!state.code || !state.key) return;
    if (document.hidden) {
      stopPolling();
      $('live').classList.add('paused');
    } else {
      refresh();
    }
  });

  for (const input of document.querySelectorAll('input[name=days]')) {
    input.checked = Number(input.value) === state.days;
    input.addEventListener('change', () => {
      if (!input.checked) return;
      state.days = Number(input.value);
      sessionStorage.setItem(DAYS_STORE, String(state.days));
      $('stat-unique-note').textContent = `last ${state.days} days`;
      if (state.code) refresh();
    });
  }
  $('stat-unique-note').textContent = `last ${state.days} days`;

  // ---- Rendering -----------------------------------------------------

  function render(r) {
    $('a-code').textContent = r.code || state.code;
    $('a-url').textContent = r.url || '';
    $('stat-total').textContent = fmt(r.total_clicks);
    $('stat-human').textContent = fmt(r.human_clicks);
    $('stat-bot').textContent = fmt(r.bot_clicks);
    $('stat-bot-note').textContent = r.preview_clicks > 0 ? `all time · ${fmt(r.preview_clicks)} link previews` : 'all time';
    $('stat-unique').textContent = fmt(r.unique_visitors);
    $('stat-today').textContent = fmt(r.unique_today);
    updateListClicks(state.code, r.total_clicks || 0);
    drawCharts();
    bars($('by-country'), r.by_country, countryName);
    bars($('by-device'), r.by_device, capitalize);
    bars($('by-browser'), r.by_browser);
    bars($('by-os'), r.by_os);
    bars($('by-referer'), r.by_referer, (k) => (k === 'direct' ? 'Direct (no referer)' : k));
    recent(r.recent_clicks);
  }

  function capitalize(s) { return s ? s[0].toUpperCase() + s.slice(1) : s; }

  function countryName(c) {
    if (c === 'unknown') return 'Unknown';
    if (regionNames && /^[A-Z]{2}$/.test(c)) {
      try {
        const n = regionNames.of(c);
        if (n && n !== c) return `${n} (${c})`;
      } catch (e) { /* not a region */ }
    }
    return c;
  }

  // bars fills an <ol> with the top entries of a breakdown, biggest first.
  function bars(list, obj, label) {
    const all = Object.entries(obj && typeof obj === 'object' ? obj : {})
      .filter(([, v]) => typeof v === 'number' && v > 0)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const total = all.reduce((s, [, v]) => s + v, 0);
    const top = all.slice(0, TOP_N);
    const rows = [];
    if (!top.length) {
      rows.push(el('li', 'none', 'No human clicks in this window.'));
    }
    const max = top.length ? top[0][1] : 1;
    for (const [k, v] of top) {
      const li = el('li', 'bar-row');
      li.dataset.key = k;
      const name = el('span', 'bar-name', label ? label(k) : k);
      name.title = k;
      const value = el('span', 'bar-value');
      const pct = Math.round((v / total) * 100);
      value.append(el('span', 'bar-count', fmt(v)), el('span', 'bar-pct', `${pct}%`));
      const track = el('div', 'bar-track');
      track.setAttribute('aria-hidden', 'true');
      const fill = el('div', 'bar-fill');
      fill.style.width = `${Math.max(1, (v / max) * 100).toFixed(1)}%`;
      track.append(fill);
      li.append(name, value, track);
      rows.push(li);
    }
    if (all.length > TOP_N) {
      const rest = all.slice(TOP_N).reduce((s, [, v]) => s + v, 0);
      rows.push(el('li', 'none', `+ ${all.length - TOP_N} more (${fmt(rest)} clicks)`));
    }
    list.replaceChildren(...rows);
  }

  function recent(clicks) {
    const body = $('recent');
    const rows = [];
    const today = new Date().toDateString();
    for (const c of Array.isArray(clicks) ? clicks : []) {
      const tr = el('tr');
      const d = new Date(c.timestamp);
      const when = isNaN(d) ? String(c.timestamp) : d.toDateString() === today ? hms(d)
        : `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${hms(d)}`;
      const td = el('td', 'time', when);
      td.title = String(c.timestamp);
      const kind = el('td');
      const bot = !!c.bot;
      kind.append(el('span', bot ? 'kind bot' : 'kind', c.preview ? 'Preview' : bot ? 'Bot' : 'Human'));
      const cells = [td, el('td', '', countryName(String(c.country || ''))), el('td', '', c.device), el('td', '', c.browser),
        el('td', '', c.os), el('td', '', c.referer), kind];
      cells.forEach((cell, i) => { cell.dataset.label = RECENT_COLUMNS[i]; });
      tr.append(...cells);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
    $('recent-empty').hidden = rows.length > 0;
  }

  // ---- Charts (SVG drawn here) ---------------------------------------

  function drawCharts() {
    const r = state.report;
    if (!r) return;
    const days = Object.keys(r.daily || {}).sort();
    const dailyPts = days.map((d) => {
      const t = new Date(d + 'T00:00:00Z');
      return {
        value: Number(r.daily[d]) || 0,
        tick: t.toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' }),
        full: t.toLocaleDateString(undefined, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' }),
        key: d,
      };
    });
    barChart($('chart-daily'), {
      title: 'Clicks per day',
      sub: `last ${days.length} days, UTC · human clicks`,
      points: dailyPts,
      unitName: 'day',
      labelEvery: (i, n, slots) => (n - 1 - i) % Math.max(1, Math.ceil(n / slots)) === 0,
    });

    const hours = Object.keys(r.hourly || {}).sort();
    const hourlyPts = hours.map((h) => {
      const t = new Date(h + ':00:00Z');
      const local = t.getHours();
      return {
        value: Number(r.hourly[h]) || 0,
        tick: local === 0 ? t.toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) : `${pad(local)}:00`,
        full: `${t.toLocaleDateString(undefined, { weekday: 'short', month: 'short', day: 'numeric' })} ${pad(local)}:00`,
        hour: local,
        key: h,
      };
    });
    barChart($('chart-hourly'), {
      title: 'Clicks per hour',
      sub: `last ${hours.length} hours, your time · human clicks`,
      points: hourlyPts,
      unitName: 'hour',
      labelEvery: (i, n, slots) => {
        const step = [3, 6, 12, 24].find((s) => n / s <= slots) || 24;
        return hourlyPts[i].hour % step === 0;
      },
    });
  }

  function niceStep(max, ticks) {
    const raw = Math.max(1, max / ticks);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return m * mag;
    return 10 * mag;
  }

  function barChart(box, opt) {
    const width = Math.max(280, Math.floor(box.clientWidth || 640));
    box.dataset.width = String(width);
    const height = width < 480 ? 200 : 230;
    const pts = opt.points;
    const n = pts.length;
    const total = pts.reduce((s, p) => s + p.value, 0);
    const maxV = pts.reduce((m, p) => Math.max(m, p.value), 0);
    const step = niceStep(maxV, 4);
    const yMax = Math.max(step, Math.ceil(maxV / step) * step);
    const yLabelW = 10 + 7 * String(yMax).length;
    const m = { top: 52, right: 8, bottom: 26, left: yLabelW };
    const pw = width - m.left - m.right;
    const ph = height - m.top - m.bottom;

    let summary;
    if (!n) summary = `${opt.title}: no data.`;
    else if (!total) summary = `${opt.title}, ${opt.sub}: no clicks.`;
    else {
      const peak = pts.reduce((a, p) => (p.value > a.value ? p : a), pts[0]);
      summary = `${opt.title}, ${opt.sub}: ${fmt(total)} in total; busiest ${opt.unitName} ${peak.full} with ${fmt(peak.value)}.`;
    }

    const s = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': summary });
    s.append(svg('title', {}, summary));
    s.append(svg('text', { class: 'c-title', x: 0, y: 16 }, opt.title));
    s.append(svg('text', { class: 'c-sub', x: 0, y: 34 }, `${opt.sub} · ${fmt(total)} total`));

    for (let v = 0; v <= yMax; v += step) {
      const y = m.top + ph - (v / yMax) * ph;
      s.append(svg('line', { class: v === 0 ? 'c-base' : 'c-grid', x1: m.left, x2: width - m.right, y1: y, y2: y }));
      s.append(svg('text', { class: 'c-axis', x: m.left - 6, y: y + 4, 'text-anchor': 'end' }, fmt(v)));
    }

    const band = n ? pw / n : pw;
    const bw = Math.max(1, Math.min(band * 0.72, 28));
    const slots = Math.max(2, Math.floor(pw / 58));
    pts.forEach((p, i) => {
      const x = m.left + i * band + (band - bw) / 2;
      if (p.value > 0) {
        const h = Math.max(1.5, (p.value / yMax) * ph);
        const bar = svg('rect', {
          class: 'c-bar', x: x.toFixed(2), y: (m.top + ph - h).toFixed(2),
          width: bw.toFixed(2), height: h.toFixed(2), rx: Math.min(3, bw / 3).toFixed(2),
        });
        bar.dataset.key = p.key;
        bar.dataset.value = String(p.value);
        bar.append(svg('title', {}, `${p.full}: ${fmt(p.value)} ${p.value === 1 ? 'click' : 'clicks'}`));
        s.append(bar);
      }
      if (opt.labelEvery(i, n, slots)) {
        const cx = m.left + i * band + band / 2;
        s.append(svg('line', { class: 'c-base', x1: cx, x2: cx, y1: m.top + ph, y2: m.top + ph + 4 }));
        s.append(svg('text', { class: 'c-axis', x: cx, y: height - 6, 'text-anchor': 'middle' }, p.tick));
      }
    });
    if (!total) {
      s.append(svg('text', { class: 'c-empty', x: m.left + pw / 2, y: m.top + ph / 2, 'text-anchor': 'middle' }, 'No human clicks yet'));
    }
    box.replaceChildren(s);
  }

  // Charts are drawn at the width they have: redraw when it changes.
  let resizeTimer = 0;
  const ro = new ResizeObserver(() => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const id of ['chart-daily', 'chart-hourly']) {
        const box = $(id);
        if (box.dataset.width && Math.abs(Number(box.dataset.width) - Math.max(280, Math.floor(box.clientWidth))) > 2) {
          drawCharts();
          return;
        }
      }
    }, 100);
  });
  ro.observe($('chart-daily'));

  // ---- Webhooks ------------------------------------------------------

  const DEAD_COLUMNS = ['Failed at', 'Type', 'Attempts', 'Last status', 'Last error'];

  // when shows an RFC 3339 time as a local date and time.
  function when(s) {
    const d = new Date(s);
    if (!s || isNaN(d)) return String(s || '');
    return `${d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' })} ${hms(d)}`;
  }

  // setMsg shows text in a message element, or hides it when there is none.
  function setMsg(p, text) {
    p.textContent = text || '';
    p.hidden = !text;
  }

  function msgEl(cls, role) {
    const p = el('p', cls);
    p.hidden = true;
    p.setAttribute('role', role);
    return p;
  }

  function whError(err, what) {
    switch (err.status) {
      case 0: return `${what} failed: cannot reach the server.`;
      case 429: return `Too many requests (429): this key's rate limit is used up. Try again in ${err.retryAfter || 5} s.`;
      default: return `${what} failed (${err.status})${err.detail ? ': ' + err.detail : '.'}`;
    }
  }

  // whCall makes one webhook call. It answers { value } with the decoded
  // answer; or shows why it failed in errBox (the key refused: signs out)
  // and answers null. Answers that come after a sign-out are dropped.
  async function whCall(errBox, what, method, path, body) {
    const gen = state.hooksGen;
    setMsg(errBox, '');
    try {
      const value = await request(method, path, body);
      return gen === state.hooksGen ? { value } : null;
    } catch (e) {
      if (gen !== state.hooksGen) return null;
      if (e.status === 401) {
        signOut(describe(e, 'webhooks'));
        return null;
      }
      setMsg(errBox, whError(e, what));
      return null;
    }
  }

  // busy runs f with btn disabled, so a second click cannot repeat a call
  // that is still on its way.
  async function busy(btn, f) {
    if (btn.disabled) return;
    btn.disabled = true;
    try {
      await f();
    } finally {
      btn.disabled = false;
    }
  }

  function hookPath(item, rest) {
    return '/webhooks/' + encodeURIComponent(item.hook.id) + (rest || '');
  }

  // withoutSecret answers a webhook from the API without its secret: the
  // page keeps no secret, it only shows one once.
  function withoutSecret(h) {
    const copy = Object.assign({}, h);
    delete copy.secret;
    return copy;
  }

  function resetWebhooks() {
    state.hooksGen++;
    if (state.hooksCtrl) state.hooksCtrl.abort();
    state.hooksCtrl = null;
    $('wh-reload').disabled = false;
    state.hooks.clear();
    $('wh-list').replaceChildren();
    $('wh-empty').hidden = true;
    $('wh-created').replaceChildren();
    $('wh-created').hidden = true;
    $('wh-form').reset();
    setMsg($('wh-error'), '');
    setMsg($('wh-form-error'), '');
  }

  // loadWebhooks (re)loads the list. A webhook still listed keeps its
  // element, so a secret or dead letters it shows stay.
  async function loadWebhooks() {
    if (state.hooksCtrl) state.hooksCtrl.abort();
    const ctrl = new AbortController();
    state.hooksCtrl = ctrl;
    $('wh-reload').disabled = true;
    try {
      const r = await api('/webhooks', ctrl.signal);
      const hooks = (r && Array.isArray(r.webhooks) ? r.webhooks : []).filter((h) => h && typeof h.id === 'string');
      const listed = new Set(hooks.map((h) => h.id));
      for (const [id, item] of state.hooks) {
        if (!listed.has(id)) state.hooks.delete(id);
      }
      const lis = hooks.map((h) => {
        let item = state.hooks.get(h.id);
        if (item) {
          item.hook = withoutSecret(h);
          renderHook(item);
        } else {
          item = hookItem(withoutSecret(h));
          state.hooks.set(h.id, item);
        }
        return item.li;
      });
      $('wh-list').replaceChildren(...lis);
      $('wh-empty').hidden = lis.length > 0;
      setMsg($('wh-error'), '');
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e.status === 401) {
        signOut(describe(e, 'your webhooks'));
        return;
      }
      setMsg($('wh-error'), whError(e, 'Loading your webhooks'));
    } finally {
      if (state.hooksCtrl === ctrl) {
        state.hooksCtrl = null;
        $('wh-reload').disabled = false;
      }
    }
  }

  $('wh-reload').addEventListener('click', () => loadWebhooks());

  function hookItem(h) {
    const li = el('li', 'wh-item');
    li.dataset.id = h.id;
    const info = el('div', 'wh-info');
    const actions = el('div', 'wh-actions');
    const button = (action, label, cls) => {
      const b = el('button', cls, label);
      b.type = 'button';
      b.dataset.action = action;
      actions.append(b);
      return b;
    };
    const test = button('test', 'Send test', 'ghost small');
    const dead = button('dead-letters', 'Dead letters', 'ghost small');
    dead.setAttribute('aria-expanded', 'false');
    const rotate = button('rotate', 'Rotate secret', 'ghost small');
    const del = button('delete', 'Delete', 'ghost small danger');
    const item = {
      hook: h, li, info,
      note: msgEl('wh-note', 'status'),
      error: msgEl('inline-error', 'alert'),
      secret: el('div', 'wh-secret'),
      dead: el('div', 'wh-dead'),
      deadButton: dead,
    };
    item.secret.hidden = true;
    item.dead.hidden = true;
    li.append(info, actions, item.note, item.error, item.secret, item.dead);
    renderHook(item);
    test.addEventListener('click', () => busy(test, () => sendTest(item)));
    dead.addEventListener('click', () => busy(dead, () => toggleDeadLetters(item)));
    rotate.addEventListener('click', () => busy(rotate, () => rotateSecret(item)));
    del.addEventListener('click', () => busy(del, () => deleteHook(item)));
    return item;
  }

  function renderHook(item) {
    const h = item.hook;
    const url = el('div', 'wh-url', h.url);
    url.title = String(h.url || '');
    const tags = el('div', 'tags');
    for (const e of Array.isArray(h.events) ? h.events : []) tags.append(el('span', 'tag', e));
    const parts = [url, tags];
    if (h.description) parts.push(el('div', 'wh-desc', h.description));
    const meta = el('div', 'wh-meta', 'Created ');
    const created = el('time', '', when(h.created_at));
    created.dateTime = String(h.created_at || '');
    created.title = String(h.created_at || '');
    meta.append(created);
    if (h.previous_secret_expires_at) {
      meta.append(` · the previous secret signs too until ${when(h.previous_secret_expires_at)}`);
    }
    parts.push(meta);
    item.info.replaceChildren(...parts);
  }

  async function sendTest(item) {
    setMsg(item.note, '');
    const r = await whCall(item.error, 'Sending a test', 'POST', hookPath(item, '/test'));
    if (!r) return;
    const id = r.value && typeof r.value.message_id === 'string' ? r.value.message_id : '';
    setMsg(item.note, `Test delivery queued (webhook-id ${id}). Should every try fail, it shows under Dead letters.`);
  }

  async function toggleDeadLetters(item) {
    if (!item.dead.hidden) {
      item.dead.hidden = true;
      item.deadButton.setAttribute('aria-expanded', 'false');
      return;
    }
    await loadDeadLetters(item, '');
  }

  // loadDeadLetters shows the webhook's dead letters, and note above them.
  async function loadDeadLetters(item, note) {
    const r = await whCall(item.error, 'Loading the dead letters', 'GET', hookPath(item, '/dead-letters'));
    if (!r) return;
    const list = r.value && Array.isArray(r.value.dead_letters) ? r.value.dead_letters : [];
    renderDeadLetters(item, list, note);
    item.dead.hidden = false;
    item.deadButton.setAttribute('aria-expanded', 'true');
  }

  function renderDeadLetters(item, list, note) {
    const head = el('div', 'wh-dead-head');
    head.append(el('h4', '', `Dead letters (${fmt(list.length)})`));
    const replay = el('button', 'ghost small', 'Replay all');
    replay.type = 'button';
    replay.dataset.action = 'replay';
    head.append(replay);
    const noteEl = msgEl('wh-note', 'status');
    setMsg(noteEl, note);
    const errEl = msgEl('inline-error', 'alert');
    replay.addEventListener('click', () => busy(replay, async () => {
      setMsg(noteEl, '');
      const r = await whCall(errEl, 'Replaying the dead letters', 'POST', hookPath(item, '/replay'));
      if (!r) return;
      const n = r.value && typeof r.value.replayed === 'number' ? r.value.replayed : 0;
      await loadDeadLetters(item, `${fmt(n)} ${n === 1 ? 'dead letter' : 'dead letters'} queued again.`);
    }));
    const parts = [head, noteEl, errEl];
    if (!list.length) {
      parts.push(el('p', 'muted empty', 'No dead letters: every delivery got through, or is still being retried.'));
    } else {
      const table = el('table');
      const tr = el('tr');
      for (const c of DEAD_COLUMNS) {
        const th = el('th', '', c);
        th.scope = 'col';
        tr.append(th);
      }
      const thead = el('thead');
      thead.append(tr);
      const tbody = el('tbody');
      for (const d of list) {
        if (!d || typeof d !== 'object') continue;
        const row = el('tr');
        row.dataset.message = String(d.message_id || '');
        const failed = el('td', 'time', when(d.failed_at));
        failed.title = String(d.failed_at || '');
        const type = el('td', '', d.type);
        type.title = `webhook-id ${d.message_id || ''}`;
        const status = typeof d.last_status === 'number' ? String(d.last_status) : 'no answer';
        const cells = [failed, type, el('td', 'num', fmt(d.attempts)), el('td', 'num', status), el('td', 'wh-last-error', d.last_error)];
        cells.forEach((cell, i) => { cell.dataset.label = DEAD_COLUMNS[i]; });
        row.append(...cells);
        tbody.append(row);
      }
      table.append(thead, tbody);
      const wrap = el('div', 'table-wrap');
      wrap.append(table);
      parts.push(wrap);
    }
    item.dead.replaceChildren(...parts);
  }

  async function rotateSecret(item) {
    const h = item.hook;
    if (h.previous_secret_expires_at && !window.confirm(`The secret the last rotation replaced still signs deliveries until ${when(h.previous_secret_expires_at)}. ` +
      'Rotating again ends it at once: a receiver that checks only that one refuses deliveries from now on. Rotate anyway?')) {
      return;
    }
    setMsg(item.note, '');
    const r = await whCall(item.error, 'Rotating the secret', 'PATCH', hookPath(item), { rotate_secret: true });
    if (!r || !r.value) return;
    const secret = typeof r.value.secret === 'string' ? r.value.secret : '';
    item.hook = withoutSecret(r.value);
    renderHook(item);
    const until = item.hook.previous_secret_expires_at ? ` (until ${when(item.hook.previous_secret_expires_at)})` : '';
    item.secret.replaceChildren(secretBox('New signing secret', secret, [
      'Store it now; it signs every delivery from now on. This page shows it only this once.',
      `The previous secret keeps signing too for 24 h${until}: every delivery carries both signatures, so your receiver keeps working while you move it to the new one.`,
    ], () => { item.secret.hidden = true; item.secret.replaceChildren(); }));
    item.secret.hidden = false;
  }

  async function deleteHook(item) {
    if (!window.confirm(`Delete the webhook to ${item.hook.url}? Nothing more is delivered to it, not even what is already queued.`)) return;
    setMsg(item.note, '');
    const r = await whCall(item.error, 'Deleting the webhook', 'DELETE', hookPath(item));
    if (!r) return;
    item.li.remove();
    state.hooks.delete(item.hook.id);
    $('wh-empty').hidden = state.hooks.size > 0;
    if (state.hooksCtrl) loadWebhooks(); // a list asked for before the deletion may still hold it
  }

  // secretBox shows a secret once, in a read-only field that is easy to
  // copy, above lines of text (strings or nodes); done hides it.
  function secretBox(title, secret, lines, done) {
    const box = el('div', 'secret-box');
    box.append(el('strong', 'secret-title', title));
    const row = el('div', 'row');
    const input = el('input', 'secret');
    input.type = 'text';
    input.readOnly = true;
    input.spellcheck = false;
    input.value = secret;
    input.setAttribute('aria-label', title);
    input.addEventListener('focus', () => input.select());
    const copy = el('button', 'ghost', 'Copy');
    copy.type = 'button';
    copy.addEventListener('click', () => copySecret(input, copy));
    row.append(input, copy);
    box.append(row);
    for (const line of lines) {
      const p = el('p');
      p.append(...[].concat(line));
      box.append(p);
    }
    const hide = el('button', 'ghost small', 'I stored it: hide it');
    hide.type = 'button';
    hide.dataset.action = 'hide-secret';
    hide.addEventListener('click', done);
    box.append(hide);
    return box;
  }

  async function copySecret(input, button) {
    input.focus();
    input.select();
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(input.value);
        ok = true;
      }
    } catch (e) { ok = false; }
    if (!ok) {
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    }
    button.textContent = ok ? 'Copied' : 'Press Ctrl+C';
    setTimeout(() => { button.textContent = 'Copy'; }, 2000);
  }

  $('wh-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const btn = $('wh-create');
    busy(btn, async () => {
      const body = {
        url: $('wh-url').value.trim(),
        events: [...$('wh-form').querySelectorAll('input[name=events]:checked')].map((i) => i.value),
      };
      const description = $('wh-description').value.trim();
      if (description) body.description = description;
      const r = await whCall($('wh-form-error'), 'Creating the webhook', 'POST', '/webhooks', body);
      if (!r || !r.value || typeof r.value.id !== 'string') return;
      const secret = typeof r.value.secret === 'string' ? r.value.secret : '';
      const hook = withoutSecret(r.value);
      $('wh-form').reset();
      const created = $('wh-created');
      created.replaceChildren(secretBox(`Webhook created for ${hook.url}. Its signing secret`, secret, [
        'Store it now; it signs every delivery. This page shows it only this once.',
        ['To check a delivery, verify its ', el('code', '', 'webhook-signature'),
          ' header the Standard Webhooks way: the README\'s "Webhooks" section says how (any Standard Webhooks library does it).'],
      ], () => { created.hidden = true; created.replaceChildren(); }));
      created.hidden = false;
      if (!state.hooks.has(hook.id)) {
        const item = hookItem(hook);
        state.hooks.set(hook.id, item);
        $('wh-list').append(item.li);
      }
      $('wh-empty').hidden = true;
      if (state.hooksCtrl) loadWebhooks(); // a list asked for before the creation would drop it
    });
  });

  // ---- Start ---------------------------------------------------------

  (async () => {
    if (!state.key) {
      showKeyPanel();
      return;
    }
    showApp();
    const ok = await loadLinks(true);
    if (ok && state.key) {
      openFromHash();
      loadWebhooks();
    }
  })();
})();
