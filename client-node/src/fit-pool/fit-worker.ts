/**
 * A fit thread of the simulation's FitPool: its own tfjs engine and wasm instance. It holds the sites'
 * datasets (shared memory, sent once) and one model per architecture; each fit loads the site's weights and
 * layer flags into that model and runs the very `fitLocal` the main thread would, then returns the weights.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { FedtuneError, fitLocal, modelFromTopology, readModelWeights, writeModelWeights, type Dataset } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import type { FromFitWorker, ToFitWorker } from './fit-pool-messages.ts';

type FitMessage = Extract<ToFitWorker, { type: 'fit' }>;

const port = parentPort!;
const datasets = new Map<number, Dataset>();
const topologies = new Map<number, Record<string, unknown>>();
const models = new Map<number, tf.LayersModel>();
let work: Promise<void> = Promise.resolve();

function send(message: FromFitWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

/** Tensors alive in this thread beyond the cached models' weights (what a leak would grow). */
function strayTensors(): number {
  let held = 0;
  for (const m of models.values()) held += m.weights.length;
  return tf.memory().numTensors - held;
}

async function modelOf(topologyId: number): Promise<tf.LayersModel> {
  const cached = models.get(topologyId);
  if (cached) return cached;
  const topology = topologies.get(topologyId);
  if (!topology) throw new Error(`no model topology ${topologyId}`);
  const model = await modelFromTopology(topology);
  models.set(topologyId, model);
  return model;
}

async function fit(msg: FitMessage): Promise<void> {
  const train = datasets.get(msg.trainId);
  const validation = msg.validationId !== undefined ? datasets.get(msg.validationId) : undefined;
  if (!train || (msg.validationId !== undefined && !validation)) throw new Error('a fit names data this thread does not hold');
  const model = await modelOf(msg.topologyId);
  if (msg.trainable.length !== model.layers.length) throw new Error('the layer flags do not match the model');
  writeModelWeights(model, msg.weights);
  model.layers.forEach((l, i) => (l.trainable = msg.trainable[i]));
  try {
    const onProgress = msg.progress ? (progress: Parameters<NonNullable<Parameters<typeof fitLocal>[3]>>[0]) => send({ type: 'progress', fitId: msg.fitId, progress }) : undefined;
    const metrics = await fitLocal(model, train, msg.config, onProgress, { ...(validation ? { validation } : {}), keepTrainable: msg.keepTrainable });
    const weights = readModelWeights(model).arrays;
    send({ type: 'done', fitId: msg.fitId, metrics, weights, numTensors: strayTensors() }, weights.map((w) => w.buffer as ArrayBuffer));
  } catch (err) {
    // fitLocal's typed errors (a diverged fit, a config it refuses) reach the site as they would in-process.
    const code = err instanceof FedtuneError ? err.code : 'internal';
    send({ type: 'done', fitId: msg.fitId, error: { code, message: String((err as Error)?.message ?? err).slice(0, 2000) }, numTensors: strayTensors() });
  }
}

port.on('message', (msg: ToFitWorker) => {
  // Everything runs in arrival order, one fit at a time.
  work = work
    .then(async () => {
      if (msg.type === 'setup') {
        await selectNodeBackend(msg.backend);
        send({ type: 'ready' });
      } else if (msg.type === 'data') datasets.set(msg.dataId, msg.data);
      else if (msg.type === 'topology') topologies.set(msg.topologyId, msg.topology);
      else if (msg.type === 'fit') await fit(msg);
      else if (msg.type === 'memory') send({ type: 'memory', numTensors: strayTensors() });
    })
    .catch((err: unknown) => send({ type: 'error', message: String((err as Error)?.message ?? err).slice(0, 500) }));
});
