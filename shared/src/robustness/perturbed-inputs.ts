import type { Dataset } from '../data/dataset.ts';
import { applyCorruption, corruptExamples } from './apply-corruption.ts';
import type { RobustnessOptions } from './evaluate-robustness.ts';
import { perturbationPlan, type Perturbation, type PerturbationPlan } from './perturbation-plan.ts';
import { nextTurn } from '../client/yield-to-event-loop.ts';


/** What a PerturbedInputs holds and has done (tests, logs). */
export interface PerturbedInputsStats {
  /** Perturbed copies held now, and the bytes of their values. */
  held: number;
  heldBytes: number;
  /** Copies made (by `get` or `prepare`) and copies handed out again without remaking them. */
  made: number;
  reused: number;
}

/**
 * The noisy and corrupted copies of a robustness evaluation's sample, kept between evaluations. They depend on
 * the data, the sample, the seed, the geometry, the range and the corruption (a Perturbation's key), never on
 * the model, so the coordinator's evaluation worker makes them once, ahead of the first evaluation
 * (`prepare`, in chunks that leave its event loop free for the round's holdout evaluations), and every
 * robustness evaluation of the same data reuses them: the same examples, so the same numbers, without
 * remaking 19 copies of 500 examples on the final round's critical path (docs/performance.md).
 *
 * Holds copies of one dataset (another `data` drops them), at most `maxHeld` of them and `maxBytes` of their
 * values (the oldest go first; `prepare` stops rather than drop what it made). The defaults hold the built-in
 * task's 19 copies (≈ 30 MB); a dataset of large images holds fewer, and one copy larger than `maxBytes` none.
 */
export class PerturbedInputs {
  private data?: Dataset;
  private readonly held = new Map<string, Dataset>();
  private heldBytes = 0;
  private made = 0;
  private reused = 0;

  constructor(
    private readonly maxHeld = 64,
    private readonly maxBytes = 256 * 2 ** 20,
  ) {}

  stats(): PerturbedInputsStats {
    return { held: this.held.size, heldBytes: this.heldBytes, made: this.made, reused: this.reused };
  }

  /** The perturbed copy of `plan.ds` for `p` (planned from `data`), made now unless held. */
  get(data: Dataset, plan: PerturbationPlan, p: Perturbation): Dataset {
    const held = this.lookup(data, p.key);
    if (held) {
      this.reused++;
      return held;
    }
    const made = applyCorruption(plan.ds, p.corruption, { geometry: plan.geometry, seed: plan.seed, ...(plan.stats ? { stats: plan.stats } : {}) });
    this.made++;
    this.keep(data, p.key, made);
    return made;
  }

  /**
   * Makes every copy an evaluateRobustness(model, data, options) will ask for, `chunkExamples` examples at a
   * time with a yield to the event loop between chunks; copies already held are skipped. Resolves with the
   * number it made (none when it holds none: maxHeld < 1). Invalid options make nothing and throw the evaluation's
   * own error.
   */
  async prepare(data: Dataset, options: RobustnessOptions = {}, chunkExamples = 50): Promise<number> {
    const plan = perturbationPlan(data, options);
    // Nothing could be held: making copies would only cost time.
    if (this.maxHeld < 1) return 0;
    const bytes = plan.ds.x.byteLength;
    const step = Math.max(1, Math.floor(chunkExamples));
    let count = 0;
    for (const p of plan.perturbations) {
      if (this.lookup(data, p.key)) continue;
      // Full: what is held stays (the evaluation will make the rest itself, as without preparation).
      const sameData = this.data === data;
      if ((sameData ? this.held.size : 0) >= this.maxHeld || (sameData ? this.heldBytes : 0) + bytes > this.maxBytes) break;
      const x = plan.ds.x.slice();
      const corruptOptions = { geometry: plan.geometry, seed: plan.seed, ...(plan.stats ? { stats: plan.stats } : {}) };
      for (let from = 0; from < plan.ds.y.length; from += step) {
        corruptExamples(x, plan.ds, p.corruption, corruptOptions, from, from + step);
        await nextTurn();
      }
      // An evaluation may have made this copy meanwhile (the same values): keep the one held.
      if (this.lookup(data, p.key)) continue;
      this.made++;
      this.keep(data, p.key, { ...plan.ds, x, featureShape: [...plan.ds.featureShape] });
      count++;
    }
    return count;
  }

  private lookup(data: Dataset, key: string): Dataset | undefined {
    return this.data === data ? this.held.get(key) : undefined;
  }

  private keep(data: Dataset, key: string, copy: Dataset): void {
    if (this.data !== data) {
      this.held.clear();
      this.heldBytes = 0;
      this.data = data;
    }
    const bytes = copy.x.byteLength;
    if (this.maxHeld < 1 || bytes > this.maxBytes) return;
    while (this.held.size >= this.maxHeld || this.heldBytes + bytes > this.maxBytes) {
      const [oldest, dropped] = this.held.entries().next().value!;
      this.held.delete(oldest);
      this.heldBytes -= dropped.x.byteLength;
    }
    this.held.set(key, copy);
    this.heldBytes += bytes;
  }
}
