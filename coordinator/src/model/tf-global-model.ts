import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { newAttackRowClaims, evaluateModel, evaluateModelYielding, evaluateRobustness, fitTemperature, temperatureStats, type TemperatureStats, PerturbedInputs, modelLogits, type RobustnessOptions, type RobustnessReport, modelManifest, modelToFiles, modelTopology, readModelWeights, writeModelWeights, type Dataset, type ModelTextSection, type WeightArrays, type WeightsManifest, fitDatasetToModel, modelInterfaceOf, vocabularyFileOf } from '@fedtune/shared';
import { VOCABULARY_FILE } from '@fedtune/shared/node';
import { writeFileDurable } from '../persistence/write-file-durable.ts';
import type { GlobalMetrics, GlobalModel } from '../engine/global-model.ts';
import { EvaluationThread } from '../evaluation/evaluation-thread.ts';

/** A named dataset whose accuracy the coordinator also reports every round. */
export interface EvaluationProbe {
  name: string;
  data: Dataset;
}

export interface TfGlobalModelOptions {
  /**
   * Where the holdout evaluation, temperature fit and robustness evaluation run: 'worker' (default) on a
   * worker thread with its own tfjs engine (evaluation-thread.ts), so the event loop stays free and a
   * robustness evaluation can overlap the next round; 'in-process' on this thread. A worker that cannot
   * start falls back to in-process, with a warning.
   */
  evaluation?: 'worker' | 'in-process';
  onWarning?: (message: string) => void;
  /**
   * With worker evaluation: a second evaluation worker, started (and warmed) at the start of the first round that
   * evaluates robustness (prepareRobustnessHelper), that computes part of every robustness evaluation's PGD rows
   * while the first worker does the rest (shared-attack-rows.ts): the same report, its bulk on two threads.
   * Default: when the machine has more than one core and the coordinator runs compiled (from TypeScript sources a
   * worker boots through tsx, ~1 s of CPU, more than it saves).
   */
  robustnessHelper?: boolean;
  /** A text model's vocabulary (the model directory's vocab.json: readModelText), sent to the sites with the topology. */
  text?: ModelTextSection;
}

/** Whether a robustness helper is started by default: more than one core, and compiled JavaScript (see TfGlobalModelOptions.robustnessHelper). */
export function defaultRobustnessHelper(cores = availableParallelism(), moduleUrl = import.meta.url): boolean {
  return cores > 1 && !moduleUrl.endsWith('.ts');
}

/**
 * The coordinator's global model backed by a tfjs LayersModel: evaluates on the coordinator's held-out
 * set and saves each round in the standard TensorFlow.js format under `<runDir>/models/round-N/`.
 */
export class TfGlobalModel implements GlobalModel {
  readonly manifest: WeightsManifest;
  readonly topology: Record<string, unknown>;
  readonly initialWeights: WeightArrays;
  readonly text?: ModelTextSection;
  private readonly holdout: Dataset;

  constructor(
    private readonly model: tf.LayersModel,
    holdout: Dataset,
    private readonly runDir: string,
    readonly architecture: string,
    private readonly metadata: Record<string, unknown> = {},
    private readonly probes: EvaluationProbe[] = [],
    options: TfGlobalModelOptions = {},
  ) {
    // A holdout that does not fit the model is refused here, with what does not fit, before any site trains.
    this.holdout = fitDatasetToModel(holdout, modelInterfaceOf(model), 'the holdout');
    this.manifest = modelManifest(model);
    this.topology = modelTopology(model);
    this.initialWeights = readModelWeights(model).arrays;
    if (options.text) this.text = options.text;
    if ((options.evaluation ?? 'worker') === 'worker') {
      try {
        const init = { backend: tf.getBackend(), topology: this.topology, holdout: this.holdout, probes: this.probes.map((p) => ({ name: p.name, data: p.data })) };
        const thread = new EvaluationThread(init);
        this.thread = thread.ready.then((ok) => {
          this.threadReady = ok;
          if (ok) return thread;
          // A run that ended (or aborted) before its worker was ready closed it: nothing failed to start.
          if (!thread.closed) options.onWarning?.('the evaluation worker could not start: evaluating on the main thread');
          return undefined;
        });
        this.evaluationThread = thread;
        this.helperWanted = options.robustnessHelper ?? defaultRobustnessHelper();
        this.workerInit = init;
      } catch (err) {
        options.onWarning?.(`the evaluation worker could not start (${String((err as Error)?.message ?? err).slice(0, 300)}): evaluating on the main thread`);
      }
    }
  }

  /** The evaluation worker, when one was started (it may have failed: see `evaluatesInWorker`). */
  readonly evaluationThread?: EvaluationThread;
  private helperWanted = false;
  private workerInit?: ConstructorParameters<typeof EvaluationThread>[0];
  /** The robustness helper (options.robustnessHelper), once started. */
  robustnessHelperThread?: EvaluationThread;
  private nextHelperId = 1;
  /** How the last robustness evaluation's PGD rows were split: rows the helper computed (0 without a helper). */
  lastRobustnessHelperRows = 0;

  /**
   * Starts the robustness helper (when wanted and not started), and warms it: a tiny PGD run compiles the
   * attack's code paths there, which a cold helper would otherwise compile during its first rows.
   */
  prepareRobustnessHelper(options: RobustnessOptions): void {
    if (this.robustnessHelperThread || this.threadReady === false) return;
    // Nothing to share without PGD rows.
    if ((options.pgd === false || (Array.isArray(options.pgd) && options.pgd.length === 0)) && !options.pgdL2) return;
    if (options.adversarialExamples === 0) return;
    const helper = this.robustnessHelper();
    helper?.warmAttacks(this.initialWeights, options).catch(() => undefined);
  }

  /** Starts the robustness helper when wanted (once); undefined when there is none. */
  private robustnessHelper(): EvaluationThread | undefined {
    if (!this.helperWanted || !this.workerInit) return undefined;
    if (!this.robustnessHelperThread) {
      try {
        this.robustnessHelperThread = new EvaluationThread(this.workerInit);
      } catch {
        this.helperWanted = false; // the evaluations run whole on the first worker
        return undefined;
      }
    }
    return this.robustnessHelperThread;
  }
  /** The worker once ready, or undefined (in-process evaluation). */
  private readonly thread: Promise<EvaluationThread | undefined> = Promise.resolve(undefined);

  /** Set once the worker has answered whether it started. */
  private threadReady: boolean | undefined;

  /** Whether evaluations run on the worker thread (false: in-process, by choice or fallback). */
  async evaluatesInWorker(): Promise<boolean> {
    return (await this.thread) !== undefined;
  }

  async evaluate(weights: WeightArrays): Promise<GlobalMetrics> {
    // The holdout evaluation is quick: while the worker is still starting (the pretrained model's evaluation at
    // the start of a run), it runs here rather than waiting for it, with the same numbers.
    const thread = this.threadReady === undefined ? undefined : await this.thread;
    if (thread) return thread.evaluate(weights);
    return this.holdingModel(async () => {
      writeModelWeights(this.model, weights);
      // A batch at a time with the event loop turning in between (same numbers): the server keeps answering.
      const m = await evaluateModelYielding(this.model, this.holdout);
      if (this.probes.length === 0) return { accuracy: m.accuracy, loss: m.loss };
      const probes = Object.fromEntries(this.probes.map((p) => [p.name, evaluateModel(this.model, p.data).accuracy]));
      return { accuracy: m.accuracy, loss: m.loss, probes };
    });
  }

  /** Work that sets this.model's weights and awaits: one at a time, so no other can set them in between. */
  private holdingModel<T>(work: () => Promise<T>): Promise<T> {
    const run = this.modelHeld.then(work);
    this.modelHeld = run.catch(() => undefined);
    return run;
  }

  private modelHeld: Promise<unknown> = Promise.resolve();

  async evaluateRobustness(weights: WeightArrays, options: RobustnessOptions): Promise<RobustnessReport> {
    const thread = await this.thread;
    if (thread) {
      const helper = this.robustnessHelper();
      if (!helper) return thread.evaluateRobustness(weights, options);
      const claims = newAttackRowClaims();
      const helperId = this.nextHelperId++;
      let helperRows = 0;
      helper.attackRows(weights, options, claims).then(
        (rows) => {
          helperRows = rows.rows.length;
          thread.sendHelperRows(helperId, rows);
        },
        // A helper that fails (or never started) leaves its rows to the evaluation itself: the report is whole.
        () => thread.sendHelperRows(helperId, null),
      );
      const report = await thread.evaluateRobustness(weights, options, { claims, helperId });
      this.lastRobustnessHelperRows = helperRows;
      return report;
    }
    // In-process, a robustness evaluation may overlap the next round's holdout evaluation and save, which
    // set this.model's weights: it runs on its own copy of the model, one at a time.
    const run = this.robustnessQueue.then(async () => {
      const model = await (this.robustnessModel ??= tf.models.modelFromJSON({ modelTopology: this.topology } as unknown as tf.io.ModelJSON));
      writeModelWeights(model, weights);
      return evaluateRobustness(model, this.holdout, options, { inputs: (this.perturbed ??= new PerturbedInputs()) });
    });
    this.robustnessQueue = run.catch(() => undefined);
    return run;
  }

  private robustnessModel?: Promise<tf.LayersModel>;
  private robustnessQueue: Promise<unknown> = Promise.resolve();
  /** In-process: the holdout's noisy and corrupted copies, kept from one robustness evaluation to the next. */
  private perturbed?: PerturbedInputs;

  /**
   * Starts making the robustness evaluation's noisy and corrupted holdout copies on the evaluation worker, in
   * chunks between its holdout evaluations, so the (final) robustness evaluation finds them made. Resolves with
   * how many it made; 0 in-process (there they are made at the first evaluation, on this thread, and kept).
   */
  async prepareRobustness(options: RobustnessOptions): Promise<number> {
    const thread = await this.thread;
    return thread ? thread.prepareRobustness(options) : 0;
  }

  async fitTemperature(weights: WeightArrays): Promise<{ temperature: number; fittedOn: number }> {
    const thread = await this.thread;
    if (thread) return thread.fitTemperature(weights);
    return this.holdingModel(async () => {
      writeModelWeights(this.model, weights);
      return { temperature: fitTemperature(modelLogits(this.model, this.holdout), this.holdout.y), fittedOn: this.holdout.y.length };
    });
  }

  async calibrationReference(weights: WeightArrays, betas: readonly number[]): Promise<{ betas: number[]; count: number; stats: TemperatureStats[] }> {
    // On the evaluation worker when there is one (a forward pass over the holdout, once per federated fit).
    const thread = await this.thread;
    if (thread) return thread.calibrationStats(weights, betas);
    return this.holdingModel(async () => {
      writeModelWeights(this.model, weights);
      return { betas: [...betas], count: this.holdout.y.length, stats: temperatureStats(modelLogits(this.model, this.holdout), this.holdout.y, betas) };
    });
  }

  get holdoutSize(): number {
    return this.holdout.y.length;
  }

  async save(round: number, weights: WeightArrays, metadata: Record<string, unknown> = {}): Promise<string> {
    const files = await this.holdingModel(() => {
      writeModelWeights(this.model, weights);
      return modelToFiles(this.model, { ...this.metadata, round, ...metadata });
    });
    const rel = join('models', `round-${round}`);
    const dir = join(this.runDir, rel);
    // weights first, then model.json: a model.json always points at complete weights. Durable (fsync'd), with
    // the fsync on libuv's threads so the event loop keeps serving sites meanwhile.
    await writeFileDurable(join(dir, 'weights.bin'), [files.weightsBin]);
    // A text model's vocabulary is part of the model (docs/text.md): without it the directory cannot be a run's --model again.
    if (this.text) await writeFileDurable(join(dir, VOCABULARY_FILE), [Buffer.from(JSON.stringify(vocabularyFileOf(this.text)), 'utf8')]);
    await writeFileDurable(join(dir, 'model.json'), [Buffer.from(JSON.stringify(files.modelJson), 'utf8')]);
    return rel;
  }

  /** Terminates the evaluation worker (at the end of the run); later evaluations fail. */
  async closeEvaluation(): Promise<void> {
    await Promise.all([this.evaluationThread?.close(), this.robustnessHelperThread?.close()]);
  }

  dispose(): void {
    void this.closeEvaluation();
    this.model.dispose();
    void this.robustnessModel?.then((m) => m.dispose());
  }
}
