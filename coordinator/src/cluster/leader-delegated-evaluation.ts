import { clipText, encodeWeights, type WeightArrays, type WeightsManifest } from '@fedtune/shared';
import type { GlobalMetrics } from '../engine/global-model.ts';
import type { EvaluationRequestMessage, EvaluationResultMessage } from './evaluation-messages.ts';

export interface LeaderDelegatedEvaluationOptions {
  nodeId: string;
  /** The fencing token this node leads with, or undefined when it does not lead. */
  leaderToken: () => number | undefined;
  /** The other nodes heard from recently, in a fixed order: the followers asked in turn. */
  followers: () => string[];
  /** Puts the encoded weights where the followers read them (Redis, by their sha256); resolves with the sha256. */
  store: (bytes: Uint8Array) => Promise<string>;
  /** Removes that copy once the follower answered or the leader gave up on it. */
  drop?: (sha256: string) => void;
  emit: (request: EvaluationRequestMessage) => void;
  /** How long a follower may take before the leader evaluates itself. */
  timeoutMs: number;
  log?: (line: string) => void;
}

interface Pending {
  follower: string;
  sha256: string;
  resolve: (metrics: GlobalMetrics | undefined) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The leader's side of evaluation on a follower (docs/cluster.md, "Evaluation on a follower"): the holdout
 * evaluation of a round's model — the leader's largest fixed cost per round after persistence — goes to the
 * followers in turn, so the busiest node is not also the one that evaluates. `evaluate` resolves with the
 * follower's metrics, or with undefined when no follower is there, the weights could not be stored, or the
 * follower answered with an error or not within `timeoutMs`: the leader then evaluates locally (same numbers:
 * the same weights on the same holdout with the same code). Results of another request, of another node than
 * the one asked, or for other weights are ignored.
 */
export class LeaderDelegatedEvaluation {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private turn = 0;
  /** Evaluations answered by a follower, and those the leader made itself after asking (`fallbacks`, with the last reason). */
  readonly stats = { delegated: 0, fallbacks: 0, lastFallback: '' };

  constructor(private readonly options: LeaderDelegatedEvaluationOptions) {}

  async evaluate(manifest: WeightsManifest, arrays: WeightArrays): Promise<GlobalMetrics | undefined> {
    const token = this.options.leaderToken();
    const followers = this.options.followers().filter((n) => n !== this.options.nodeId);
    if (token === undefined || followers.length === 0) return undefined;
    const follower = followers[this.turn++ % followers.length];
    let sha256: string;
    try {
      sha256 = await this.options.store(encodeWeights({ manifest, arrays }));
    } catch (err) {
      return this.fallback(`the weights could not be stored for node ${follower}: ${clipText((err as Error)?.message ?? err, 200)}`);
    }
    const id = this.nextId++;
    const answer = new Promise<GlobalMetrics | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.options.drop?.(sha256);
        resolve(this.fallback(`node ${follower} did not answer within ${this.options.timeoutMs} ms`));
      }, this.options.timeoutMs);
      timer.unref?.();
      this.pending.set(id, { follower, sha256, resolve, timer });
    });
    this.options.emit({ node: this.options.nodeId, token, to: follower, id, sha256 });
    return answer;
  }

  /** A follower's answer (already schema-checked): only the one asked, for the weights asked, counts. */
  onResult(m: EvaluationResultMessage): void {
    if (m.to !== this.options.nodeId) return;
    const p = this.pending.get(m.id);
    if (!p || p.follower !== m.node || p.sha256 !== m.sha256) return;
    this.pending.delete(m.id);
    clearTimeout(p.timer);
    this.options.drop?.(p.sha256);
    if (m.metrics) {
      this.stats.delegated++;
      p.resolve({ accuracy: m.metrics.accuracy, loss: m.metrics.loss });
    } else p.resolve(this.fallback(`node ${m.node} could not evaluate: ${clipText(m.error ?? '', 200)}`));
  }

  /** The leader stopped leading: every waiting evaluation is made locally. */
  cancelAll(): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      this.options.drop?.(p.sha256);
      p.resolve(undefined);
    }
  }

  private fallback(reason: string): undefined {
    this.stats.fallbacks++;
    this.stats.lastFallback = reason;
    this.options.log?.(`holdout evaluation on this node: ${reason}`);
    return undefined;
  }
}
