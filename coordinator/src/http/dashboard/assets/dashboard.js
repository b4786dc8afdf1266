// The coordinator's live dashboard. Plain JavaScript, no build step: it reads server-sent events from
// /api/events (a snapshot on connect, then engine events and live status) and redraws.
//
// The stream is read with fetch() rather than EventSource, which cannot send headers: when the control
// plane needs an admin token, the dashboard asks for it once, keeps it in this tab's sessionStorage and
// sends it as `Authorization: Bearer` — never in a URL (URLs end up in logs and history).

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';

const state = {
  live: { runId: '', phase: 'idle', sites: [] },
  /** RoundRecord per round (from round-end events). */
  rounds: new Map(),
  /** Per-update verdicts (from result events), newest last. */
  updates: [],
  /** Every site that joined, with how it left (from site-joined / site-left events). */
  knownSites: new Map(),
  pretrained: undefined,
  status: undefined,
  round: undefined,
  /** Set when the run completed or aborted: { status, aborted, at }. The view is then final: nothing ticks. */
  final: undefined,
  /** The per-site report after the final round (report.siteReport), once the run completed. */
  siteReport: undefined,
};

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

/** A link to a control-plane route: with an admin token it is fetched with the header and opened as a blob. */
function adminLink(href, text) {
  const a = link(href, text);
  a.addEventListener('click', async (e) => {
    if (!adminToken()) return;
    e.preventDefault();
    const res = await fetch(href, { headers: authHeaders(), cache: 'no-store' });
    const blob = await res.blob();
    window.open(URL.createObjectURL(blob), '_blank', 'noopener');
  });
  return a;
}

function apply(event) {
  switch (event.type) {
    case 'waiting':
      state.status = `waiting for sites (${event.joined}/${event.needed})`;
      break;
    case 'site-joined':
      state.knownSites.set(event.siteId, { siteId: event.siteId, runtime: event.runtime, backend: event.backend, numExamples: event.numExamples, lastSeen: event.at });
      break;
    case 'site-left': {
      const site = state.knownSites.get(event.siteId);
      // Leaving after the run ended is how a site finishes, not news.
      if (site && !state.final) Object.assign(site, { left: event.reason, lastSeen: event.at });
      else if (site) site.lastSeen = event.at;
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
      state.updates.push(event);
      break;
    case 'result-held':
      // Waiting for the round's adaptive norm bound: its verdict ('result') comes when the round closes.
      state.updates.push({ ...event, held: true });
      break;
    case 'round-end':
      state.rounds.set(event.record.round, event.record);
      state.status = `round ${event.record.round} done`;
      break;
    case 'site-report-start':
      state.status = `site report: ${event.sites.length} site(s) evaluating on their own test splits`;
      break;
    case 'round-retry':
      state.status = `round ${event.round} retried: ${event.reason}`;
      break;
    case 'complete':
      for (const r of event.report.rounds) state.rounds.set(r.round, r);
      state.status = event.report.status === 'complete' ? 'complete' : `aborted: ${event.report.aborted ?? ''}`;
      state.final = { status: event.report.status, aborted: event.report.aborted, at: event.at };
      state.siteReport = event.report.siteReport;
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

function chart(host, series, options = {}) {
  const width = 360;
  const height = 170;
  const pad = { left: 40, right: 10, top: 18, bottom: 24 };
  const el = (name, attrs, text) => {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img' });
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  if (all.length === 0) {
    svg.appendChild(el('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'no rounds yet'));
    host.replaceChildren(svg);
    return;
  }
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const x0 = Math.min(...xs);
  const x1 = Math.max(Math.max(...xs), x0 + 1);
  let [y0, y1] = options.yRange ?? [Math.min(...ys), Math.max(...ys)];
  if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const px = (x) => pad.left + ((x - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const py = (y) => height - pad.bottom - ((y - y0) / (y1 - y0)) * (height - pad.top - pad.bottom);
  const fmt = (v) => (Math.abs(v) >= 10 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toFixed(2));
  for (const t of [y0, (y0 + y1) / 2, y1]) {
    svg.appendChild(el('line', { x1: pad.left, x2: width - pad.right, y1: py(t), y2: py(t), class: 'chart-grid' }));
    svg.appendChild(el('text', { x: pad.left - 4, y: py(t) + 4, 'text-anchor': 'end', class: 'chart-tick' }, fmt(t)));
  }
  const step = Math.max(1, Math.ceil((x1 - x0) / 10));
  for (let x = Math.ceil(x0); x <= x1; x += step) {
    svg.appendChild(el('text', { x: px(x), y: height - 6, 'text-anchor': 'middle', class: 'chart-tick' }, String(x)));
  }
  let legendX = pad.left + 4;
  series.forEach((s) => {
    const pts = s.points.filter(([, y]) => Number.isFinite(y));
    if (pts.length > 1) svg.appendChild(el('polyline', { points: pts.map(([x, y]) => `${px(x)},${py(y)}`).join(' '), fill: 'none', stroke: s.color, 'stroke-width': 2 }));
    for (const [x, y] of pts) svg.appendChild(el('circle', { cx: px(x), cy: py(y), r: 3, fill: s.color }));
    svg.appendChild(el('text', { x: legendX, y: 12, fill: s.color, class: 'chart-legend' }, s.name));
    legendX += s.name.length * 6.5 + 16;
  });
  host.replaceChildren(svg);
}

function render() {
  const live = state.live;
  const final = state.final;
  const rounds = [...state.rounds.values()].sort((a, b) => a.round - b.round);
  const last = rounds[rounds.length - 1];
  $('run-id').textContent = live.runId || '—';
  // A finished run shows its final status, whatever a late live update says.
  const phase = final ? final.status : live.phase;
  $('phase').textContent = final
    ? final.status === 'complete' ? `complete · ${clock(final.at)}` : `aborted${final.aborted ? `: ${final.aborted}` : ''} · ${clock(final.at)}`
    : state.status && live.phase !== 'idle' && state.status !== live.phase ? `${live.phase} · ${state.status}` : live.phase;
  $('round').textContent = final ? (last?.round ?? '—') : (live.round ?? state.round ?? '—');
  $('accuracy').textContent = last ? pct(last.global.accuracy) : state.pretrained ? `${pct(state.pretrained.accuracy)} (pretrained)` : '—';
  document.body.dataset.phase = phase;
  document.body.dataset.rounds = String(rounds.length);
  document.body.dataset.final = String(Boolean(final));

  const links = $('links');
  links.replaceChildren();
  if (live.runId) {
    const id = encodeURIComponent(live.runId);
    links.append(
      adminLink(`/api/runs/${id}`, 'report.json'),
      link(`/api/runs/${id}/model/model.json`, 'model.json'),
      link(`/api/runs/${id}/model/weights.bin`, 'weights.bin'),
    );
  }
  links.append(link(`/site/?server=${encodeURIComponent(location.origin)}`, 'join as a browser site'), adminLink('/api/live', 'live status (JSON)'));

  // After the run: every site is shown as finished (or as having left before the end), with the time it
  // was last seen; nothing is "connected" or "now" any more.
  const connected = final ? new Map() : new Map(live.sites.map((s) => [s.siteId, s]));
  const sites = final
    ? [...state.knownSites.values()]
    : [...connected.values(), ...[...state.knownSites.values()].filter((s) => !connected.has(s.siteId) && s.left !== undefined)];
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
  );

  $('rounds').querySelector('tbody').replaceChildren(
    ...rounds.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.round = String(r.round);
      const model = document.createElement('td');
      model.textContent = r.modelDir;
      tr.append(
        cell(String(r.round)),
        cell(pct(r.global.accuracy)),
        cell(r.global.loss.toFixed(4)),
        cell(r.accepted.map((a) => a.siteId).join(', ') || '—'),
        cell(r.rejected.map((x) => `${x.siteId} (${x.code})`).join(', ') || '—'),
        cell(r.failed.map((x) => x.siteId).join(', ') || '—'),
        cell(r.federated ? pct(r.federated.accuracy) : '—'),
        cell(privacyText(r.privacy)),
        cell((r.durationMs / 1000).toFixed(1)),
        model,
      );
      return tr;
    }),
  );

  $('updates').querySelector('tbody').replaceChildren(
    ...state.updates
      .slice(-200)
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
  ], { yRange: [0, 1] });
  chart($('chart-loss'), [
    { name: 'holdout loss', color: '#c0392b', points: [...(state.pretrained ? [[0, state.pretrained.loss]] : []), ...rounds.map((r) => [r.round, r.global.loss])] },
  ]);
  chart($('chart-robustness'), [
    { name: 'worst site acc.', color: '#e67e22', points: rounds.filter((r) => r.federated?.worstSite).map((r) => [r.round, r.federated.worstSite.accuracy]) },
    { name: 'rejected (share)', color: '#b3261e', points: rounds.map((r) => [r.round, r.rejected.length / Math.max(1, r.selected.length)]) },
    { name: 'ECE raw', color: '#7f8c8d', points: rounds.filter((r) => r.robustness?.calibration).map((r) => [r.round, r.robustness.calibration.eceBefore]) },
    { name: 'ECE calibrated', color: '#27ae60', points: rounds.filter((r) => r.robustness?.calibration).map((r) => [r.round, r.robustness.calibration.eceAfter]) },
  ], { yRange: [0, 1] });
}

const ARMS = [['pretrained', 'pretrained'], ['localOnly', 'local-only'], ['global', 'global'], ['personalized', 'personalised']];

/** PGD accuracy at the largest ε of a model on a site (null when not measured). */
function robustOf(arm) {
  const rows = arm?.robust?.pgd ?? [];
  return rows.length ? rows.reduce((a, b) => (b.eps > a.eps ? b : a)).accuracy : null;
}

/** The per-site table: every site × model (clean, and PGD when measured), then the worst site per model. */
function renderSiteReport(report) {
  const card = $('site-report-card');
  card.hidden = !report;
  if (!report) return;
  const arms = ARMS.filter(([key]) => report.sites.some((s) => s.arms[key]));
  const text = (arm) => (arm ? (report.robustness ? `${pct(arm.accuracy)} / PGD ${pct(robustOf(arm))}` : pct(arm.accuracy)) : '—');
  $('site-report-note').textContent = `· personalisation ${report.mode}${report.robustness ? ' · clean / PGD at the largest ε' : ' · clean accuracy'}${report.missing.length ? ` · missing: ${report.missing.map((m) => m.siteId).join(', ')}` : ''}`;
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
      return cell(w ? `${w.clean.siteId} ${pct(w.clean.accuracy)}${w.robust ? ` · PGD ${w.robust.siteId} ${pct(w.robust.accuracy)}` : ''}` : '—');
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
        li.append(link(`/api/runs/${encodeURIComponent(r.runId)}`, r.runId), ` — ${r.status}, ${r.rounds} round(s)${r.accuracy !== undefined ? `, accuracy ${pct(r.accuracy)}` : ''}`);
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
    state.final = undefined;
    state.siteReport = undefined;
    state.live = snapshot.live;
    for (const event of snapshot.events) apply(event);
    render();
  } else if (name === 'engine') {
    const event = JSON.parse(data);
    apply(event);
    if (event.type === 'round-end' || event.type === 'complete') void loadRuns();
    render();
  } else if (name === 'live') {
    state.live = JSON.parse(data);
    render();
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

if (adminToken()) {
  $('auth-forget').hidden = false;
  document.body.dataset.auth = 'token';
}

render();
void loadRuns();
connect();
