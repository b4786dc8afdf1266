// The coordinator's live dashboard. Plain JavaScript, no build step: it reads server-sent events from
// /api/events (a snapshot on connect, then engine events and live status) and redraws.
//
// The stream is read with fetch() rather than EventSource, which cannot send headers: when the control
// plane needs an admin token, the dashboard asks for it once, keeps it in this tab's sessionStorage and
// sends it as `Authorization: Bearer` — never in a URL (URLs end up in logs and history).

import { accuracyAxis, niceAxis, numberTick, percentTick } from './axis-range.js';

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';

const state = {
  live: { runId: '', phase: 'idle', sites: [] },
  /** RoundRecord per round (from round-end events). */
  rounds: new Map(),
  /** Per-update verdicts (from result events), newest last. */
  updates: [],
  /**
   * The sites that joined, with how they left (from site-joined / site-left events), in the order they last joined
   * or left: at most MAX_KNOWN_SITES once the oldest departed ones are dropped (peers may join under fresh names
   * without end). `siteCounts` counts them all.
   */
  knownSites: new Map(),
  /** Joins of sites not known at the time, and of those how many left before the end (the coordinator's: adoptSiteCounts). */
  siteCounts: { joined: 0, left: 0 },
  pretrained: undefined,
  status: undefined,
  round: undefined,
  /** Set when the run completed or aborted: { status, aborted, at }. The view is then final: nothing ticks. */
  final: undefined,
  /** The per-site report after the final round (report.siteReport), once the run completed. */
  siteReport: undefined,
  /** The final report's run-level sections (privacy, final metrics, terms refusals), once the run ended. */
  finalReport: undefined,
  /** The round whose details panel is open (a click on its row). */
  openRound: undefined,
  /** Whether the accuracy chart shows the whole 0–100% instead of zooming to the data. */
  fullAccuracy: false,
  /** Data summaries the sites agreed to share (data-summary events): per site (the first MAX_SUMMARY_ROWS) and totals. */
  dataSummaries: { sites: [], total: { sites: 0, examples: 0, duplicatesDropped: 0, missingImputed: 0, constantFeatures: 0, labelCounts: [] } },
};

/** Most sites remembered (knownSites): past it the sites that left longest ago are forgotten (counted still). */
const MAX_KNOWN_SITES = 1000;

/** Most departed sites listed in the sites table (the latest to leave); the rest are one "and N more" row. */
const MAX_DEPARTED_ROWS = 50;

/** Least time between two redraws (ms): a burst of events and live updates is drawn once, not once per message. */
const MIN_RENDER_INTERVAL_MS = 250;
/** Engine events of the run itself, drawn at once (a round shown as it ends); every other event waits for the next coalesced redraw. */
const RUN_EVENTS = new Set(['pretrained', 'round-start', 'round-end', 'round-retry', 'site-report-start', 'complete']);

/** Most sites listed in the data-summary table (the totals count them all, as report.json's). */
const MAX_SUMMARY_ROWS = 100;

/** Most per-site lines drawn: the sites with the lowest and the highest last training accuracy, half each. */
const MAX_SITE_LINES = 10;
const SITE_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const TOKEN_KEY = 'fedtune.adminToken';

/** The token when this browser has no sessionStorage (kept only until the page closes). */
let memoryToken;

function adminToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? memoryToken;
  } catch {
    return memoryToken;
  }
}

function authHeaders() {
  const token = adminToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

function pct(v) {
  return typeof v === 'number' && Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '—';
}

function ago(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  return s < 1 ? 'now' : s < 60 ? `${s.toFixed(0)} s ago` : `${(s / 60).toFixed(0)} min ago`;
}

/** A fixed time of day (the view of a finished run does not tick). */
function clock(iso) {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? new Date(t).toLocaleTimeString() : '—';
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function link(href, text) {
  const a = document.createElement('a');
  a.href = href;
  a.textContent = text;
  return a;
}

/** The policy of an HTML page opened as a blob whose response sent none: report.html's (no frame-ancestors). */
const BLOB_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/**
 * An HTML page fetched with the admin token, with its Content-Security-Policy as a <meta> first in its <head>: a
 * blob: URL has no response headers, so the policy the server sent would be lost. frame-ancestors is left out
 * (a <meta> policy cannot carry it; a blob opened in its own window is framed by nobody).
 */
function withCspMeta(html, headerCsp) {
  const policy = (headerCsp || BLOB_PAGE_CSP)
    .split(';')
    .map((d) => d.trim())
    .filter((d) => d && !/^(frame-ancestors|report-uri|report-to|sandbox)\b/i.test(d))
    .join('; ');
  const meta = `<meta http-equiv="Content-Security-Policy" content="${policy.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}">`;
  const head = /<head(\s[^>]*)?>/i.exec(html);
  return head ? `${html.slice(0, head.index + head[0].length)}${meta}${html.slice(head.index + head[0].length)}` : `${meta}${html}`;
}

/** A link to a control-plane route: with an admin token it is fetched with the header and opened as a blob. */
function adminLink(href, text) {
  const a = link(href, text);
  a.addEventListener('click', async (e) => {
    if (!adminToken()) return;
    e.preventDefault();
    const res = await fetch(href, { headers: authHeaders(), cache: 'no-store' });
    const type = res.headers.get('content-type') ?? '';
    const blob = /^text\/html/i.test(type)
      ? new Blob([withCspMeta(await res.text(), res.headers.get('content-security-policy'))], { type: 'text/html;charset=utf-8' })
      : await res.blob();
    window.open(URL.createObjectURL(blob), '_blank', 'noopener');
  });
  return a;
}

/** Drops the sites that left longest ago once more than MAX_KNOWN_SITES are known (sites still there are kept). */
function forgetOldSites() {
  // A tenth of slack: the map is walked once per hundred joins, not on every join.
  if (state.knownSites.size <= MAX_KNOWN_SITES + MAX_KNOWN_SITES / 10) return;
  let excess = state.knownSites.size - MAX_KNOWN_SITES;
  for (const [siteId, site] of state.knownSites) {
    if (excess <= 0) break;
    if (site.left === undefined) continue;
    state.knownSites.delete(siteId);
    excess--;
  }
}

/** Most per-update verdicts kept (the table shows the latest MAX_UPDATE_ROWS). */
const MAX_UPDATE_ROWS = 200;

function pushUpdate(update) {
  state.updates.push(update);
  if (state.updates.length > 2 * MAX_UPDATE_ROWS) state.updates.splice(0, state.updates.length - MAX_UPDATE_ROWS);
}

/**
 * The run's site counts as the coordinator keeps them (its SiteTally counts by the rules above): sent with the
 * snapshot and with every join and departure. The snapshot replays only the peers' latest events, so the counts
 * worked out here from the events would miss the earlier ones.
 */
function adoptSiteCounts(counts) {
  if (counts && Number.isInteger(counts.joined) && Number.isInteger(counts.left)) state.siteCounts = { joined: counts.joined, left: counts.left };
}

function apply(event) {
  switch (event.type) {
    case 'waiting':
      state.status = `waiting for sites (${event.joined}/${event.needed})`;
      break;
    case 'site-joined': {
      const before = state.knownSites.get(event.siteId);
      if (!before) state.siteCounts.joined++;
      else if (before.left !== undefined) state.siteCounts.left--;
      state.knownSites.delete(event.siteId);
      state.knownSites.set(event.siteId, { siteId: event.siteId, runtime: event.runtime, backend: event.backend, numExamples: event.numExamples, lastSeen: event.at });
      forgetOldSites();
      adoptSiteCounts(event.siteCounts);
      break;
    }
    case 'site-left': {
      const site = state.knownSites.get(event.siteId);
      // Leaving after the run ended is how a site finishes, not news.
      if (site && !state.final) {
        if (site.left === undefined) state.siteCounts.left++;
        Object.assign(site, { left: event.reason, lastSeen: event.at });
        // Moved to the end: the map's departed sites are in the order they left, the oldest dropped first.
        state.knownSites.delete(event.siteId);
        state.knownSites.set(event.siteId, site);
      } else if (site) site.lastSeen = event.at;
      adoptSiteCounts(event.siteCounts);
      break;
    }
    case 'pretrained':
      state.pretrained = { accuracy: event.accuracy, loss: event.loss };
      break;
    case 'round-start':
      state.round = event.round;
      state.status = `round ${event.round}: training on ${event.selected.length} site(s)${event.attempt > 1 ? ` (attempt ${event.attempt})` : ''}`;
      break;
    case 'result':
      pushUpdate(event);
      break;
    case 'result-held':
      // Waiting for the round's adaptive norm bound: its verdict ('result') comes when the round closes.
      pushUpdate({ ...event, held: true });
      break;
    case 'round-end':
      state.rounds.set(event.record.round, event.record);
      state.status = `round ${event.record.round} done`;
      break;
    case 'site-report-start':
      state.status = `site report: ${event.sites.length} site(s) evaluating on their own test splits`;
      break;
    case 'data-summary': {
      const t = state.dataSummaries.total;
      const c = event.summary;
      t.sites++;
      t.examples += c.examples;
      t.duplicatesDropped += c.duplicatesDropped;
      t.missingImputed += c.missingImputed;
      t.constantFeatures += c.constantFeatures;
      c.labelCounts.forEach((n, i) => (t.labelCounts[i] = (t.labelCounts[i] ?? 0) + n));
      if (state.dataSummaries.sites.length < MAX_SUMMARY_ROWS) state.dataSummaries.sites.push({ siteId: event.siteId, ...c });
      break;
    }
    case 'round-retry':
      state.status = `round ${event.round} retried: ${event.reason}`;
      break;
    case 'complete':
      for (const r of event.report.rounds) state.rounds.set(r.round, r);
      state.status = event.report.status === 'complete' ? 'complete' : `aborted: ${event.report.aborted ?? ''}`;
      state.final = { status: event.report.status, aborted: event.report.aborted, at: event.at };
      state.siteReport = event.report.siteReport;
      state.finalReport = { privacy: event.report.privacy, final: event.report.final, termsRefusals: event.report.termsRefusals, pretrained: event.report.pretrained, finalRobustness: event.report.finalRobustness };
      // The sites' last seen as the run ended (later live updates do not move it).
      for (const s of state.live.sites) {
        const known = state.knownSites.get(s.siteId);
        if (known) known.lastSeen = s.lastSeen;
      }
      break;
  }
}

/** ε(δ) spent after a round of a DP run (client-level, RDP accountant); '—' without DP, ∞ without noise (JSON null). */
function privacyText(p) {
  if (!p) return '—';
  const eps = typeof p.epsilon === 'number' && Number.isFinite(p.epsilon) ? p.epsilon.toFixed(3) : '∞';
  return `${eps} (${p.delta})`;
}

/**
 * A full-width line chart (SVG scaled to its card). `options.axis`: 'accuracy' (in %, zoomed to the data
 * unless `full`) or 'number' (a loss, from 0); both follow axis-range.js, as report.html does.
 */
function chart(host, series, options = {}) {
  const width = 1100;
  const height = options.height ?? 260;
  const legendW = options.legend === false ? 20 : 170;
  const pad = { left: 56, right: legendW, top: 14, bottom: 28 };
  const el = (name, attrs, text) => {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': options.title ?? '' });
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  const axis = options.axis === 'number' ? niceAxis(all.map(([, y]) => y), { floor: 0 }) : accuracyAxis(all.map(([, y]) => y), options.full);
  if (all.length === 0 || !axis) {
    svg.appendChild(el('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'chart-empty' }, options.empty ?? 'no rounds yet'));
    host.replaceChildren(svg);
    return;
  }
  const tick = (v) => (options.axis === 'number' ? numberTick(v, axis.step) : percentTick(v, axis.step));
  const value = (v) => (options.axis === 'number' ? v.toFixed(4) : `${(100 * v).toFixed(1)}%`);
  const xs = all.map(([x]) => x);
  const x0 = Math.min(...xs);
  const x1 = Math.max(Math.max(...xs), x0 + 1);
  const px = (x) => pad.left + ((x - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const py = (y) => height - pad.bottom - ((Math.min(axis.hi, Math.max(axis.lo, y)) - axis.lo) / (axis.hi - axis.lo)) * (height - pad.top - pad.bottom);
  for (const t of axis.ticks) {
    svg.appendChild(el('line', { x1: pad.left, x2: width - pad.right, y1: py(t), y2: py(t), class: 'chart-grid' }));
    svg.appendChild(el('text', { x: pad.left - 6, y: py(t) + 4, 'text-anchor': 'end', class: 'chart-tick y-tick' }, tick(t)));
  }
  const step = Math.max(1, Math.ceil((x1 - x0) / 20));
  for (let x = Math.ceil(x0); x <= x1; x += step) {
    svg.appendChild(el('text', { x: px(x), y: height - 8, 'text-anchor': 'middle', class: 'chart-tick x-tick' }, String(x)));
  }
  series.forEach((s, i) => {
    const pts = s.points.filter(([, y]) => Number.isFinite(y));
    const g = el('g', { 'data-series': s.name });
    const title = `${s.name}: ${pts.map(([x, y]) => `${x}: ${value(y)}`).join(', ')}`;
    if (pts.length > 1) {
      const line = el('polyline', { points: pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' '), fill: 'none', stroke: s.color, 'stroke-width': 2, class: options.siteLines ? 'chart-site-line' : '' });
      line.appendChild(el('title', {}, title));
      g.appendChild(line);
    }
    for (const [x, y] of pts) {
      const dot = el('circle', { cx: px(x).toFixed(1), cy: py(y).toFixed(1), r: 3.5, fill: s.color });
      dot.appendChild(el('title', {}, `${s.name} · round ${x}: ${value(y)}`));
      g.appendChild(dot);
    }
    svg.appendChild(g);
    if (options.legend !== false) {
      const ly = pad.top + 8 + i * 16;
      const lx = width - pad.right + 14;
      svg.appendChild(el('line', { x1: lx, x2: lx + 16, y1: ly, y2: ly, stroke: s.color, 'stroke-width': 2 }));
      const label = el('text', { x: lx + 22, y: ly + 4, class: 'chart-legend', fill: s.color }, s.name.length > 22 ? `${s.name.slice(0, 21)}…` : s.name);
      label.appendChild(el('title', {}, title));
      svg.appendChild(label);
    }
  });
  host.replaceChildren(svg);
}

/** Each site's training [round, value] per metric from the rounds' accepted updates. */
function siteCurves(rounds) {
  const bySite = new Map();
  for (const r of rounds) {
    for (const a of r.accepted) {
      if (!bySite.has(a.siteId)) bySite.set(a.siteId, { siteId: a.siteId, loss: [], accuracy: [] });
      const c = bySite.get(a.siteId);
      c.loss.push([r.round, a.loss]);
      c.accuracy.push([r.round, a.accuracy]);
    }
  }
  const curves = [...bySite.values()].sort((a, b) => a.siteId.localeCompare(b.siteId, undefined, { numeric: true }));
  if (curves.length <= MAX_SITE_LINES) return { drawn: curves, total: curves.length };
  const last = (c) => c.accuracy.at(-1)?.[1] ?? -1;
  const sorted = [...curves].sort((a, b) => last(a) - last(b) || a.siteId.localeCompare(b.siteId, undefined, { numeric: true }));
  const worst = Math.ceil(MAX_SITE_LINES / 2);
  return { drawn: [...sorted.slice(0, worst), ...sorted.slice(sorted.length - (MAX_SITE_LINES - worst))], total: curves.length };
}

/** "run complete / failed / stopped" from a finished run's status and abort reason. */
function endState(final) {
  if (final.status === 'complete') return 'complete';
  return /stop/i.test(final.aborted ?? '') ? 'stopped' : 'failed';
}

function renderBanner(rounds) {
  const banner = $('run-banner');
  const final = state.final;
  banner.hidden = !final;
  if (!final) return;
  const end = endState(final);
  banner.className = `card ${end}`;
  banner.dataset.state = end;
  const last = rounds.at(-1);
  const report = state.finalReport ?? {};
  const accuracy = report.final?.accuracy ?? last?.global.accuracy;
  const parts = [`Run ${end} at ${clock(final.at)}`, `${rounds.length} round(s)`];
  if (accuracy !== undefined) parts.push(`final accuracy ${pct(accuracy)}${report.pretrained ? ` (pretrained ${pct(report.pretrained.accuracy)})` : ''}`);
  if (last) parts.push(`loss ${last.global.loss.toFixed(4)}`);
  if (report.privacy) parts.push(`DP ε ${privacyText(report.privacy)}`);
  const text = document.createElement('strong');
  text.textContent = parts.join(' · ');
  banner.replaceChildren(text);
  if (final.aborted) {
    const why = document.createElement('div');
    why.className = 'names';
    why.textContent = `reason: ${final.aborted}`;
    banner.append(why);
  }
  if (state.live.runId) {
    const p = document.createElement('div');
    p.append(adminLink(`/api/runs/${encodeURIComponent(state.live.runId)}/report.html`, 'open report.html'));
    banner.append(p);
  }
}

/** The details of one round (a click on its row): who was selected, accepted, rejected (with reasons) and failed. */
function renderRoundDetails(rounds) {
  const panel = $('round-details');
  const r = rounds.find((x) => x.round === state.openRound);
  panel.hidden = !r;
  if (!r) return;
  const h = document.createElement('h3');
  h.textContent = `round ${r.round}: ${r.selected.length} selected, ${r.accepted.length} accepted, ${r.rejected.length} rejected, ${r.failed.length} failed`;
  const names = (label, list) => {
    const p = document.createElement('p');
    p.className = 'names';
    p.textContent = `${label}: ${list.length ? list.join(', ') : '—'}`;
    return p;
  };
  const children = [h, names('selected', r.selected), names('accepted', r.accepted.map((a) => `${a.siteId} (loss ${a.loss.toFixed(3)}, acc. ${pct(a.accuracy)})`))];
  if (r.rejected.length + r.failed.length > 0) {
    const table = document.createElement('table');
    table.className = 'rejections';
    table.dataset.testid = 'rejections';
    const head = document.createElement('tr');
    for (const t of ['site', 'verdict', 'code', 'reason']) {
      const th = document.createElement('th');
      th.textContent = t;
      head.append(th);
    }
    table.append(head);
    for (const x of r.rejected) {
      const tr = document.createElement('tr');
      tr.dataset.site = x.siteId;
      tr.append(cell(x.siteId), cell('rejected'), cell(x.code, 'code'), cell(x.reason, 'reason'));
      table.append(tr);
    }
    for (const x of r.failed) {
      const tr = document.createElement('tr');
      tr.dataset.site = x.siteId;
      tr.append(cell(x.siteId), cell('failed'), cell(''), cell(x.reason, 'reason'));
      table.append(tr);
    }
    children.push(table);
  }
  panel.replaceChildren(...children);
}

/** The robustness panel: worst site per round, the last measured robustness (noise, corruptions, attacks per ε) and ε. */
function renderRobustness(rounds) {
  const worst = rounds.filter((r) => r.federated?.worstSite);
  const robust = [...rounds].reverse().find((r) => r.robustness)?.robustness ?? state.finalReport?.finalRobustness;
  const privacy = state.finalReport?.privacy ?? [...rounds].reverse().find((r) => r.privacy)?.privacy;
  const card = $('robustness-card');
  card.hidden = worst.length === 0 && !robust && !privacy;
  if (card.hidden) return;
  chart($('chart-robustness'), [
    { name: 'global (holdout)', color: '#2c7be5', points: rounds.map((r) => [r.round, r.global.accuracy]) },
    { name: 'worst site', color: '#e67e22', points: worst.map((r) => [r.round, r.federated.worstSite.accuracy]) },
    { name: 'noise (mean)', color: '#7f8c8d', points: rounds.filter((r) => r.robustness?.noise?.length).map((r) => [r.round, r.robustness.noise.reduce((s, n) => s + n.accuracy, 0) / r.robustness.noise.length]) },
    { name: 'corruptions (mean)', color: '#8e44ad', points: rounds.filter((r) => Number.isFinite(r.robustness?.corruptionMean)).map((r) => [r.round, r.robustness.corruptionMean]) },
  ].filter((s) => s.points.length > 0), { axis: 'accuracy', full: state.fullAccuracy, title: 'robustness per round', height: 200 });
  const rows = [];
  const row = (k, v) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.textContent = k;
    tr.append(th, cell(v));
    rows.push(tr);
  };
  const lastWorst = worst.at(-1);
  if (lastWorst) row('worst site (last round)', `${lastWorst.federated.worstSite.siteId}: ${pct(lastWorst.federated.worstSite.accuracy)} (mean ${pct(lastWorst.federated.accuracy)})`);
  if (robust) {
    row('clean', pct(robust.clean?.accuracy));
    if (robust.noise?.length) row('Gaussian noise', robust.noise.map((n) => `σ=${n.sigma}: ${pct(n.accuracy)}`).join(' · '));
    if (robust.corruptions?.length) row('corruptions', robust.corruptions.map((c) => `${c.name}: ${pct(c.accuracy)}`).join(' · '));
    if (robust.fgsm?.length) row('FGSM', robust.fgsm.map((a) => `ε=${a.eps}: ${pct(a.accuracy)}`).join(' · '));
    if (robust.pgd?.length) row('PGD', robust.pgd.map((a) => `ε=${a.eps}: ${pct(a.accuracy)}`).join(' · '));
    if (robust.square?.length) row('Square (black-box)', robust.square.map((a) => `ε=${a.eps}: ${pct(a.accuracy)}`).join(' · '));
    // The share no attack at that ε fools (docs/robustness.md#the-worst-case-per-example-over-the-attacks).
    if (robust.worstCase?.length) row('worst case per example', robust.worstCase.map((a) => `ε=${a.eps}: ${pct(a.accuracy)}`).join(' · '));
  }
  if (privacy) row('DP ε (δ)', `${privacyText(privacy)}${privacy.noise ? ` · ${privacy.noise} noise` : ''}`);
  $('robustness-note').textContent = robust ? `· robustness of the latest evaluated model on ${robust.examples} holdout examples` : '';
  $('robustness').querySelector('tbody').replaceChildren(...rows);
}

/** How many times the view was drawn (body[data-renders]: the browser tests count redraws). */
let renders = 0;
let renderTimer;
let lastRender = -Infinity;

/**
 * Asks for a redraw: at most one every MIN_RENDER_INTERVAL_MS, however many events and live updates arrive
 * (a peer joining and leaving under fresh names sends two of each per name).
 */
function scheduleRender() {
  if (renderTimer !== undefined) return;
  renderTimer = setTimeout(() => {
    renderTimer = undefined;
    render();
  }, Math.max(0, lastRender + MIN_RENDER_INTERVAL_MS - performance.now()));
}

function render() {
  if (renderTimer !== undefined) {
    clearTimeout(renderTimer);
    renderTimer = undefined;
  }
  lastRender = performance.now();
  document.body.dataset.renders = String(++renders);
  const live = state.live;
  const final = state.final;
  const rounds = [...state.rounds.values()].sort((a, b) => a.round - b.round);
  const last = rounds[rounds.length - 1];
  $('run-id').textContent = live.runId || '—';
  // A finished run shows its final status, whatever a late live update says.
  const phase = final ? endState(final) : live.phase;
  $('phase').textContent = final
    ? `${endState(final)}${final.aborted ? `: ${final.aborted}` : ''} · ${clock(final.at)}`
    : state.status && live.phase !== 'idle' && state.status !== live.phase ? `${live.phase} · ${state.status}` : live.phase;
  $('round').textContent = final ? (last?.round ?? '—') : (live.round ?? state.round ?? '—');
  $('accuracy').textContent = last ? pct(last.global.accuracy) : state.pretrained ? `${pct(state.pretrained.accuracy)} (pretrained)` : '—';
  document.body.dataset.phase = phase;
  document.body.dataset.rounds = String(rounds.length);
  document.body.dataset.final = String(Boolean(final));
  renderBanner(rounds);

  const links = $('links');
  links.replaceChildren();
  if (live.runId) {
    const id = encodeURIComponent(live.runId);
    links.append(
      adminLink(`/api/runs/${id}/report.html`, 'report.html'),
      adminLink(`/api/runs/${id}`, 'report.json'),
      adminLink(`/api/runs/${id}/model/model.json`, 'model.json'),
      adminLink(`/api/runs/${id}/model/weights.bin`, 'weights.bin'),
    );
  }
  links.append(link(`/site/?server=${encodeURIComponent(location.origin)}`, 'join as a browser site'), adminLink('/api/live', 'live status (JSON)'));

  // After the run: every site is shown as finished (or as having left before the end), with the time it
  // was last seen; nothing is "connected" or "now" any more.
  // Listed: the sites there (connected, or after the run those that stayed to the end), then the latest
  // MAX_DEPARTED_ROWS to leave, newest first; the other departed sites are one row that counts them.
  const connected = final ? new Map() : new Map(live.sites.map((s) => [s.siteId, s]));
  const departed = [];
  for (const s of state.knownSites.values()) if (s.left !== undefined && !connected.has(s.siteId)) departed.push(s);
  const present = final ? [...state.knownSites.values()].filter((s) => s.left === undefined) : [...connected.values()];
  const sites = [...present, ...departed.slice(-MAX_DEPARTED_ROWS).reverse()];
  const notListed = state.siteCounts.left - Math.min(departed.length, MAX_DEPARTED_ROWS);
  const { joined, left: leftCount } = state.siteCounts;
  const lastRound = last ? ` · last round: ${last.selected.length} selected, ${last.accepted.length} accepted, ${last.rejected.length} rejected` : '';
  $('site-counts').textContent = final
    ? `· ${joined} joined, ${leftCount} left before the end · run ${endState(final)}${lastRound}`
    : `· ${connected.size} connected, ${joined} joined, ${leftCount} left${lastRound}`;
  const more = [];
  if (notListed > 0) {
    const tr = document.createElement('tr');
    tr.className = 'more';
    tr.dataset.more = String(notListed);
    const td = cell(`and ${notListed} more site(s) that left earlier (not listed)`);
    td.colSpan = 6;
    tr.append(td);
    more.push(tr);
  }
  $('sites').querySelector('tbody').replaceChildren(
    ...sites.map((s) => {
      const known = state.knownSites.get(s.siteId);
      const tr = document.createElement('tr');
      tr.dataset.site = s.siteId;
      tr.dataset.connected = String(connected.has(s.siteId));
      tr.dataset.finished = String(Boolean(final));
      const status = connected.has(s.siteId) ? 'connected' : known?.left !== undefined ? `left (${known.left})` : final ? 'finished' : 'disconnected';
      const seen = final ? clock(known?.lastSeen ?? s.lastSeen) : ago(s.lastSeen);
      tr.append(cell(s.siteId), cell(s.runtime), cell(s.backend), cell(known ? String(known.numExamples) : ''), cell(status, 'status'), cell(seen, 'last-seen'));
      return tr;
    }),
    ...more,
  );

  $('rounds').querySelector('tbody').replaceChildren(
    ...rounds.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.round = String(r.round);
      if (r.round === state.openRound) tr.className = 'open';
      tr.addEventListener('click', () => {
        state.openRound = state.openRound === r.round ? undefined : r.round;
        render();
      });
      tr.append(
        cell(String(r.round)),
        cell(pct(r.global.accuracy)),
        cell(r.global.loss.toFixed(4)),
        cell(String(r.selected.length), 'selected'),
        cell(String(r.accepted.length), 'accepted'),
        cell(String(r.rejected.length), r.rejected.length ? 'rejected count-rejected' : 'rejected'),
        cell(String(r.failed.length), 'failed'),
        cell(r.federated ? pct(r.federated.accuracy) : '—'),
        cell(r.federated?.worstSite ? `${r.federated.worstSite.siteId} ${pct(r.federated.worstSite.accuracy)}` : '—'),
        cell(privacyText(r.privacy)),
        cell((r.durationMs / 1000).toFixed(1)),
      );
      return tr;
    }),
  );
  renderRoundDetails(rounds);

  $('updates').querySelector('tbody').replaceChildren(
    ...state.updates
      .slice(-MAX_UPDATE_ROWS)
      .reverse()
      .map((u) => {
        const tr = document.createElement('tr');
        tr.className = u.held ? 'held' : u.accepted ? 'accepted' : 'rejected';
        tr.dataset.site = u.siteId;
        tr.dataset.round = String(u.round);
        tr.append(cell(new Date(u.at).toLocaleTimeString()), cell(String(u.round)), cell(u.siteId), cell(u.held ? 'held until the round closes' : u.accepted ? 'accepted' : `rejected: ${u.code}`, 'verdict'), cell(u.reason ?? ''));
        return tr;
      }),
  );

  renderSiteReport(state.siteReport);

  const start = state.pretrained ? [[0, state.pretrained.accuracy]] : [];
  chart($('chart-accuracy'), [
    { name: 'holdout', color: '#2c7be5', points: [...start, ...rounds.map((r) => [r.round, r.global.accuracy])] },
    { name: 'federated', color: '#8e44ad', points: rounds.filter((r) => r.federated).map((r) => [r.round, r.federated.accuracy]) },
  ].filter((s) => s.points.length > 0), { axis: 'accuracy', full: state.fullAccuracy, title: 'global accuracy per round' });
  chart($('chart-loss'), [
    { name: 'holdout loss', color: '#c0392b', points: [...(state.pretrained ? [[0, state.pretrained.loss]] : []), ...rounds.map((r) => [r.round, r.global.loss])] },
  ], { axis: 'number', title: 'global loss per round', height: 200 });
  const { drawn, total } = siteCurves(rounds);
  $('site-chart-note').textContent = total > drawn.length ? `(${drawn.length} of ${total} sites: the ${Math.ceil(MAX_SITE_LINES / 2)} lowest and ${Math.floor(MAX_SITE_LINES / 2)} highest last accuracy; hover a line for its values)` : '(one line per site, its own training metrics; hover a line for its values)';
  const colored = drawn.map((c, i) => ({ ...c, color: SITE_COLORS[i % SITE_COLORS.length] }));
  chart($('chart-site-loss'), colored.map((c) => ({ name: c.siteId, color: c.color, points: c.loss })), { axis: 'number', title: 'per-site training loss', height: 220, siteLines: true, empty: 'no accepted updates yet' });
  chart($('chart-site-accuracy'), colored.map((c) => ({ name: c.siteId, color: c.color, points: c.accuracy })), { axis: 'accuracy', full: state.fullAccuracy, title: 'per-site training accuracy', height: 220, siteLines: true, empty: 'no accepted updates yet' });
  renderRobustness(rounds);
  renderDataSummaries();
}

/** The sites' shared data summaries: totals, then one row per site (counts only; names set as text). */
function renderDataSummaries() {
  const { sites, total } = state.dataSummaries;
  const card = $('data-summary-card');
  card.hidden = total.sites === 0;
  if (card.hidden) return;
  const labels = (counts) => counts.map((n, i) => `${i}:${n}`).join(' ');
  $('data-summary-note').textContent = `(${total.sites} site(s): ${total.examples} examples, ${total.duplicatesDropped} duplicates dropped, ${total.missingImputed} missing values imputed)`;
  const row = (name, s) => {
    const tr = document.createElement('tr');
    for (const v of [name, s.examples, s.duplicatesDropped, s.missingImputed, s.constantFeatures, labels(s.labelCounts)]) tr.appendChild(cell(String(v)));
    return tr;
  };
  const totalRow = row(`all ${total.sites}`, total);
  totalRow.className = 'total';
  $('data-summary').querySelector('tbody').replaceChildren(totalRow, ...sites.map((s) => row(s.siteId, s)));
}

const ARMS = [['pretrained', 'pretrained'], ['localOnly', 'local-only'], ['global', 'global'], ['personalized', 'personalised']];

/**
 * PGD accuracy of a model on a site at `eps` (the report's robustEps: the task's headline ε), null when not measured
 * there; without it, at its largest ε (null when not measured) — as the report's worst site reads it (robustAccuracyOf in shared).
 */
function robustOf(arm, eps) {
  const rows = arm?.robust?.pgd ?? [];
  if (eps !== undefined) return rows.find((r) => Math.abs(r.eps - eps) <= 1e-9)?.accuracy ?? null;
  if (!rows.length) return null;
  return rows.reduce((a, b) => (b.eps > a.eps ? b : a)).accuracy;
}

/** The per-site table: every site × model (clean, and PGD when measured), then the worst site per model. */
function renderSiteReport(report) {
  const card = $('site-report-card');
  card.hidden = !report;
  if (!report) return;
  const arms = ARMS.filter(([key]) => report.sites.some((s) => s.arms[key]));
  const text = (arm) => (arm ? (report.robustness ? `${pct(arm.accuracy)} / PGD ${pct(robustOf(arm, report.robustEps))}` : pct(arm.accuracy)) : '—');
  const pgdAt = report.robustEps === undefined ? 'the largest ε' : `ε=${report.robustEps}`;
  $('site-report-note').textContent = `· personalisation ${report.mode}${report.robustness ? ` · clean / PGD at ${pgdAt}` : ' · clean accuracy'}${report.missing.length ? ` · missing: ${report.missing.map((m) => m.siteId).join(', ')}` : ''}`;
  const head = document.createElement('tr');
  for (const label of ['site', ...arms.map(([, l]) => l)]) {
    const th = document.createElement('th');
    th.textContent = label;
    head.append(th);
  }
  $('site-report').querySelector('thead').replaceChildren(head);
  const rows = report.sites.map((s) => {
    const tr = document.createElement('tr');
    tr.dataset.site = s.siteId;
    tr.append(cell(s.siteId), ...arms.map(([key]) => cell(text(s.arms[key]))));
    return tr;
  });
  const worst = document.createElement('tr');
  worst.className = 'worst';
  worst.append(
    cell('worst site'),
    ...arms.map(([key]) => {
      const w = report.worst[key];
      const left = w?.robustMissing?.length ? ` (PGD leaves out ${w.robustMissing.slice(0, 20).join(', ')}${w.robustMissing.length > 20 ? ` and ${w.robustMissing.length - 20} more` : ''}: no PGD at ε=${report.robustEps})` : '';
      return cell(w ? `${w.clean.siteId} ${pct(w.clean.accuracy)}${w.robust ? ` · PGD ${w.robust.siteId} ${pct(w.robust.accuracy)}` : ''}${left}` : '—');
    }),
  );
  $('site-report').querySelector('tbody').replaceChildren(...rows, worst);
}

async function loadRuns() {
  try {
    const res = await fetch('/api/runs');
    const { runs } = await res.json();
    $('runs').replaceChildren(
      ...runs.map((r) => {
        const li = document.createElement('li');
        const id = encodeURIComponent(r.runId);
        li.dataset.run = r.runId;
        // A run with rounds opens as its report.html; one without (just created) as its JSON.
        li.append(r.rounds > 0 ? adminLink(`/api/runs/${id}/report.html`, r.runId) : adminLink(`/api/runs/${id}`, r.runId), ` — ${r.status}, ${r.rounds} round(s)${r.accuracy !== undefined ? `, accuracy ${pct(r.accuracy)}` : ''}`);
        return li;
      }),
    );
  } catch {
    // The list is a convenience; the live view does not depend on it.
  }
}

/** Reads one server-sent event stream with fetch (so it can carry the admin token); resolves when it ends. */
async function readEvents(onEvent) {
  const res = await fetch('/api/events', { headers: { accept: 'text/event-stream', ...authHeaders() }, cache: 'no-store' });
  if (res.status === 401) {
    const body = await res.json().catch(() => ({}));
    const error = new Error(body?.error?.message ?? 'admin token required');
    error.unauthorized = true;
    throw error;
  }
  if (!res.ok || !res.body) throw new Error(`the event stream answered HTTP ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  $('stream').textContent = 'connected';
  document.body.dataset.connected = 'true';
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data = [];
      for (const line of frame.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) onEvent(name, data.join('\n'));
    }
  }
}

function onStreamEvent(name, data) {
  if (name === 'snapshot') {
    const snapshot = JSON.parse(data);
    state.rounds.clear();
    state.updates = [];
    state.knownSites.clear();
    state.siteCounts = { joined: 0, left: 0 };
    state.final = undefined;
    state.siteReport = undefined;
    state.finalReport = undefined;
    state.live = snapshot.live;
    for (const event of snapshot.events) apply(event);
    adoptSiteCounts(snapshot.siteCounts);
    scheduleRender();
  } else if (name === 'engine') {
    const event = JSON.parse(data);
    apply(event);
    if (event.type === 'round-end' || event.type === 'complete') void loadRuns();
    // The run's own events (a few per round) are drawn as they come; the peers' (joins, leaves, results: as many as
    // peers care to cause) are coalesced.
    if (RUN_EVENTS.has(event.type)) render();
    else scheduleRender();
  } else if (name === 'live') {
    state.live = JSON.parse(data);
    scheduleRender();
  }
}

function showAuth(message) {
  $('auth').hidden = false;
  $('auth-message').textContent = message;
  $('auth-forget').hidden = true;
  $('stream').textContent = 'admin token needed';
  document.body.dataset.connected = 'false';
  document.body.dataset.auth = 'needed';
  $('auth-token').focus();
}

let connecting = false;

async function connect() {
  if (connecting) return;
  connecting = true;
  try {
    for (;;) {
      try {
        await readEvents(onStreamEvent);
      } catch (err) {
        if (err && err.unauthorized) {
          showAuth(adminToken() ? `the stored admin token was refused: ${err.message}` : err.message);
          return;
        }
      }
      document.body.dataset.connected = 'false';
      // A finished run's view stays as it is; the stream is retried quietly (a new run may start).
      $('stream').textContent = state.final ? 'run over' : 'reconnecting…';
      await new Promise((r) => setTimeout(r, 2000));
    }
  } finally {
    connecting = false;
  }
}

$('auth').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = $('auth-token').value.trim();
  $('auth-token').value = '';
  if (!token) return;
  memoryToken = token;
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // No sessionStorage (a locked-down browser): the token lives only until this page closes.
  }
  $('auth').hidden = true;
  $('auth-forget').hidden = false;
  document.body.dataset.auth = 'token';
  $('stream').textContent = 'connecting…';
  void connect();
});

$('auth-forget-button').addEventListener('click', () => {
  memoryToken = undefined;
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // nothing stored
  }
  location.reload();
});

$('accuracy-full').addEventListener('change', (e) => {
  state.fullAccuracy = e.target.checked;
  render();
});

if (adminToken()) {
  $('auth-forget').hidden = false;
  document.body.dataset.auth = 'token';
}

render();
void loadRuns();
connect();
