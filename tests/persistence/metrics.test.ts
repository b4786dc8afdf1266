import { describe, expect, it } from 'vitest';
import { createCoordinatorMetrics, escapeLabelValue, MetricsRegistry, PROMETHEUS_CONTENT_TYPE, recordEngineEvent } from '@fedtune/coordinator';
import { makeRound } from './helpers.ts';

describe('Prometheus metrics', () => {
  it('renders counters, gauges and histograms in the text exposition format', () => {
    const r = new MetricsRegistry();
    const c = r.counter({ name: 'x_requests_total', help: 'Requests.\nSecond line with a \\ backslash', labelNames: ['code', 'path'] });
    const g = r.gauge({ name: 'x_temperature', help: 'Temperature.' });
    const h = r.histogram({ name: 'x_seconds', help: 'Durations.', buckets: [0.5, 1, 2.5] });
    c.inc({ code: '200', path: '/a' });
    c.inc({ path: '/a', code: '200' }, 2);
    c.inc({ code: 'bad"quote', path: 'C:\\dir\nnext' });
    g.set(undefined, -1.5);
    for (const v of [0.25, 0.5, 0.75, 3]) h.observe(undefined, v);
    expect(r.render()).toBe(
      [
        '# HELP x_requests_total Requests.\\nSecond line with a \\\\ backslash',
        '# TYPE x_requests_total counter',
        'x_requests_total{code="200",path="/a"} 3',
        'x_requests_total{code="bad\\"quote",path="C:\\\\dir\\nnext"} 1',
        '# HELP x_temperature Temperature.',
        '# TYPE x_temperature gauge',
        'x_temperature -1.5',
        '# HELP x_seconds Durations.',
        '# TYPE x_seconds histogram',
        'x_seconds_bucket{le="0.5"} 2',
        'x_seconds_bucket{le="1"} 3',
        'x_seconds_bucket{le="2.5"} 3',
        'x_seconds_bucket{le="+Inf"} 4',
        'x_seconds_sum 4.5',
        'x_seconds_count 4',
        '',
      ].join('\n'),
    );
    expect(PROMETHEUS_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  });

  it('every sample line parses as name{labels} value', () => {
    const m = createCoordinatorMetrics();
    m.updatesRejected.inc({ code: 'non_finite' });
    m.roundDuration.observe(undefined, 12);
    m.connectedSites.set(undefined, NaN);
    const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\\n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\\n])*")*\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$/;
    for (const line of m.registry.render().trimEnd().split('\n')) {
      if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
      expect(line).toMatch(sample);
    }
    expect(m.registry.render()).toContain('fedtune_connected_sites NaN');
  });

  it('refuses invalid names, the reserved le label, wrong label sets and decreasing counters', () => {
    const r = new MetricsRegistry();
    expect(() => r.counter({ name: '1bad', help: '' })).toThrow(/metric name/);
    expect(() => r.counter({ name: 'ok', help: '', labelNames: ['__x'] })).toThrow(/label name/);
    expect(() => r.histogram({ name: 'h', help: '', labelNames: ['le'], buckets: [1] })).toThrow(/label name/);
    expect(() => r.histogram({ name: 'h2', help: '', buckets: [2, 1] })).toThrow(/increasing/);
    const c = r.counter({ name: 'c', help: '', labelNames: ['a'] });
    expect(() => c.inc({ b: 'x' })).toThrow(/do not match/);
    expect(() => c.inc({ a: 'x' }, -1)).toThrow(/only increase/);
    expect(() => r.counter({ name: 'c', help: '' })).toThrow(/already registered/);
  });

  it('the coordinator metrics follow engine events', () => {
    const m = createCoordinatorMetrics();
    recordEngineEvent(m, { type: 'site-joined', siteId: 'a', backend: 'wasm', runtime: 'node', numExamples: 1 });
    recordEngineEvent(m, { type: 'site-joined', siteId: 'b', backend: 'wasm', runtime: 'node', numExamples: 1 });
    recordEngineEvent(m, { type: 'site-left', siteId: 'b', reason: 'x' });
    recordEngineEvent(m, { type: 'round-start', round: 1, attempt: 1, selected: ['a'] });
    recordEngineEvent(m, { type: 'result', round: 1, siteId: 'a', accepted: true });
    recordEngineEvent(m, { type: 'result', round: 1, siteId: 'b', accepted: false, code: 'stale_round', reason: 'late' });
    recordEngineEvent(m, { type: 'result', round: 1, siteId: 'c', accepted: false, code: 'stale_round', reason: 'late' });
    recordEngineEvent(m, { type: 'round-end', record: makeRound(1, { durationMs: 1500, failed: [{ siteId: 'd', reason: 'timeout' }] }) });
    const text = m.registry.render();
    expect(text).toContain('fedtune_connected_sites 1\n');
    expect(text).toContain('fedtune_current_round 1\n');
    expect(text).toContain('fedtune_updates_accepted_total 1\n');
    expect(text).toContain('fedtune_updates_rejected_total{code="stale_round"} 2\n');
    expect(text).toContain('fedtune_updates_failed_total 1\n');
    expect(text).toContain('fedtune_rounds_completed_total 1\n');
    expect(text).toContain('fedtune_round_duration_seconds_bucket{le="1"} 0\n');
    expect(text).toContain('fedtune_round_duration_seconds_bucket{le="2.5"} 1\n');
    expect(text).toContain('fedtune_round_duration_seconds_sum 1.5\n');
    expect(text).toContain('fedtune_received_bytes_total 2000\n');
    expect(text).toContain('fedtune_sent_bytes_total 3000\n');
  });
});
