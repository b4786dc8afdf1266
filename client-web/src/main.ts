import { classCounts, concatDatasets, parseJoinLinkServer, siteClassesOf, toFedtuneError, type JoinLinkServer, type SiteEvent, type Splits } from '@fedtune/shared';
import { describeBrowserBackend, selectBrowserBackend, type BrowserBackendSelection } from './backend/select-browser-backend.ts';
import { loadCsvFile } from './data/load-csv-file.ts';
import { loadImageFolder } from './data/load-image-folder.ts';
import { loadTextCsv, loadTextFolder } from './data/load-text-files.ts';
import { checkBrowserSiteData, prepareBrowserSiteData, type BrowserDataChoices, type BrowserSiteData, type PreparedBrowserSiteData } from './data/browser-site-data.ts';
import { summarizeData, type DataSummary } from './data/summarize.ts';
import { browserSitePolicy, joinLinkWithoutToken, parseJoinLink } from './join-link.ts';
import { joinServerChoice } from './join-server-choice.ts';
import { startBrowserSite, type BrowserSite } from './site-session.ts';
import { LocalStoragePrivacyLedger } from './privacy/local-storage-privacy-ledger.ts';
import { renderLineChart } from './ui/line-chart.ts';

// The page's controller: fields, data loading, and the SiteEvents of the shared client drawn as a table,
// charts and a log. `document.body.dataset.phase` mirrors the state (tests wait on it).

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  server: $<HTMLInputElement>('server'),
  serverConfirm: $('server-confirm'),
  serverConfirmOrigin: $('server-confirm-origin'),
  serverConfirmOwn: $('server-confirm-own'),
  serverConfirmUse: $<HTMLButtonElement>('server-confirm-use'),
  serverConfirmStay: $<HTMLButtonElement>('server-confirm-stay'),
  serverError: $('server-error'),
  site: $<HTMLInputElement>('site'),
  token: $<HTMLInputElement>('token'),
  backend: $('backend'),
  csv: $<HTMLInputElement>('csv-file'),
  folder: $<HTMLInputElement>('image-folder'),
  textFolder: $<HTMLInputElement>('text-folder'),
  labelColumn: $<HTMLInputElement>('label-column'),
  featureColumns: $<HTMLInputElement>('feature-columns'),
  categorical: $<HTMLInputElement>('categorical'),
  textColumn: $<HTMLInputElement>('text-column'),
  dataCheck: $('data-check'),
  dataCheckLines: $('data-check-lines'),
  dropDuplicates: $<HTMLInputElement>('drop-duplicates'),
  impute: $<HTMLInputElement>('impute-missing'),
  classWeights: $<HTMLInputElement>('class-weights'),
  dataPrepared: $('data-prepared'),
  numClasses: $<HTMLInputElement>('num-classes'),
  imageSize: $<HTMLInputElement>('image-size'),
  summary: $('summary'),
  dataError: $('data-error'),
  join: $<HTMLButtonElement>('join'),
  leave: $<HTMLButtonElement>('leave'),
  status: $('status'),
  progress: $<HTMLProgressElement>('progress'),
  progressText: $('progress-text'),
  ledger: $('ledger'),
  rounds: $('rounds').querySelector('tbody')!,
  chartLoss: $('chart-loss'),
  chartAccuracy: $('chart-accuracy'),
  log: $('log'),
};

type Phase = 'starting' | 'idle' | 'loaded' | 'joining' | 'joined' | 'training' | 'complete' | 'closed' | 'error';

interface RoundRow {
  round: number;
  loss?: number;
  accuracy?: number;
  examples?: number;
  samplesPerS?: number;
  bytesUp?: number;
  globalAccuracy?: number;
  globalLoss?: number;
}

const state: {
  backend?: BrowserBackendSelection;
  data?: BrowserSiteData;
  /** The data as the site would join with it now (the checkboxes applied); absent when they cannot apply. */
  prepared?: PreparedBrowserSiteData;
  labels?: string[];
  source?: string;
  /** Which input the data came from (the CSV fields re-read the CSV only when it is the one in use). */
  picked?: 'csv' | 'images' | 'texts';
  site?: BrowserSite;
  /** A join link's server on another origin, not yet confirmed or declined: the page cannot join meanwhile. */
  askingServer?: JoinLinkServer;
  rounds: Map<number, RoundRow>;
  epochs: number;
} = { rounds: new Map(), epochs: 1 };

function setPhase(phase: Phase, status?: string): void {
  document.body.dataset.phase = phase;
  if (status) ui.status.textContent = status;
  ui.join.disabled = state.askingServer !== undefined || !(state.prepared && state.backend && (phase === 'loaded' || phase === 'closed'));
  ui.leave.disabled = !(phase === 'joining' || phase === 'joined' || phase === 'training');
}

function log(line: string): void {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${line}`;
  ui.log.prepend(li);
}

function pct(v?: number): string {
  return v === undefined || !Number.isFinite(v) ? '' : `${(100 * v).toFixed(1)}%`;
}

function bytes(n?: number): string {
  return n === undefined ? '' : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

function renderRounds(): void {
  const rows = [...state.rounds.values()].sort((a, b) => a.round - b.round);
  ui.rounds.replaceChildren(
    ...rows.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.round = String(r.round);
      const cells = [String(r.round), r.loss?.toFixed(4) ?? '', pct(r.accuracy), r.examples?.toString() ?? '', r.samplesPerS?.toFixed(0) ?? '', bytes(r.bytesUp), pct(r.globalAccuracy)];
      for (const c of cells) tr.appendChild(Object.assign(document.createElement('td'), { textContent: c }));
      return tr;
    }),
  );
  const pts = (f: (r: RoundRow) => number | undefined) => rows.filter((r) => f(r) !== undefined).map((r) => [r.round, f(r)!] as [number, number]);
  renderLineChart(ui.chartLoss, [
    { name: 'local loss', color: '#c0392b', points: pts((r) => r.loss) },
    { name: 'global loss (your test split)', color: '#2c7be5', points: pts((r) => r.globalLoss) },
  ]);
  renderLineChart(ui.chartAccuracy, [
    { name: 'local accuracy', color: '#c0392b', points: pts((r) => r.accuracy) },
    { name: 'global (your test split)', color: '#2c7be5', points: pts((r) => r.globalAccuracy) },
  ], { yRange: [0, 1] });
}

function row(round: number): RoundRow {
  let r = state.rounds.get(round);
  if (!r) state.rounds.set(round, (r = { round }));
  return r;
}

function renderSummary(summary: DataSummary, splits: Splits, text: boolean): void {
  const table = document.createElement('table');
  table.innerHTML = '<thead><tr><th>class</th><th>examples</th></tr></thead>';
  const body = document.createElement('tbody');
  for (const c of summary.classes) {
    const tr = document.createElement('tr');
    tr.append(Object.assign(document.createElement('td'), { textContent: c.label }), Object.assign(document.createElement('td'), { textContent: String(c.count) }));
    body.appendChild(tr);
  }
  table.appendChild(body);
  const head = document.createElement('p');
  head.dataset.testid = 'summary-line';
  head.textContent =
    `${summary.source}: ${summary.examples} ${text ? 'texts (tokenized with the vocabulary the run\'s model brings)' : `examples, ${summary.features} features`}, ${summary.numClasses} classes — ` +
    `split ${splits.train.y.length} train / ${splits.validation.y.length} validation / ${splits.test.y.length} test. Nothing has been sent.`;
  ui.summary.replaceChildren(head, table);
  ui.summary.hidden = false;
}

function siteId(): string {
  return ui.site.value.trim();
}

function showDataError(err: unknown): void {
  state.data = undefined;
  state.prepared = undefined;
  ui.summary.hidden = true;
  ui.dataCheck.hidden = true;
  ui.dataError.textContent = toFedtuneError(err).message;
  ui.dataError.hidden = false;
  setPhase('idle', 'could not read the data');
}

function choices(): BrowserDataChoices {
  return { dropDuplicates: ui.dropDuplicates.checked, impute: ui.impute.checked, classWeights: ui.classWeights.checked };
}

/** The shared data check of what was loaded, one line per finding (counts and indices, never a value). */
function renderDataCheck(data: BrowserSiteData): void {
  const check = checkBrowserSiteData(data);
  const r = check.report;
  const missing = check.kind === 'text' ? check.report.empty.count : check.report.missing.count;
  Object.assign(ui.dataCheck.dataset, {
    examples: String(r.examples),
    duplicates: String(r.duplicates.count),
    conflicting: String(r.conflictingDuplicates.count),
    missing: String(missing),
    labels: JSON.stringify(r.labels.counts),
    imbalance: r.labels.imbalanceRatio.toFixed(2),
  });
  ui.dataCheckLines.replaceChildren(
    ...check.lines.map((line, i) => {
      const li = document.createElement('li');
      li.textContent = line.trim();
      if ((i > 0 && /: [1-9]/.test(line)) || line.startsWith('warning:')) li.className = 'finding';
      return li;
    }),
  );
  // Imputing and class weights apply to numeric features: not offered for texts (as in `fedtune client`).
  for (const box of [ui.impute, ui.classWeights]) {
    box.disabled = data.kind === 'text';
    if (box.disabled) box.checked = false;
  }
  ui.dataCheck.hidden = false;
}

/** Applies the checkboxes: what the site would train on now, or the one line saying why it cannot join yet. */
function prepare(): void {
  if (!state.data) return;
  try {
    const prepared = prepareBrowserSiteData(state.data, choices(), siteId() || 'site');
    state.prepared = prepared;
    const s = prepared.splits;
    const text = state.data.kind === 'text';
    const all = text ? prepared.textData! : undefined;
    const dataset = text
      ? { x: new Float32Array(0), y: Int32Array.from([...all!.train.labels, ...all!.validation.labels, ...all!.test.labels]), featureShape: [0], numClasses: all!.train.classNames.length }
      : undefined;
    renderSummary(summarizeData(state.source!, dataset ?? concatDatasets([s.train, s.validation, s.test]), s, state.labels), s, text);
    ui.dataPrepared.textContent =
      `The site will train on ${s.train.y.length} examples` +
      (prepared.droppedDuplicates ? ` (${prepared.droppedDuplicates} duplicates dropped)` : '') +
      (ui.impute.checked ? ', missing values imputed' : '') +
      (ui.classWeights.checked ? ', classes resampled to equal shares' : '') +
      '.';
    ui.dataPrepared.dataset.train = String(s.train.y.length);
    ui.dataPrepared.dataset.trainClasses = JSON.stringify(classCounts(s.train));
    ui.dataError.hidden = true;
    setPhase('loaded', 'data loaded: review the summary and the data check, then join');
  } catch (err) {
    state.prepared = undefined;
    ui.summary.hidden = true;
    ui.dataPrepared.textContent = '';
    ui.dataError.textContent = toFedtuneError(err).message;
    ui.dataError.hidden = false;
    setPhase('idle', 'the data cannot join as it is: see the data check');
  }
}

function dataLoaded(data: BrowserSiteData, source: string, labels?: string[]): void {
  state.data = data;
  state.source = source;
  state.labels = labels;
  ui.dataError.hidden = true;
  renderDataCheck(data);
  prepare();
}

function columnList(value: string): string[] {
  return value.split(',').map((c) => c.trim()).filter(Boolean);
}

async function onCsvPicked(): Promise<void> {
  const file = ui.csv.files?.[0];
  if (!file) return;
  const labelColumn = ui.labelColumn.value.trim() || 'label';
  const textColumn = ui.textColumn.value.trim();
  state.picked = 'csv';
  try {
    if (textColumn) {
      const text = await loadTextCsv(file, { textColumn, labelColumn });
      dataLoaded({ kind: 'text', text }, `${file.name} (text column)`, text.classNames);
      return;
    }
    // Classes: the labels found (the data check counts those); the run's model decides when the site joins.
    const tabular = await loadCsvFile(file, { labelColumn, categorical: columnList(ui.categorical.value), featureColumns: columnList(ui.featureColumns.value) });
    const oneHot = tabular.schema.columns.filter((c) => c.kind === 'categorical');
    if (oneHot.length) log(`${file.name}: ${tabular.schema.columns.length} columns → ${tabular.schema.features} features; one-hot: ${oneHot.map((c) => `${c.name} (${c.width} categories)`).join(', ')}`);
    dataLoaded({ kind: 'examples', dataset: tabular.dataset }, file.name, tabular.classNames);
  } catch (err) {
    showDataError(err);
  }
}

async function onFolderPicked(): Promise<void> {
  const files = ui.folder.files;
  if (!files || files.length === 0) return;
  try {
    state.picked = 'images';
    ui.status.textContent = `decoding ${files.length} files…`;
    const size = Number(ui.imageSize.value) || 28;
    const result = await loadImageFolder(files, { size, numClasses: Number(ui.numClasses.value) || undefined });
    const root = (files[0].webkitRelativePath || files[0].name).split('/')[0];
    dataLoaded({ kind: 'examples', dataset: result.dataset, expectedRange: [0, 1] }, `${root}/ (${size}×${size} grayscale)`, result.labels);
    if (result.skipped.length) log(`skipped ${result.skipped.length} files that are not images in a label folder`);
  } catch (err) {
    showDataError(err);
  }
}

async function onTextFolderPicked(): Promise<void> {
  const files = ui.textFolder.files;
  if (!files || files.length === 0) return;
  try {
    state.picked = 'texts';
    ui.status.textContent = `reading ${files.length} files…`;
    const result = await loadTextFolder(files);
    const root = (files[0].webkitRelativePath || files[0].name).split('/')[0];
    dataLoaded({ kind: 'text', text: result.text }, `${root}/ (texts)`, result.text.classNames);
    if (result.skipped) log(`skipped ${result.skipped} files that are not .txt files in a label folder`);
  } catch (err) {
    showDataError(err);
  }
}

function onSiteEvent(event: SiteEvent): void {
  switch (event.type) {
    case 'connected':
      setPhase('joining', 'connected, joining…');
      break;
    case 'welcome':
      setPhase('joined', `joined run ${event.runId}; waiting for a round`);
      log(`joined run ${event.runId}`);
      break;
    case 'classes-aligned':
      log(`labels numbered by the run's classes: ${event.classNames.map((n, i) => `${i}=${n}`).join(', ')}${event.missing.length ? `; this site has no example of ${event.missing.join(', ')}` : ''}`);
      break;
    case 'model':
      log(`received the model (${event.parameters.toLocaleString()} parameters)`);
      break;
    case 'fit-start':
      setPhase('training', `round ${event.round}: training on your data`);
      ui.progress.value = 0;
      break;
    case 'fit-progress': {
      const p = event.progress;
      state.epochs = p.epochs;
      ui.progress.value = (p.epoch * p.batches + p.batch) / (p.epochs * p.batches);
      ui.progressText.textContent = `round ${event.round}: epoch ${p.epoch + 1}/${p.epochs}, batch ${p.batch}/${p.batches}, loss ${p.loss.toFixed(4)}`;
      break;
    }
    case 'fit-done': {
      const r = row(event.round);
      Object.assign(r, { loss: event.loss, accuracy: event.accuracy, examples: event.numExamples, bytesUp: event.bytesUp });
      r.samplesPerS = (event.numExamples * state.epochs) / Math.max(event.durationMs / 1000, 1e-3);
      ui.progress.value = 1;
      setPhase('joined', `round ${event.round}: update sent (${bytes(event.bytesUp)}); waiting for the next round`);
      log(`round ${event.round}: trained ${event.numExamples} examples in ${(event.durationMs / 1000).toFixed(1)} s, sent ${bytes(event.bytesUp)}`);
      renderRounds();
      break;
    }
    case 'privacy':
      ui.ledger.textContent = ledgerText(event.runEpsilon, event.totalEpsilon);
      log(`round ${event.round}: privacy ledger ${ledgerText(event.runEpsilon, event.totalEpsilon)}`);
      break;
    case 'evaluate-done': {
      const r = row(event.round);
      r.globalAccuracy = event.metrics.accuracy;
      r.globalLoss = event.metrics.loss;
      log(`round ${event.round}: the global model scores ${pct(event.metrics.accuracy)} on your test split`);
      renderRounds();
      break;
    }
    case 'site-report-done': {
      const a = event.result.arms;
      const personal = a.personalized ? `, personalised ${pct(a.personalized.accuracy)}${event.result.adopted === false ? ' (validation preferred the global model)' : ''}; your personal model stays in this tab` : '';
      log(`site report on your test split (sent as numbers only): global ${pct(a.global.accuracy)}${a.localOnly ? `, local-only ${pct(a.localOnly.accuracy)}` : ''}${personal}`);
      break;
    }
    case 'rejected':
      log(`the coordinator rejected ${event.round ? `round ${event.round}'s message` : 'a message'}: ${event.code}: ${event.reason}`);
      break;
    case 'failed':
      log(`round ${event.round} failed here: ${event.code}: ${event.reason}`);
      break;
    case 'terms':
      log(`accepted the run's terms ${event.terms.hash.slice(0, 16)}… (coordinator ${event.terms.terms.coordinator.slice(0, 16)}…)`);
      break;
    case 'refused-terms':
      log(`your policy refused ${event.round === undefined ? "the run's terms" : `round ${event.round}'s instruction`}: ${event.reason}`);
      setPhase('closed', `refused by your site policy: ${event.reason}`);
      break;
    case 'complete': {
      const c = event.complete;
      const final = c.final ? `; final global accuracy ${pct(c.final.accuracy)}` : '';
      setPhase('complete', c.aborted ? `the run was aborted: ${c.aborted}` : `run complete after ${c.rounds} rounds${final}`);
      log('run complete');
      break;
    }
    case 'closed':
      if (document.body.dataset.phase !== 'complete') setPhase('closed', `disconnected: ${event.reason}`);
      break;
  }
}

function onJoin(): void {
  if (!state.data || !state.prepared || !state.backend) return;
  const id = siteId();
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
    ui.status.textContent = 'the site name may use letters, digits, ".", "_" and "-"';
    return;
  }
  let policy;
  try {
    policy = browserSitePolicy(parseJoinLink(window.location.href).policy);
  } catch (err) {
    setPhase('error', toFedtuneError(err).message);
    return;
  }
  // What the field holds: this page's coordinator, a same-origin one from the link, one the user confirmed or typed.
  let server: JoinLinkServer;
  try {
    server = parseJoinLinkServer(ui.server.value.trim());
  } catch (err) {
    setPhase('error', toFedtuneError(err).message.replace("the join link's coordinator (?server=)", 'the coordinator URL'));
    return;
  }
  let prepared: PreparedBrowserSiteData;
  try {
    prepared = prepareBrowserSiteData(state.data, choices(), id);
  } catch (err) {
    setPhase('error', toFedtuneError(err).message);
    return;
  }
  state.rounds.clear();
  renderRounds();
  setPhase('joining', `connecting to ${server.url}…`);
  let privacyLedger: LocalStoragePrivacyLedger;
  try {
    privacyLedger = LocalStoragePrivacyLedger.open(window.localStorage, id);
  } catch (err) {
    setPhase('error', toFedtuneError(err).message);
    return;
  }
  ui.ledger.textContent = `ε ${epsText(privacyLedger.totalEpsilon())} spent in total (this browser)`;
  const site = startBrowserSite({
    privacyLedger,
    server: server.url,
    siteId: id,
    token: ui.token.value || undefined,
    splits: prepared.splits,
    ...(prepared.textData ? { textData: prepared.textData } : {}),
    backend: state.backend.backend,
    onEvent: onSiteEvent,
    ...(policy ? { policy } : {}),
    ...(siteClassesOf(state.labels, state.source ?? 'the data') ? { siteClasses: siteClassesOf(state.labels, state.source ?? 'the data') } : {}),
  });
  state.site = site;
  site.outcome.catch((err) => setPhase('error', toFedtuneError(err).message));
}

function onLeave(): void {
  state.site?.leave();
  log('left the run');
  setPhase('closed', 'you left the run; nothing more is sent');
}

/**
 * The coordinator field from the join link (join-server-choice.ts): this page's origin, or a same-origin ?server=.
 * A ?server= on another origin is shown (its origin only, as text) with two buttons; the field takes it only on
 * the confirming click, and Join stays off until one of them is clicked. A malformed one is one line.
 */
function chooseServer(): void {
  const choice = joinServerChoice(window.location.href);
  if (choice.kind === 'own') {
    ui.server.value = choice.server;
    return;
  }
  ui.server.value = choice.own;
  if (choice.kind === 'invalid') {
    ui.serverError.textContent = choice.message;
    ui.serverError.hidden = false;
    return;
  }
  state.askingServer = choice.requested;
  ui.serverConfirmOrigin.textContent = choice.requested.origin;
  ui.serverConfirmOwn.textContent = choice.own;
  ui.serverConfirmUse.textContent = `Connect to ${choice.requested.origin}`;
  ui.serverConfirm.hidden = false;
  ui.server.readOnly = true;
  const decided = (server: string, note: string) => {
    state.askingServer = undefined;
    ui.server.value = server;
    ui.server.readOnly = false;
    ui.serverConfirm.hidden = true;
    log(note);
    setPhase((document.body.dataset.phase as Phase | undefined) ?? 'starting');
  };
  ui.serverConfirmUse.addEventListener('click', () => decided(choice.requested.url, `you chose to connect to ${choice.requested.origin} (named by the join link)`), { once: true });
  ui.serverConfirmStay.addEventListener('click', () => decided(choice.own, `you declined the join link's server ${choice.requested.origin}; this page's coordinator is used`), { once: true });
}

async function init(): Promise<void> {
  setPhase('starting');
  const link = parseJoinLink(window.location.href);
  chooseServer();
  ui.site.value = link.site ?? `browser-${Math.random().toString(36).slice(2, 6)}`;
  ui.token.value = link.token ?? '';
  // Read once: out of the address bar and this history entry (the rest of the link, ?policy= included, stays).
  const withoutToken = joinLinkWithoutToken(window.location.href);
  if (withoutToken) window.history.replaceState(window.history.state, '', withoutToken);
  ui.csv.addEventListener('change', () => void onCsvPicked());
  ui.folder.addEventListener('change', () => void onFolderPicked());
  ui.textFolder.addEventListener('change', () => void onTextFolderPicked());
  for (const field of [ui.categorical, ui.featureColumns, ui.textColumn, ui.labelColumn]) field.addEventListener('change', () => state.picked === 'csv' && void onCsvPicked());
  for (const box of [ui.dropDuplicates, ui.impute, ui.classWeights]) box.addEventListener('change', prepare);
  ui.join.addEventListener('click', onJoin);
  ui.leave.addEventListener('click', onLeave);
  renderRounds();
  try {
    state.backend = await selectBrowserBackend(link.backend);
    ui.backend.textContent = describeBrowserBackend(state.backend);
    ui.backend.dataset.backend = state.backend.backend;
    if (state.prepared) setPhase('loaded', 'data loaded: review the summary and the data check, then join');
    else setPhase('idle', 'load your data to join');
  } catch (err) {
    ui.backend.textContent = toFedtuneError(err).message;
    setPhase('error', 'no TensorFlow.js backend could start in this browser');
  }
}

void init();

function epsText(e: number): string {
  return Number.isFinite(e) ? e.toFixed(4) : '∞';
}

function ledgerText(run: number, total: number): string {
  return `ε ${epsText(run)} spent in this run, ${epsText(total)} in total`;
}
