// Link analytics page. Plain JavaScript, no dependencies. Everything that
// comes from the API is put into the page as text (textContent, attributes
// via the DOM, SVG built with createElementNS): never as markup.
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
  async function api(path, signal) {
    let resp;
    try {
      resp = await fetch(API + path, {
        method: 'GET',
        headers: { Authorization: 'Bearer ' + state.key, Accept: 'application/json' },
        cache: 'no-store',
        credentials: 'omit',
        redirect: 'error',
        referrerPolicy: 'no-referrer',
        signal,
      });
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new APIError(0, '');
    }
    if (resp.ok) return resp.json();
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
    showKeyPanel();
    if (message) showError(message); else clearError();
  }

  function showApp() {
    $('key-panel').hidden = true;
    $('app').hidden = false;
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

  // ---- Start ---------------------------------------------------------

  (async () => {
    if (!state.key) {
      showKeyPanel();
      return;
    }
    showApp();
    const ok = await loadLinks(true);
    if (ok && state.key) openFromHash();
  })();
})();
