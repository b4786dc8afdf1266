/**
 * Tiny inline-SVG charts for report.html: no scripts, no external assets. Every function returns an
 * `<svg>` string; all text passes through `escapeHtml`.
 */
import { accuracyAxis, niceAxis, numberTick, percentTick, type Axis } from '../http/dashboard/assets/axis-range.js';
import type { PointColumns } from './point-columns.ts';
import { tenthsText } from './tenths-text.ts';
import { thinnedIndices, thinPoints } from './thin-series.ts';
import { ValueTextCache } from './value-text-cache.ts';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

export interface Series {
  name: string;
  points: Array<[number, number]>;
  color?: string;
  dashed?: boolean;
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const FRAME: Frame = { width: 560, height: 300, left: 48, right: 150, top: 16, bottom: 40 };
/** Pixels per character of a tick label (the charts' 11 px sans-serif), and the gap kept between two labels. */
const TICK_CHAR_PX = 6.5;
const TICK_GAP_PX = 4;

/**
 * The x ticks whose labels would not overlap the last one kept (its half width and this one's, plus a gap): points
 * as close as ε 0.05 and 0.06 on a 0–0.3 axis drew "0.0506" (new-user review 2026-12-07). The first is always kept.
 */
export function apartTicks(ticks: ReadonlyArray<[number, string]>): Array<[number, string]> {
  const kept: Array<[number, string]> = [];
  for (const tick of ticks) {
    const last = kept.at(-1);
    if (!last || tick[0] - last[0] >= ((last[1].length + tick[1].length) / 2) * TICK_CHAR_PX + TICK_GAP_PX) kept.push(tick);
  }
  return kept;
}

/** A coordinate rounded to tenths: `(Math.round(x * 10) / 10).toString()` (tenths-text.ts). */
const f = tenthsText;

function axes(fr: Frame, xTicks: Array<[number, string]>, yTicks: Array<[number, string]>, xLabel: string, yLabel: string): string {
  const x0 = fr.left;
  const y0 = fr.height - fr.bottom;
  const x1 = fr.width - fr.right;
  const parts = [`<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y0}" stroke="#333"/>`, `<line x1="${x0}" y1="${fr.top}" x2="${x0}" y2="${y0}" stroke="#333"/>`];
  for (const [px, label] of xTicks) parts.push(`<line x1="${f(px)}" y1="${y0}" x2="${f(px)}" y2="${y0 + 4}" stroke="#333"/><text x="${f(px)}" y="${y0 + 16}" text-anchor="middle">${escapeHtml(label)}</text>`);
  for (const [py, label] of yTicks) {
    parts.push(`<line x1="${x0}" y1="${f(py)}" x2="${x1}" y2="${f(py)}" stroke="#eee"/><text class="y-tick" x="${x0 - 6}" y="${f(py + 4)}" text-anchor="end">${escapeHtml(label)}</text>`);
  }
  parts.push(`<text x="${(x0 + x1) / 2}" y="${fr.height - 6}" text-anchor="middle">${escapeHtml(xLabel)}</text>`);
  parts.push(`<text transform="translate(12 ${(fr.top + y0) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(yLabel)}</text>`);
  return parts.join('');
}

function svg(fr: Frame, body: string, title: string): string {
  // Full-width and responsive, as the dashboard's charts: the viewBox keeps the aspect ratio, the page's CSS sets the width.
  return `<svg viewBox="0 0 ${fr.width} ${fr.height}" width="100%" preserveAspectRatio="xMidYMid meet" class="report-chart" role="img" aria-label="${escapeHtml(title)}" font-family="sans-serif" font-size="11">${body}</svg>`;
}

const percentTicks = (fr: Frame, y: (v: number) => number): Array<[number, string]> => [0, 0.25, 0.5, 0.75, 1].map((v) => [y(v), `${v * 100}%`]);

/**
 * How a line chart's y axis is drawn: `accuracy` (default) is 0–100% in %; `zoomed-accuracy` in % zoomed to
 * the data's range (axis-range.js); `number` (a loss) zoomed to the data with 0 as its floor.
 */
export type YAxisKind = 'accuracy' | 'zoomed-accuracy' | 'number';

function yAxisOf(kind: YAxisKind, values: number[]): { axis: Axis; label: (v: number) => string } | undefined {
  if (kind === 'number') {
    const axis = niceAxis(values, { floor: 0 });
    return axis && { axis, label: (v) => numberTick(v, axis.step) };
  }
  const axis = accuracyAxis(values, kind === 'accuracy');
  return axis && { axis, label: (v) => percentTick(v, axis.step) };
}

/** How `lineChart` and `columnLineChart` are titled and their y axis drawn. */
export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel?: string;
  xTickLabels?: (x: number) => string;
  y?: YAxisKind;
}

/**
 * Lines against a numeric x, with a legend on the right; y is an accuracy (0–1) unless `y` says otherwise. With
 * `maxPointsPerLine`, each line draws at most that many of its points (`thinPoints`: first, last, lowest and highest
 * kept); the axes are those of every point either way.
 */
export function lineChart(series: Series[], opts: LineChartOptions & { maxPointsPerLine?: number }): string {
  // Every point's x and y (the axes are those of every point, drawn or thinned), gathered in one pass.
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of series) {
    for (const [px, py] of s.points) {
      xs.push(px);
      ys.push(py);
    }
  }
  if (xs.length === 0) return '';
  const max = opts.maxPointsPerLine;
  const lines = series.map((s) => ({ ...s, drawn: () => (max === undefined ? s.points.filter((p) => Number.isFinite(p[1])) : thinPoints(s.points, max)) }));
  return plotLines(lines, { ys, xMin: Math.min(...xs), xMax: Math.max(...xs), distinctXs: () => [...new Set(xs)].sort((a, b) => a - b) }, opts);
}

/** A line of `columnLineChart`: its points as columns (finite y only) with their extents. */
export interface ColumnSeries {
  name: string;
  points: PointColumns;
  color?: string;
  dashed?: boolean;
}

/**
 * `lineChart(…, { maxPointsPerLine })` of the same lines held as columns, byte for byte: the axes come from each line's
 * kept extents instead of a pass over every point, and the points are read only to thin them (`thinnedIndices`) and to
 * merge the lines' distinct xs for the x ticks (one pass, no sort, when every line's xs ascend).
 */
export function columnLineChart(series: ColumnSeries[], opts: LineChartOptions & { maxPointsPerLine: number }): string {
  const nonEmpty = series.map((s) => s.points).filter((p) => p.length > 0);
  if (nonEmpty.length === 0) return '';
  const lines = series.map((s) => ({ ...s, drawn: () => thinnedColumns(s.points, opts.maxPointsPerLine) }));
  const extents = {
    ys: [Math.min(...nonEmpty.map((p) => p.yMin)), Math.max(...nonEmpty.map((p) => p.yMax))],
    xMin: Math.min(...nonEmpty.map((p) => p.xMin)),
    xMax: Math.max(...nonEmpty.map((p) => p.xMax)),
    distinctXs: () => (nonEmpty.every((p) => p.xsAscending) ? mergedDistinctXs(nonEmpty) : [...new Set(nonEmpty.flatMap((p) => p.xs))].sort((a, b) => a - b)),
  };
  return plotLines(lines, extents, opts);
}

/** The points of `line` that a chart of at most `max` points per line draws (`thinPoints` of its [x, y] pairs). */
function thinnedColumns(line: PointColumns, max: number): Array<[number, number]> {
  const kept = thinnedIndices(line.length, (i) => line.ys[i], max);
  return kept ? kept.map((i) => [line.xs[i], line.ys[i]]) : line.xs.map((x, i) => [x, line.ys[i]]);
}

/**
 * The distinct xs of lines whose xs ascend, ascending: as `[...new Set(xs)].sort()` of them all. The lines are merged
 * one at a time into the distinct xs of those before (two ascending lists: one pass over both), and a line whose xs are
 * those already merged, as a site's that reported every round the others did, is passed over with one comparison a
 * point: O(lines × points), not the k-way merge's O(lines × distinct xs) comparisons on top of it.
 */
function mergedDistinctXs(lines: PointColumns[]): number[] {
  let out = distinctAscending(lines[0].xs);
  for (let k = 1; k < lines.length; k++) if (!sameXs(out, lines[k].xs)) out = mergedAscending(out, lines[k].xs);
  return out;
}

/** The distinct values of an ascending list, in order. */
function distinctAscending(xs: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < xs.length; i++) if (i === 0 || xs[i] !== xs[i - 1]) out.push(xs[i]);
  return out;
}

/** Whether the ascending list `xs` holds exactly the (distinct, ascending) `distinct`, in the same order. */
function sameXs(distinct: number[], xs: number[]): boolean {
  if (xs.length !== distinct.length) return false;
  for (let i = 0; i < xs.length; i++) if (xs[i] !== distinct[i]) return false;
  return true;
}

/** The distinct values of `distinct` (distinct, ascending) and `xs` (ascending), ascending. */
function mergedAscending(distinct: number[], xs: number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < distinct.length || j < xs.length) {
    const next = j >= xs.length || (i < distinct.length && distinct[i] <= xs[j]) ? distinct[i] : xs[j];
    out.push(next);
    while (i < distinct.length && distinct[i] === next) i++;
    while (j < xs.length && xs[j] === next) j++;
  }
  return out;
}

/** What a line chart's axes are drawn from: the y values (any that bracket every finite y), the x range, the distinct xs. */
interface AxisSource {
  ys: number[];
  xMin: number;
  xMax: number;
  distinctXs: () => number[];
}

/** A point's value in its tooltip: a loss to 4 decimals, an accuracy in % to 1 (memoised: value-text-cache.ts). */
const LOSS_TEXT = new ValueTextCache((v) => v.toFixed(4));
const PERCENT_TEXT = new ValueTextCache((v) => `${(100 * v).toFixed(1)}%`);

/** The chart of `lines` (each drawing the points `drawn` gives) on the axes of `source`; '' when no y is finite. */
function plotLines(lines: Array<{ name: string; color?: string; dashed?: boolean; drawn: () => Array<[number, number]> }>, source: AxisSource, opts: LineChartOptions): string {
  const fr = FRAME;
  const yAxis = yAxisOf(opts.y ?? 'accuracy', source.ys);
  if (!yAxis) return '';
  const { axis } = yAxis;
  const xMin = source.xMin;
  const xMax = source.xMax === xMin ? xMin + 1 : source.xMax;
  const x = (v: number) => fr.left + ((v - xMin) / (xMax - xMin)) * (fr.width - fr.left - fr.right);
  const y = (v: number) => fr.height - fr.bottom - ((Math.max(axis.lo, Math.min(axis.hi, v)) - axis.lo) / (axis.hi - axis.lo)) * (fr.height - fr.top - fr.bottom);
  const uniq = source.distinctXs();
  const step = Math.ceil(uniq.length / 12);
  const xTicks = apartTicks(uniq.filter((_, i) => i % step === 0).map((v) => [x(v), opts.xTickLabels ? opts.xTickLabels(v) : String(v)] as [number, string]));
  const yTicks = axis.ticks.map((t) => [y(t), yAxis.label(t)] as [number, string]);
  const valueText = opts.y === 'number' ? LOSS_TEXT : PERCENT_TEXT;
  // The body is appended to, not joined: the appends make a rope that the page's own join copies once, where joining
  // here would copy every point's text once more before that (the charts are most of a page of many rounds).
  let body = axes(fr, xTicks, yTicks, opts.xLabel, opts.yLabel ?? (opts.y === 'number' ? 'loss' : 'accuracy'));
  lines.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = s.drawn();
    if (pts.length === 0) return;
    // Each point's position once, for the line and its dot; the name escaped once (a point's value and x hold
    // nothing escapeHtml changes: digits, '.', '-', '%', 'e', '+'), so a chart of many rounds costs little per point:
    // the coordinates' and values' texts are looked up (tenths-text.ts, value-text-cache.ts), not formatted anew.
    const name = escapeHtml(s.name);
    const dotTail = `" r="2.5" fill="${color}"><title>${name}: `;
    let coordinates = '';
    let dots = '';
    for (let k = 0; k < pts.length; k++) {
      const [px, py] = pts[k];
      const cx = f(x(px));
      const cy = f(y(py));
      coordinates += k === 0 ? `${cx},${cy}` : ` ${cx},${cy}`;
      dots += `<circle cx="${cx}" cy="${cy}${dotTail}${valueText.text(py)} at ${px}</title></circle>`;
    }
    body += `<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''} data-series="${name}" points="${coordinates}"/>`;
    body += dots;
    const ly = fr.top + 8 + i * 16;
    const lx = fr.width - fr.right + 12;
    body += `<line x1="${lx}" y1="${ly}" x2="${lx + 18}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/><text x="${lx + 24}" y="${ly + 4}">${escapeHtml(s.name)}</text>`;
  });
  return svg(fr, body, opts.title);
}

/** A reference line's label: one line, or lines split at "\n" (the right margin is narrow), each under the one before. */
function referenceLabel(label: string, x: number): string {
  const lines = label.split('\n');
  if (lines.length === 1) return escapeHtml(label);
  return lines.map((line, k) => `<tspan x="${x}"${k ? ' dy="13"' : ''}>${escapeHtml(line)}</tspan>`).join('');
}

/** Vertical bars of values in 0–1, one per label; `reference` draws a dashed horizontal line (e.g. clean accuracy). */
export function barChart(bars: Array<{ label: string; value: number; color?: string }>, opts: { title: string; yLabel?: string; reference?: { value: number; label: string } }): string {
  if (bars.length === 0) return '';
  const fr: Frame = { ...FRAME, width: Math.max(360, 60 + bars.length * 34 + 120), bottom: 90, right: 120 };
  const plotW = fr.width - fr.left - fr.right;
  const bw = plotW / bars.length;
  const y = (v: number) => fr.height - fr.bottom - Math.max(0, Math.min(1, v)) * (fr.height - fr.top - fr.bottom);
  const body = [axes(fr, [], percentTicks(fr, y), '', opts.yLabel ?? 'accuracy')];
  bars.forEach((b, i) => {
    const x = fr.left + i * bw + bw * 0.15;
    const top = y(b.value);
    body.push(`<rect x="${f(x)}" y="${f(top)}" width="${f(bw * 0.7)}" height="${f(fr.height - fr.bottom - top)}" fill="${b.color ?? PALETTE[0]}"><title>${escapeHtml(`${b.label}: ${(100 * b.value).toFixed(1)}%`)}</title></rect>`);
    const cx = x + bw * 0.35;
    body.push(`<text transform="translate(${f(cx + 3)} ${fr.height - fr.bottom + 8}) rotate(45)" text-anchor="start">${escapeHtml(b.label)}</text>`);
  });
  if (opts.reference) {
    const ry = y(opts.reference.value);
    body.push(`<line x1="${fr.left}" y1="${f(ry)}" x2="${fr.width - fr.right}" y2="${f(ry)}" stroke="#d62728" stroke-dasharray="5 3"/><text x="${fr.width - fr.right + 6}" y="${f(ry + 4)}" fill="#d62728">${referenceLabel(opts.reference.label, fr.width - fr.right + 6)}</text>`);
  }
  return svg(fr, body.join(''), opts.title);
}

/** Groups of vertical bars (values in 0–1): one group per label, one bar per series, with a legend. */
export function groupedBarChart(groups: Array<{ label: string; values: Array<number | undefined> }>, series: string[], opts: { title: string; yLabel?: string }): string {
  if (groups.length === 0 || series.length === 0) return '';
  const fr: Frame = { ...FRAME, width: Math.max(420, 60 + groups.length * (14 * series.length + 16) + 140), bottom: 70, right: 140 };
  const plotW = fr.width - fr.left - fr.right;
  const gw = plotW / groups.length;
  const bw = (gw * 0.8) / series.length;
  const y = (v: number) => fr.height - fr.bottom - Math.max(0, Math.min(1, v)) * (fr.height - fr.top - fr.bottom);
  const body = [axes(fr, [], percentTicks(fr, y), '', opts.yLabel ?? 'accuracy')];
  groups.forEach((g, i) => {
    const gx = fr.left + i * gw + gw * 0.1;
    g.values.forEach((v, k) => {
      if (v === undefined || !Number.isFinite(v)) return;
      const top = y(v);
      body.push(`<rect x="${f(gx + k * bw)}" y="${f(top)}" width="${f(bw * 0.9)}" height="${f(fr.height - fr.bottom - top)}" fill="${PALETTE[k % PALETTE.length]}"><title>${escapeHtml(`${g.label} ${series[k]}: ${(100 * v).toFixed(1)}%`)}</title></rect>`);
    });
    body.push(`<text transform="translate(${f(gx + gw * 0.35)} ${fr.height - fr.bottom + 8}) rotate(45)" text-anchor="start">${escapeHtml(g.label)}</text>`);
  });
  series.forEach((name, k) => {
    const ly = fr.top + 8 + k * 16;
    const lx = fr.width - fr.right + 12;
    body.push(`<rect x="${lx}" y="${ly - 5}" width="12" height="10" fill="${PALETTE[k % PALETTE.length]}"/><text x="${lx + 18}" y="${ly + 4}">${escapeHtml(name)}</text>`);
  });
  return svg(fr, body.join(''), opts.title);
}

/** Confusion matrix as a heatmap, rows = true class, columns = predicted; cells coloured by row share. */
export function confusionHeatmap(matrix: number[][], title: string): string {
  const k = matrix.length;
  if (k === 0) return '';
  const cell = Math.max(18, Math.min(36, Math.floor(360 / k)));
  const left = 56;
  const top = 40;
  const fr: Frame = { width: left + k * cell + 20, height: top + k * cell + 20, left, right: 20, top, bottom: 20 };
  const body: string[] = [];
  matrix.forEach((row, r) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((v, c) => {
      const share = v / total;
      const color = r === c ? `rgba(31,119,180,${(0.1 + 0.9 * share).toFixed(3)})` : `rgba(214,39,40,${(share === 0 ? 0 : 0.1 + 0.9 * share).toFixed(3)})`;
      const x = left + c * cell;
      const y = top + r * cell;
      body.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${color}" stroke="#fff"><title>${escapeHtml(`true ${r}, predicted ${c}: ${v} (${(100 * share).toFixed(1)}% of class ${r})`)}</title></rect>`);
      if (cell >= 24 && v > 0) body.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" font-size="9">${v}</text>`);
    });
    body.push(`<text x="${left - 6}" y="${top + r * cell + cell / 2 + 4}" text-anchor="end">${r}</text>`);
  });
  for (let c = 0; c < k; c++) body.push(`<text x="${left + c * cell + cell / 2}" y="${top - 6}" text-anchor="middle">${c}</text>`);
  body.push(`<text x="${left + (k * cell) / 2}" y="14" text-anchor="middle">predicted</text>`);
  body.push(`<text transform="translate(14 ${top + (k * cell) / 2}) rotate(-90)" text-anchor="middle">true class</text>`);
  return svg(fr, body.join(''), title);
}

type Bin = { lo: number; hi: number; confidence: number; accuracy: number; count: number };

/**
 * Reliability diagram: accuracy per confidence bin as bars, the diagonal of perfect calibration, counts on
 * hover. With `after` (the bins after temperature scaling), each bin shows two half-width bars: before
 * (blue) and after (green).
 */
export function reliabilityDiagram(bins: Bin[], title: string, after?: Bin[]): string {
  if (bins.length === 0) return '';
  const fr: Frame = { width: 380, height: 320, left: 48, right: 20, top: 16, bottom: 40 };
  const w = fr.width - fr.left - fr.right;
  const h = fr.height - fr.top - fr.bottom;
  const x = (v: number) => fr.left + v * w;
  const y = (v: number) => fr.top + (1 - v) * h;
  const ticks: Array<[number, string]> = [0, 0.25, 0.5, 0.75, 1].map((v) => [x(v), v.toFixed(2)]);
  const body = [axes(fr, ticks, percentTicks(fr, y), 'confidence', 'accuracy')];
  const sets: Array<[Bin[], string, string, number]> = after ? [[bins, PALETTE[0], 'before', 0], [after, PALETTE[2], 'after', 1]] : [[bins, PALETTE[0], '', 0]];
  for (const [set, color, label, half] of sets) {
    for (const b of set) {
      if (b.count === 0) continue;
      const width = after ? (x(b.hi) - x(b.lo) - 2) / 2 : x(b.hi) - x(b.lo) - 2;
      const what = `${label ? `${label}: ` : ''}confidence ${b.lo.toFixed(2)}–${b.hi.toFixed(2)}: ${b.count} examples, accuracy ${(100 * b.accuracy).toFixed(1)}%, mean confidence ${(100 * b.confidence).toFixed(1)}%`;
      body.push(`<rect x="${f(x(b.lo) + 1 + half * width)}" y="${f(y(b.accuracy))}" width="${f(width)}" height="${f(y(0) - y(b.accuracy))}" fill="${color}" fill-opacity="0.8"><title>${escapeHtml(what)}</title></rect>`);
      body.push(`<circle cx="${f(x(b.confidence))}" cy="${f(y(b.confidence))}" r="2" fill="${after ? color : '#ff7f0e'}"/>`);
    }
  }
  if (after) body.push(`<text x="${fr.left + 8}" y="${fr.top + 12}" fill="${PALETTE[0]}">■ before</text><text x="${fr.left + 8}" y="${fr.top + 26}" fill="${PALETTE[2]}">■ after temperature scaling</text>`);
  body.push(`<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#999" stroke-dasharray="4 3"/>`);
  return svg(fr, body.join(''), title);
}

/**
 * Points of two accuracies (0–1) against each other; `highlight`ed points are drawn larger in the second
 * colour and joined by a dashed line in the order given (e.g. a Pareto front).
 */
export function scatterChart(
  points: Array<{ x: number; y: number; label: string; highlight?: boolean }>,
  opts: { title: string; xLabel: string; yLabel: string; highlightName?: string },
): string {
  if (points.length === 0) return '';
  const fr: Frame = { ...FRAME, width: 480, height: 360, right: 20 };
  const x = (v: number) => fr.left + Math.max(0, Math.min(1, v)) * (fr.width - fr.left - fr.right);
  const y = (v: number) => fr.height - fr.bottom - Math.max(0, Math.min(1, v)) * (fr.height - fr.top - fr.bottom);
  const xTicks: Array<[number, string]> = [0, 0.25, 0.5, 0.75, 1].map((v) => [x(v), `${v * 100}%`]);
  const body = [axes(fr, xTicks, percentTicks(fr, y), opts.xLabel, opts.yLabel)];
  const front = points.filter((p) => p.highlight);
  if (front.length > 1) body.push(`<polyline fill="none" stroke="${PALETTE[1]}" stroke-dasharray="5 3" points="${front.map((p) => `${f(x(p.x))},${f(y(p.y))}`).join(' ')}"/>`);
  for (const p of points) {
    const color = p.highlight ? PALETTE[1] : PALETTE[0];
    const tip = `${p.label}: ${opts.xLabel} ${(100 * p.x).toFixed(1)}%, ${opts.yLabel} ${(100 * p.y).toFixed(1)}%${p.highlight && opts.highlightName ? ` (${opts.highlightName})` : ''}`;
    body.push(`<circle cx="${f(x(p.x))}" cy="${f(y(p.y))}" r="${p.highlight ? 5 : 3.5}" fill="${color}" fill-opacity="0.85"><title>${escapeHtml(tip)}</title></circle>`);
  }
  return svg(fr, body.join(''), opts.title);
}
