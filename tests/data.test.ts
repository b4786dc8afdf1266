import { describe, expect, it } from 'vitest';
import { classCounts, DIGITS_TASK, FedtuneError, parseCsvDataset, parsePartitionSpec, partitionIndices, splitDataset, type Dataset } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, loadAllDigits } from '@fedtune/shared/node';

function key(ds: Dataset, i: number): string {
  const f = ds.featureShape[0];
  return Array.from(ds.x.subarray(i * f, i * f + f)).join(',');
}

describe('built-in digits task', () => {
  it('loads all 10,000 real digits with values in [0, 1]', () => {
    const all = loadAllDigits();
    expect(all.y.length).toBe(10_000);
    expect(all.featureShape).toEqual([784]);
    expect(classCounts(all).every((c) => c > 800)).toBe(true);
    expect(Math.min(...all.x.subarray(0, 784 * 50))).toBeGreaterThanOrEqual(0);
    expect(Math.max(...all.x.subarray(0, 784 * 50))).toBeLessThanOrEqual(1);
  });

  it('splits source, holdout and pool disjointly, independent of the run seed', () => {
    const { source, holdout, pool } = builtinDigits();
    expect(source.y.length).toBe(DIGITS_TASK.sourceSize);
    expect(holdout.y.length).toBe(DIGITS_TASK.holdoutSize);
    expect(source.y.length + holdout.y.length + pool.y.length).toBe(10_000);
    const sourceKeys = new Set(Array.from({ length: source.y.length }, (_, i) => key(source, i)));
    const poolKeys = new Set(Array.from({ length: pool.y.length }, (_, i) => key(pool, i)));
    let overlap = 0;
    for (const k of sourceKeys) if (poolKeys.has(k)) overlap++;
    // the raw set has a handful of byte-identical duplicates; the split itself is disjoint by index
    expect(overlap).toBeLessThan(5);
  });

  it('gives the same sites for the same seed and different sites for another seed', () => {
    const a = builtinDigitsSites({ sites: 4, partition: { kind: 'dirichlet', alpha: 0.5 }, seed: 3 });
    const b = builtinDigitsSites({ sites: 4, partition: { kind: 'dirichlet', alpha: 0.5 }, seed: 3 });
    const c = builtinDigitsSites({ sites: 4, partition: { kind: 'dirichlet', alpha: 0.5 }, seed: 4 });
    expect(a.map((d) => Array.from(d.y))).toEqual(b.map((d) => Array.from(d.y)));
    expect(Buffer.from(a[0].x.buffer).equals(Buffer.from(b[0].x.buffer))).toBe(true);
    expect(a.map((d) => d.y.length)).not.toEqual(c.map((d) => d.y.length));
    expect(a.reduce((n, d) => n + d.y.length, 0)).toBe(builtinDigits().pool.y.length);
  });
});

describe('partitions', () => {
  const labels = Int32Array.from({ length: 2000 }, (_, i) => i % 10);

  it('IID gives every site every class in near-equal numbers', () => {
    const parts = partitionIndices(labels, 10, 5, { kind: 'iid' }, 1);
    expect(parts.map((p) => p.length)).toEqual([400, 400, 400, 400, 400]);
    for (const p of parts) {
      const counts = new Array(10).fill(0);
      for (const i of p) counts[labels[i]]++;
      expect(Math.min(...counts)).toBeGreaterThan(20);
    }
  });

  it('Dirichlet with small alpha skews labels; every index is used exactly once', () => {
    const parts = partitionIndices(labels, 10, 5, { kind: 'dirichlet', alpha: 0.1 }, 1);
    const all = parts.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    const dominant = parts.map((p) => {
      const counts = new Array(10).fill(0);
      for (const i of p) counts[labels[i]]++;
      return Math.max(...counts) / p.length;
    });
    expect(Math.max(...dominant)).toBeGreaterThan(0.3);
  });

  it('parses partition specs and rejects bad ones', () => {
    expect(parsePartitionSpec('iid')).toEqual({ kind: 'iid' });
    expect(parsePartitionSpec('dirichlet:0.3')).toEqual({ kind: 'dirichlet', alpha: 0.3 });
    expect(() => parsePartitionSpec('dirichlet:0')).toThrow(FedtuneError);
    expect(() => parsePartitionSpec('shards')).toThrow(/unknown partition/);
  });

  it.each([
    ['dirichlet:-1', 'dirichlet alpha must be > 0, got "-1"'],
    ['quantity:abc', 'quantity alpha must be > 0, got "abc"'],
    ['dirichlet:1e', 'dirichlet alpha must be > 0, got "1e"'],
    ['shards:x', 'shards:K needs an integer K ≥ 1, got "x"'],
    ['shards:2.5', 'shards:K needs an integer K ≥ 1, got "2.5"'],
    ['dirichlet:', 'unknown partition "dirichlet:" (use iid, dirichlet:ALPHA, shards:K, quantity:ALPHA)'],
    [`dirichlet:${'9'.repeat(65)}`, `unknown partition "dirichlet:${'9'.repeat(54)}" (use iid, dirichlet:ALPHA, shards:K, quantity:ALPHA)`],
  ])('a partition kind with a bad value (%s) names the value: %s', (spec, message) => {
    expect(() => parsePartitionSpec(spec)).toThrow(new FedtuneError('config', message));
  });

  it('reads values in exponent notation', () => {
    expect(parsePartitionSpec('dirichlet:5e-1')).toEqual({ kind: 'dirichlet', alpha: 0.5 });
    expect(parsePartitionSpec('shards:2')).toEqual({ kind: 'shards', k: 2 });
  });
});

describe('CSV datasets', () => {
  it('parses a label column anywhere and numeric features', () => {
    const ds = parseCsvDataset('a,label,b\n0.5,1,2\n1.5,0,-3\n');
    expect(Array.from(ds.y)).toEqual([1, 0]);
    expect(Array.from(ds.x)).toEqual([0.5, 2, 1.5, -3]);
    expect(ds.numClasses).toBe(2);
  });

  it('names the row and column of bad input', () => {
    expect(() => parseCsvDataset('label,a\n1,x\n')).toThrow(/row 2, column "a": "x" is not a number/);
    expect(() => parseCsvDataset('label,a\n1.5,1\n')).toThrow(/label "1.5"/);
    expect(() => parseCsvDataset('y,a\n1,1\n')).toThrow(/no "label" column/);
    expect(() => parseCsvDataset('label,a\n1,2,3\n')).toThrow(/3 cells/);
    expect(() => parseCsvDataset('label,a\n')).toThrow(/at least one example/);
  });

  it('splits train/validation/test reproducibly and disjointly', () => {
    const ds: Dataset = { x: Float32Array.from({ length: 100 }, (_, i) => i), y: new Int32Array(100), featureShape: [1], numClasses: 1 };
    const s = splitDataset(ds, 5);
    expect([s.train.y.length, s.validation.y.length, s.test.y.length]).toEqual([80, 10, 10]);
    const all = [...s.train.x, ...s.validation.x, ...s.test.x].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(splitDataset(ds, 5).test.x)).toEqual(Array.from(s.test.x));
  });
});
