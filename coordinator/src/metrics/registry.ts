import { FedtuneError } from '@fedtune/shared';

/**
 * A tiny Prometheus registry: counters, gauges and histograms with labels, rendered in the text
 * exposition format (version 0.0.4). Pure: no timers, no process metrics, no I/O.
 */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export type Labels = Record<string, string | number>;

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escapes HELP text: backslash and line feed. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Formats a sample value: integers plainly, `+Inf`, `-Inf`, `NaN`. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function renderLabels(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i])}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

abstract class Metric<Series> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  protected readonly series = new Map<string, { values: string[]; data: Series }>();

  constructor(options: MetricOptions, reserved: readonly string[] = []) {
    if (!METRIC_NAME.test(options.name)) throw new FedtuneError('config', `invalid metric name "${options.name}"`);
    const labelNames = options.labelNames ?? [];
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__') || reserved.includes(l)) throw new FedtuneError('config', `metric ${options.name}: invalid label name "${l}"`);
    }
    if (new Set(labelNames).size !== labelNames.length) throw new FedtuneError('config', `metric ${options.name}: duplicate label names`);
    this.name = options.name;
    this.help = options.help;
    this.labelNames = labelNames;
  }

  protected abstract initial(): Series;

  protected seriesFor(labels: Labels = {}): Series {
    const keys = Object.keys(labels);
    if (keys.length !== this.labelNames.length || keys.some((k) => !this.labelNames.includes(k))) {
      throw new FedtuneError('config', `metric ${this.name}: labels {${keys.join(', ')}} do not match {${this.labelNames.join(', ')}}`);
    }
    const values = this.labelNames.map((n) => String(labels[n]));
    const key = JSON.stringify(values);
    let s = this.series.get(key);
    if (!s) {
      s = { values, data: this.initial() };
      this.series.set(key, s);
    }
    return s.data;
  }

  /** Forgets every series (e.g. the connected sites gauge at a new run). */
  reset(): void {
    this.series.clear();
  }

  protected abstract renderSeries(values: string[], data: Series): string[];

  render(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    const sorted = [...this.series.values()].sort((a, b) => (a.values.join('\0') < b.values.join('\0') ? -1 : 1));
    for (const s of sorted) lines.push(...this.renderSeries(s.values, s.data));
    return lines.join('\n');
  }
}

export class Counter extends Metric<{ v: number }> {
  readonly type = 'counter' as const;
  protected initial() {
    return { v: 0 };
  }
  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0)) throw new FedtuneError('config', `counter ${this.name} can only increase (got ${by})`);
    this.seriesFor(labels).v += by;
  }
  get(labels?: Labels): number {
    return this.seriesFor(labels).v;
  }
  protected renderSeries(values: string[], data: { v: number }): string[] {
    return [`${this.name}${renderLabels(this.labelNames, values)} ${formatValue(data.v)}`];
  }
}

export class Gauge extends Metric<{ v: number }> {
  readonly type = 'gauge' as const;
  protected initial() {
    return { v: 0 };
  }
  set(labels: Labels | undefined, value: number): void {
    this.seriesFor(labels).v = value;
  }
  inc(labels?: Labels, by = 1): void {
    this.seriesFor(labels).v += by;
  }
  dec(labels?: Labels, by = 1): void {
    this.seriesFor(labels).v -= by;
  }
  get(labels?: Labels): number {
    return this.seriesFor(labels).v;
  }
  protected renderSeries(values: string[], data: { v: number }): string[] {
    return [`${this.name}${renderLabels(this.labelNames, values)} ${formatValue(data.v)}`];
  }
}

interface HistogramSeries {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramSeries> {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];

  constructor(options: MetricOptions & { buckets: readonly number[] }) {
    super(options, ['le']);
    const b = [...options.buckets].filter((x) => x !== Infinity);
    if (!b.length || b.some((x, i) => !Number.isFinite(x) || (i > 0 && x <= b[i - 1]))) {
      throw new FedtuneError('config', `histogram ${options.name}: buckets must be finite and strictly increasing`);
    }
    this.buckets = b;
  }
  protected initial(): HistogramSeries {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }
  observe(labels: Labels | undefined, value: number): void {
    const s = this.seriesFor(labels);
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }
  get(labels?: Labels): { sum: number; count: number; buckets: Array<[le: number, count: number]> } {
    const s = this.seriesFor(labels);
    return { sum: s.sum, count: s.count, buckets: this.buckets.map((le, i) => [le, s.counts[i]]) };
  }
  protected renderSeries(values: string[], s: HistogramSeries): string[] {
    const lines = this.buckets.map((le, i) => `${this.name}_bucket${renderLabels(this.labelNames, values, ['le', formatValue(le)])} ${s.counts[i]}`);
    lines.push(`${this.name}_bucket${renderLabels(this.labelNames, values, ['le', '+Inf'])} ${s.count}`);
    lines.push(`${this.name}_sum${renderLabels(this.labelNames, values)} ${formatValue(s.sum)}`);
    lines.push(`${this.name}_count${renderLabels(this.labelNames, values)} ${s.count}`);
    return lines;
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Counter | Gauge | Histogram>();

  private add<M extends Counter | Gauge | Histogram>(metric: M): M {
    if (this.metrics.has(metric.name)) throw new FedtuneError('config', `metric ${metric.name} is already registered`);
    this.metrics.set(metric.name, metric);
    return metric;
  }

  counter(options: MetricOptions): Counter {
    return this.add(new Counter(options));
  }

  gauge(options: MetricOptions): Gauge {
    return this.add(new Gauge(options));
  }

  histogram(options: MetricOptions & { buckets: readonly number[] }): Histogram {
    return this.add(new Histogram(options));
  }

  get(name: string): Counter | Gauge | Histogram | undefined {
    return this.metrics.get(name);
  }

  /** The whole registry in the Prometheus text format (serve with PROMETHEUS_CONTENT_TYPE). */
  render(): string {
    return [...this.metrics.values()].map((m) => m.render()).join('\n') + '\n';
  }
}
