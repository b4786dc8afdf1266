import { describe, expect, it, vi } from 'vitest';
import {
  DelegatedEvaluationModel,
  EvaluationRequestMessage,
  EvaluationResultMessage,
  FollowerHoldoutEvaluator,
  LeaderDelegatedEvaluation,
  type GlobalMetrics,
  type GlobalModel,
  type LeaderDelegatedEvaluationOptions,
} from '@fedtune/coordinator';
import { decodeWeights, encodeWeights, type WeightArrays, type WeightsManifest } from '@fedtune/shared';
import { FencingTokens } from '../../coordinator/src/cluster/fencing-check.ts';
import { sha256OfBytes } from '../../coordinator/src/audit/audit-recorder.ts';

const MANIFEST: WeightsManifest = [{ name: 'w', shape: [2, 2], dtype: 'float32' }];
const ARRAYS: WeightArrays = [new Float32Array([1, 2, 3, 4])];
const SHA = sha256OfBytes(encodeWeights({ manifest: MANIFEST, arrays: ARRAYS }));
const OTHER_SHA = 'f'.repeat(64);

function leader(overrides: Partial<LeaderDelegatedEvaluationOptions> = {}) {
  const requests: EvaluationRequestMessage[] = [];
  const lines: string[] = [];
  const stored: Uint8Array[] = [];
  const evaluation = new LeaderDelegatedEvaluation({
    nodeId: 'node-1',
    leaderToken: () => 7,
    followers: () => ['node-2', 'node-3'],
    store: async (bytes) => {
      stored.push(bytes);
      return sha256OfBytes(bytes);
    },
    emit: (r) => requests.push(r),
    timeoutMs: 10_000,
    log: (l) => lines.push(l),
    ...overrides,
  });
  return { evaluation, requests, lines, stored };
}

/** Lets the store's promise settle so the request is emitted. */
const settle = () => new Promise((r) => setImmediate(r));

describe('LeaderDelegatedEvaluation: the leader asks its followers for holdout evaluations', () => {
  it('asks the followers in turn, stores the weights under their sha256, and resolves with the answer of the one asked', async () => {
    const { evaluation, requests, stored } = leader();
    const first = evaluation.evaluate(MANIFEST, ARRAYS);
    await settle();
    expect(requests).toEqual([{ node: 'node-1', token: 7, to: 'node-2', id: 1, sha256: SHA }]);
    expect(decodeWeights(stored[0]).arrays).toEqual(ARRAYS);
    evaluation.onResult({ node: 'node-2', to: 'node-1', id: 1, sha256: SHA, metrics: { accuracy: 0.75, loss: 0.5 } });
    await expect(first).resolves.toEqual({ accuracy: 0.75, loss: 0.5 });
    const second = evaluation.evaluate(MANIFEST, ARRAYS);
    await settle();
    expect(requests[1]).toMatchObject({ to: 'node-3', id: 2 });
    evaluation.onResult({ node: 'node-3', to: 'node-1', id: 2, sha256: SHA, metrics: { accuracy: 0.5, loss: 1 } });
    await expect(second).resolves.toEqual({ accuracy: 0.5, loss: 1 });
    void evaluation.evaluate(MANIFEST, ARRAYS);
    await settle();
    expect(requests[2]).toMatchObject({ to: 'node-2', id: 3 });
    expect(evaluation.stats).toMatchObject({ delegated: 2, fallbacks: 0 });
    evaluation.cancelAll();
  });

  it('never asks itself; with no other node, or when it does not lead, it evaluates itself without asking', async () => {
    for (const overrides of [{ followers: () => [] }, { followers: () => ['node-1'] }, { leaderToken: () => undefined }]) {
      const { evaluation, requests, stored } = leader(overrides);
      await expect(evaluation.evaluate(MANIFEST, ARRAYS)).resolves.toBeUndefined();
      expect(requests).toHaveLength(0);
      expect(stored).toHaveLength(0);
      expect(evaluation.stats.fallbacks).toBe(0);
    }
  });

  it('ignores answers of another node, for another request, for other weights or for another leader; then evaluates itself at the timeout', async () => {
    vi.useFakeTimers();
    try {
      const { evaluation, lines } = leader({ timeoutMs: 5_000 });
      const answer = evaluation.evaluate(MANIFEST, ARRAYS);
      await vi.advanceTimersByTimeAsync(0);
      const forged: EvaluationResultMessage[] = [
        { node: 'node-3', to: 'node-1', id: 1, sha256: SHA, metrics: { accuracy: 1, loss: 0 } },
        { node: 'node-2', to: 'node-1', id: 2, sha256: SHA, metrics: { accuracy: 1, loss: 0 } },
        { node: 'node-2', to: 'node-1', id: 1, sha256: OTHER_SHA, metrics: { accuracy: 1, loss: 0 } },
        { node: 'node-2', to: 'node-9', id: 1, sha256: SHA, metrics: { accuracy: 1, loss: 0 } },
      ];
      for (const m of forged) evaluation.onResult(m);
      let settled = false;
      void answer.then(() => (settled = true));
      await vi.advanceTimersByTimeAsync(4_999);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await expect(answer).resolves.toBeUndefined();
      expect(evaluation.stats).toMatchObject({ delegated: 0, fallbacks: 1 });
      expect(lines).toEqual(['holdout evaluation on this node: node node-2 did not answer within 5000 ms']);
      // A late answer to a request that timed out changes nothing.
      evaluation.onResult({ node: 'node-2', to: 'node-1', id: 1, sha256: SHA, metrics: { accuracy: 1, loss: 0 } });
      expect(evaluation.stats).toMatchObject({ delegated: 0, fallbacks: 1 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('a follower that could not evaluate: the leader evaluates itself at once, and says why (bounded)', async () => {
    const { evaluation, lines } = leader();
    const answer = evaluation.evaluate(MANIFEST, ARRAYS);
    await settle();
    evaluation.onResult({ node: 'node-2', to: 'node-1', id: 1, sha256: SHA, error: `weights gone ${'x'.repeat(400)}` });
    await expect(answer).resolves.toBeUndefined();
    expect(evaluation.stats.fallbacks).toBe(1);
    expect(lines[0]).toMatch(/^holdout evaluation on this node: node node-2 could not evaluate: weights gone x+/);
    expect(lines[0].length).toBeLessThan(300);
  });

  it('weights that cannot be stored (Redis down): evaluates itself without asking', async () => {
    const { evaluation, requests, lines } = leader({ store: async () => Promise.reject(new Error('connection lost')) });
    await expect(evaluation.evaluate(MANIFEST, ARRAYS)).resolves.toBeUndefined();
    expect(requests).toHaveLength(0);
    expect(lines).toEqual(['holdout evaluation on this node: the weights could not be stored for node node-2: connection lost']);
  });

  it('cancelAll (the node stopped leading) resolves every waiting evaluation with undefined', async () => {
    const { evaluation } = leader();
    const a = evaluation.evaluate(MANIFEST, ARRAYS);
    const b = evaluation.evaluate(MANIFEST, ARRAYS);
    await settle();
    evaluation.cancelAll();
    await expect(Promise.all([a, b])).resolves.toEqual([undefined, undefined]);
  });
});

function follower(options: { evaluate?: (w: WeightArrays) => Promise<GlobalMetrics>; loadWeights?: (sha: string) => Promise<{ manifest: WeightsManifest; arrays: WeightArrays }>; makeFails?: number } = {}) {
  const results: EvaluationResultMessage[] = [];
  const fence = new FencingTokens();
  fence.observe(5);
  let made = 0;
  let failures = options.makeFails ?? 0;
  const closed: number[] = [];
  const evaluator = new FollowerHoldoutEvaluator({
    nodeId: 'node-2',
    fence,
    loadWeights: options.loadWeights ?? (async (sha) => (sha === SHA ? { manifest: MANIFEST, arrays: ARRAYS } : Promise.reject(new Error(`the round's global weights (${sha.slice(0, 12)}…) are not in Redis`)))),
    makeEvaluator: async () => {
      made++;
      if (failures-- > 0) throw new Error('no holdout');
      return { evaluate: options.evaluate ?? (async (w) => ({ accuracy: w[0][0] / 4, loss: 0.25 })), close: async () => void closed.push(made) };
    },
    emit: (r) => results.push(r),
  });
  const until = async (n: number) => {
    const deadline = Date.now() + 5_000;
    while (results.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  };
  return { evaluator, results, until, made: () => made, closed };
}

describe('FollowerHoldoutEvaluator: a follower evaluates what the leader asks for', () => {
  const request = (over: Partial<EvaluationRequestMessage> = {}): EvaluationRequestMessage => ({ node: 'node-1', token: 5, to: 'node-2', id: 1, sha256: SHA, ...over });

  it('answers the leader with the metrics of the weights named, making its evaluator once', async () => {
    const { evaluator, results, until, made } = follower();
    evaluator.onRequest(request());
    evaluator.onRequest(request({ id: 2, token: 6 }));
    await until(2);
    expect(results).toEqual([
      { node: 'node-2', to: 'node-1', id: 1, sha256: SHA, metrics: { accuracy: 0.25, loss: 0.25 } },
      { node: 'node-2', to: 'node-1', id: 2, sha256: SHA, metrics: { accuracy: 0.25, loss: 0.25 } },
    ]);
    expect(made()).toBe(1);
    expect(evaluator.stats).toEqual({ evaluated: 2, failed: 0 });
    for (const r of results) expect(EvaluationResultMessage.safeParse(r).success).toBe(true);
  });

  it('ignores a request for another node and one of a replaced leader (a lower fencing token)', async () => {
    const { evaluator, results, made } = follower();
    evaluator.onRequest(request({ to: 'node-3' }));
    evaluator.onRequest(request({ token: 4 }));
    for (let i = 0; i < 20; i++) await settle();
    expect(results).toHaveLength(0);
    expect(made()).toBe(0);
  });

  it('answers with the reason when it cannot: weights not in Redis, non-finite metrics, an evaluator that cannot start (tried again next time)', async () => {
    const nan = follower({ evaluate: async () => ({ accuracy: Number.NaN, loss: 1 }) });
    nan.evaluator.onRequest(request());
    await nan.until(1);
    expect(nan.results[0]).toMatchObject({ id: 1, error: expect.stringMatching(/non-finite metrics/) });
    expect(nan.results[0]).not.toHaveProperty('metrics');

    const missing = follower();
    missing.evaluator.onRequest(request({ sha256: OTHER_SHA }));
    await missing.until(1);
    expect(missing.results[0]).toMatchObject({ sha256: OTHER_SHA, error: expect.stringMatching(/not in Redis/) });

    const flaky = follower({ makeFails: 1 });
    flaky.evaluator.onRequest(request());
    await flaky.until(1);
    expect(flaky.results[0].error).toBe('no holdout');
    flaky.evaluator.onRequest(request({ id: 2 }));
    await flaky.until(2);
    expect(flaky.results[1].metrics).toEqual({ accuracy: 0.25, loss: 0.25 });
    expect(flaky.made()).toBe(2);
    expect(flaky.evaluator.stats).toEqual({ evaluated: 1, failed: 1 });
  });

  it('evaluates one request at a time, in order', async () => {
    let running = 0;
    let most = 0;
    const { evaluator, results, until } = follower({
      evaluate: async (w) => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return { accuracy: w[0][0] / 4, loss: 0 };
      },
    });
    for (let id = 1; id <= 4; id++) evaluator.onRequest(request({ id }));
    await until(4);
    expect(results.map((r) => r.id)).toEqual([1, 2, 3, 4]);
    expect(most).toBe(1);
  });

  it('warm makes the evaluator ahead of the first request; close closes it', async () => {
    const { evaluator, made, closed } = follower();
    evaluator.warm();
    evaluator.warm();
    await settle();
    expect(made()).toBe(1);
    await evaluator.close();
    expect(closed).toEqual([1]);
  });

  it('warm tries once: an evaluator that could not be made is tried again only when a request comes', async () => {
    const { evaluator, made, results, until } = follower({ makeFails: 1 });
    evaluator.warm();
    await settle();
    evaluator.warm();
    evaluator.warm();
    await settle();
    expect(made()).toBe(1);
    evaluator.onRequest(request());
    await until(1);
    expect(made()).toBe(2);
    expect(results[0].metrics).toEqual({ accuracy: 0.25, loss: 0.25 });
  });
});

describe('the evaluation messages refuse what a hostile node could send', () => {
  const ok = { node: 'node-2', to: 'node-1', id: 1, sha256: SHA };
  it.each([
    ['both metrics and an error', { ...ok, metrics: { accuracy: 0.5, loss: 1 }, error: 'x' }],
    ['neither metrics nor an error', ok],
    ['accuracy above 1', { ...ok, metrics: { accuracy: 1.5, loss: 1 } }],
    ['negative loss', { ...ok, metrics: { accuracy: 0.5, loss: -1 } }],
    ['an infinite loss', { ...ok, metrics: { accuracy: 0.5, loss: Number.POSITIVE_INFINITY } }],
    ['extra metrics fields', { ...ok, metrics: { accuracy: 0.5, loss: 1, probes: {} } }],
    ['an error longer than 500 characters', { ...ok, error: 'x'.repeat(501) }],
    ['a malformed sha256', { ...ok, sha256: 'abc', metrics: { accuracy: 0.5, loss: 1 } }],
    ['a request id of 0', { ...ok, id: 0, metrics: { accuracy: 0.5, loss: 1 } }],
    ['a node id with a slash', { ...ok, node: 'a/b', metrics: { accuracy: 0.5, loss: 1 } }],
    ['an unknown field', { ...ok, metrics: { accuracy: 0.5, loss: 1 }, extra: 1 }],
  ])('result: %s', (_name, message) => {
    expect(EvaluationResultMessage.safeParse(message).success).toBe(false);
  });

  it.each([
    ['a token of 0', { node: 'node-1', token: 0, to: 'node-2', id: 1, sha256: SHA }],
    ['a missing target', { node: 'node-1', token: 1, id: 1, sha256: SHA }],
    ['weights named by something else than a sha256', { node: 'node-1', token: 1, to: 'node-2', id: 1, sha256: '../../etc/passwd' }],
    ['an unknown field', { node: 'node-1', token: 1, to: 'node-2', id: 1, sha256: SHA, weights: [1, 2] }],
  ])('request: %s', (_name, message) => {
    expect(EvaluationRequestMessage.safeParse(message).success).toBe(false);
  });

  it('accepts the bounds', () => {
    expect(EvaluationResultMessage.safeParse({ ...ok, metrics: { accuracy: 0, loss: 0 } }).success).toBe(true);
    expect(EvaluationResultMessage.safeParse({ ...ok, metrics: { accuracy: 1, loss: 1e9 } }).success).toBe(true);
    expect(EvaluationResultMessage.safeParse({ ...ok, error: 'x'.repeat(500) }).success).toBe(true);
  });
});

describe('DelegatedEvaluationModel: a global model whose holdout evaluation is offered elsewhere first', () => {
  const inner: GlobalModel = {
    architecture: 'mlp',
    manifest: MANIFEST,
    topology: { t: 1 },
    initialWeights: ARRAYS,
    evaluate: async () => ({ accuracy: 0.1, loss: 9 }),
    fitTemperature: async () => ({ temperature: 2, fittedOn: 3 }),
    save: async (round) => `models/round-${round}`,
  };

  it('takes the answer from elsewhere when there is one, else evaluates with the inner model; the rest is the inner model\'s', async () => {
    const answers: Array<GlobalMetrics | undefined> = [{ accuracy: 0.9, loss: 0.1 }, undefined];
    const model = new DelegatedEvaluationModel(inner, async () => answers.shift());
    await expect(model.evaluate(ARRAYS)).resolves.toEqual({ accuracy: 0.9, loss: 0.1 });
    await expect(model.evaluate(ARRAYS)).resolves.toEqual({ accuracy: 0.1, loss: 9 });
    expect([model.architecture, model.manifest, model.topology, model.initialWeights]).toEqual([inner.architecture, inner.manifest, inner.topology, inner.initialWeights]);
    await expect(model.save(3, ARRAYS)).resolves.toBe('models/round-3');
    await expect(model.fitTemperature!(ARRAYS)).resolves.toEqual({ temperature: 2, fittedOn: 3 });
    expect(model.evaluateRobustness).toBeUndefined();
    expect(model.prepareRobustness).toBeUndefined();
  });
});
