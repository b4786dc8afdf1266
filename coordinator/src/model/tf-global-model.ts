import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { evaluateModel, evaluateRobustness, fitTemperature, modelLogits, type RobustnessOptions, type RobustnessReport, modelManifest, modelToFiles, modelTopology, readModelWeights, writeModelWeights, type Dataset, type WeightArrays, type WeightsManifest, fitDatasetToModel, modelInterfaceOf } from '@fedtune/shared';
import { writeFileDurable } from '../persistence/write-file-durable.ts';
import type { GlobalMetrics, GlobalModel } from '../engine/global-model.ts';

/** A named dataset whose accuracy the coordinator also reports every round. */
export interface EvaluationProbe {
  name: string;
  data: Dataset;
}

/**
 * The coordinator's global model backed by a tfjs LayersModel: evaluates on the coordinator's held-out
 * set and saves each round in the standard TensorFlow.js format under `<runDir>/models/round-N/`.
 */
export class TfGlobalModel implements GlobalModel {
  readonly manifest: WeightsManifest;
  readonly topology: Record<string, unknown>;
  readonly initialWeights: WeightArrays;
  private readonly holdout: Dataset;

  constructor(
    private readonly model: tf.LayersModel,
    holdout: Dataset,
    private readonly runDir: string,
    readonly architecture: string,
    private readonly metadata: Record<string, unknown> = {},
    private readonly probes: EvaluationProbe[] = [],
  ) {
    // A holdout that does not fit the model is refused here, with what does not fit, before any site trains.
    this.holdout = fitDatasetToModel(holdout, modelInterfaceOf(model), 'the holdout');
    this.manifest = modelManifest(model);
    this.topology = modelTopology(model);
    this.initialWeights = readModelWeights(model).arrays;
  }

  async evaluate(weights: WeightArrays): Promise<GlobalMetrics> {
    writeModelWeights(this.model, weights);
    const m = evaluateModel(this.model, this.holdout);
    if (this.probes.length === 0) return { accuracy: m.accuracy, loss: m.loss };
    const probes = Object.fromEntries(this.probes.map((p) => [p.name, evaluateModel(this.model, p.data).accuracy]));
    return { accuracy: m.accuracy, loss: m.loss, probes };
  }

  async evaluateRobustness(weights: WeightArrays, options: RobustnessOptions): Promise<RobustnessReport> {
    writeModelWeights(this.model, weights);
    return evaluateRobustness(this.model, this.holdout, options);
  }

  async fitTemperature(weights: WeightArrays): Promise<{ temperature: number; fittedOn: number }> {
    writeModelWeights(this.model, weights);
    return { temperature: fitTemperature(modelLogits(this.model, this.holdout), this.holdout.y), fittedOn: this.holdout.y.length };
  }

  async save(round: number, weights: WeightArrays, metadata: Record<string, unknown> = {}): Promise<string> {
    writeModelWeights(this.model, weights);
    const files = await modelToFiles(this.model, { ...this.metadata, round, ...metadata });
    const rel = join('models', `round-${round}`);
    const dir = join(this.runDir, rel);
    // weights first, then model.json: a model.json always points at complete weights. Durable (fsync'd), with
    // the fsync on libuv's threads so the event loop keeps serving sites meanwhile.
    await writeFileDurable(join(dir, 'weights.bin'), [files.weightsBin]);
    await writeFileDurable(join(dir, 'model.json'), [Buffer.from(JSON.stringify(files.modelJson), 'utf8')]);
    return rel;
  }

  dispose(): void {
    this.model.dispose();
  }
}
