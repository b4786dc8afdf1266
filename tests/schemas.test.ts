import { describe, expect, it } from 'vitest';
import { FedtuneError, parseClientMessage, parseServerMessage, PROTOCOL_VERSION, encodeWeights } from '@fedtune/shared';

const weights = encodeWeights({ manifest: [{ name: 'w', shape: [2], dtype: 'float32' }], arrays: [new Float32Array([1, 2])] });
const fitResult = {
  runId: 'r1',
  round: 1,
  siteId: 'site-1',
  weights,
  numExamples: 10,
  metrics: { loss: 0.5, accuracy: 0.9 },
  durationMs: 12,
};

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FedtuneError);
    expect((e as FedtuneError).code).toBe('malformed_payload');
    return (e as FedtuneError).message;
  }
  throw new Error('expected a rejection');
}

describe('message schemas', () => {
  it('accept well-formed messages and normalize binary to Uint8Array', () => {
    const hello = parseClientMessage('hello', { protocol: PROTOCOL_VERSION, siteId: 'site-1', capabilities: { backend: 'wasm', runtime: 'node', numExamples: 5 } });
    expect(hello.siteId).toBe('site-1');
    const fromArrayBuffer = parseClientMessage('fitResult', { ...fitResult, weights: weights.slice().buffer });
    expect(fromArrayBuffer.weights).toBeInstanceOf(Uint8Array);
    expect(fromArrayBuffer.weights.byteLength).toBe(weights.byteLength);
  });

  it('reject malformed payloads with a reason that names the field', () => {
    expect(reason(() => parseClientMessage('fitResult', { ...fitResult, weights: [1, 2, 3] }))).toMatch(/weights/);
    expect(reason(() => parseClientMessage('fitResult', { ...fitResult, round: -1 }))).toMatch(/round/);
    expect(reason(() => parseClientMessage('fitResult', { ...fitResult, metrics: { loss: NaN, accuracy: 1 } }))).toMatch(/metrics.loss/);
    expect(reason(() => parseClientMessage('fitResult', { ...fitResult, siteId: '../etc' }))).toMatch(/siteId/);
    expect(reason(() => parseClientMessage('hello', { protocol: 99, siteId: 'a', capabilities: { backend: 'x', runtime: 'node', numExamples: 1 } }))).toMatch(/protocol/);
    expect(reason(() => parseClientMessage('hello', null))).toMatch(/root|expected object/);
    expect(reason(() => parseServerMessage('fit', { runId: 'r', round: 1, modelVersion: 0, weights, config: { epochs: 0 } }))).toMatch(/config/);
  });

  it('reject unknown events, including prototype keys', () => {
    expect(reason(() => parseClientMessage('deleteEverything' as never, {}))).toMatch(/unknown client event/);
    expect(reason(() => parseClientMessage('toString' as never, {}))).toMatch(/unknown client event/);
    expect(reason(() => parseServerMessage('__proto__' as never, {}))).toMatch(/unknown server event/);
  });
});
