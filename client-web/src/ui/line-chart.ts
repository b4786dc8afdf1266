import { tickLabels } from './tick-labels.ts';

export interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
}

export interface ChartOptions {
  width?: number;
  height?: number;
  /** Fixed y range (e.g. [0, 1] for accuracy); default: the data's range. */
  yRange?: [number, number];
  xLabel?: string;
}

const SVG = 'http://www.w3.org/2000/svg';

function el(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Draws a small SVG line chart (rounds on x) into `host`, replacing what was there. No dependencies. */
export function renderLineChart(host: HTMLElement, series: Series[], options: ChartOptions = {}): void {
  const width = options.width ?? 420;
  const height = options.height ?? 180;
  const pad = { left: 40, right: 10, top: 22, bottom: 22 };
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', class: 'chart' });
  if (all.length === 0) {
    svg.appendChild(el('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'no rounds yet'));
    host.replaceChildren(svg);
    return;
  }
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const [x0, x1] = [Math.min(...xs), Math.max(Math.max(...xs), Math.min(...xs) + 1)];
  let [y0, y1] = options.yRange ?? [Math.min(...ys), Math.max(...ys)];
  if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const px = (x: number) => pad.left + ((x - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const py = (y: number) => height - pad.bottom - ((y - y0) / (y1 - y0)) * (height - pad.top - pad.bottom);
  const yTicks = [y0, (y0 + y1) / 2, y1];
  const yLabels = tickLabels(yTicks);
  yTicks.forEach((t, i) => {
    svg.appendChild(el('line', { x1: pad.left, x2: width - pad.right, y1: py(t), y2: py(t), class: 'chart-grid' }));
    svg.appendChild(el('text', { x: pad.left - 4, y: py(t) + 4, 'text-anchor': 'end', class: 'chart-tick' }, yLabels[i]));
  });
  for (let x = Math.ceil(x0); x <= x1; x += Math.max(1, Math.ceil((x1 - x0) / 10))) {
    svg.appendChild(el('text', { x: px(x), y: height - 8, 'text-anchor': 'middle', class: 'chart-tick' }, String(x)));
  }
  if (options.xLabel) svg.appendChild(el('text', { x: pad.left - 4, y: height - 8, 'text-anchor': 'end', class: 'chart-tick' }, options.xLabel));
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
