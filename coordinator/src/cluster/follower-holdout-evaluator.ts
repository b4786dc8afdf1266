import { clipText, type Weights } from '@fedtune/shared';
import type { GlobalMetrics } from '../engine/global-model.ts';
import type { EvaluationRequestMessage, EvaluationResultMessage } from './evaluation-messages.ts';
import type { FencingTokens } from './fencing-check.ts';

/** What a follower evaluates with: the run's model on its copy of the holdout (a TfGlobalModel, made once). */
export interface HoldoutEvaluator {
  evaluate(weights: Weights['arrays']): Promise<GlobalMetrics>;
  close(): Promise<void>;
}

export interface FollowerHoldoutEvaluatorOptions {
  nodeId: string;
  /** Leader tokens seen: a request of a replaced leader is ignored. */
  fence: FencingTokens;
  /** The weights the leader stored in Redis, by their sha256 (checked), decoded. */
  loadWeights: (sha256: string) => Promise<Weights>;
  /** Makes the evaluator (loads the model and the holdout); called once, at the first request or `warm`. */
  makeEvaluator: () => Promise<HoldoutEvaluator>;
  emit: (result: EvaluationResultMessage) => void;
}

/**
 * A follower's side of evaluation on a follower (docs/cluster.md, "Evaluation on a follower"): asked by the
 * leader, it loads the named weights from Redis, evaluates them on its holdout, one request at a time, and
 * answers with the metrics only. A request for another node or from a replaced leader is ignored; anything
 * that fails (weights gone from Redis, a model that does not fit them, non-finite metrics) is answered with
 * the reason, and the leader evaluates itself.
 */
export class FollowerHoldoutEvaluator {
  private evaluator?: Promise<HoldoutEvaluator>;
  private queue: Promise<unknown> = Promise.resolve();
  /** Requests answered with metrics, and with an error. */
  readonly stats = { evaluated: 0, failed: 0 };

  constructor(private readonly options: FollowerHoldoutEvaluatorOptions) {}

  /**
   * Makes the evaluator ahead of the first request (e.g. when a leader is announced), so that request is not
   * slow. Once per node: an evaluator that could not be made (no holdout here) is tried again only when asked.
   */
  warm(): void {
    if (this.warmed) return;
    this.warmed = true;
    this.evaluatorOnce().catch(() => undefined);
  }

  private warmed = false;

  onRequest(m: EvaluationRequestMessage): void {
    if (m.to !== this.options.nodeId || !this.options.fence.admit(m.token)) return;
    const run = this.queue.then(() => this.answer(m));
    this.queue = run.catch(() => undefined);
  }

  async close(): Promise<void> {
    const evaluator = this.evaluator;
    this.evaluator = undefined;
    await (await evaluator?.catch(() => undefined))?.close();
  }

  private evaluatorOnce(): Promise<HoldoutEvaluator> {
    if (!this.evaluator) {
      this.evaluator = this.options.makeEvaluator();
      // A failed start is tried again at the next request.
      this.evaluator.catch(() => (this.evaluator = undefined));
    }
    return this.evaluator;
  }

  private async answer(m: EvaluationRequestMessage): Promise<void> {
    const reply = { node: this.options.nodeId, to: m.node, id: m.id, sha256: m.sha256 };
    try {
      const [weights, evaluator] = await Promise.all([this.options.loadWeights(m.sha256), this.evaluatorOnce()]);
      const metrics = await evaluator.evaluate(weights.arrays);
      if (!Number.isFinite(metrics.accuracy) || !Number.isFinite(metrics.loss)) throw new Error(`non-finite metrics (accuracy ${metrics.accuracy}, loss ${metrics.loss})`);
      this.stats.evaluated++;
      this.options.emit({ ...reply, metrics: { accuracy: metrics.accuracy, loss: metrics.loss } });
    } catch (err) {
      this.stats.failed++;
      this.options.emit({ ...reply, error: clipText((err as Error)?.message ?? String(err), 500) });
    }
  }
}
