/**
 * The whole secure-aggregation protocol in memory: one `SecAggSite` per input and one `SecAggServer`, every
 * message passed through structuredClone (so only plain data crosses, as on the wire), with sites that stop
 * at a chosen phase. Used by the tests and the benchmark; the round engine runs the same two classes over
 * its transport.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { FedtuneError } from '../errors.ts';
import type { WeightArrays } from '../weights.ts';
import { ChaChaRandom } from './chacha-random.ts';
import { dequantize, fixedPointConfig, type DequantizedSum, type FixedPointConfig } from './fixed-point.ts';
import type { SecAggConfig, SecAggMaskedInput, SecAggMessage } from './secagg-messages.ts';
import { SecAggServer, type SecAggAggregate } from './secagg-server.ts';
import { SecAggSite } from './secagg-site.ts';

/** The first message a site fails to send (it sends all earlier ones). */
export type SecAggDropPoint = 'advertise-keys' | 'share-keys' | 'masked-input' | 'unmask';

export interface SecAggSimulationInput {
  siteId: string;
  update: WeightArrays;
  weight: number;
}

export interface SecAggSimulationOptions {
  inputs: SecAggSimulationInput[];
  threshold: number;
  round?: number;
  /** SecAgg+ neighbourhood size k (even); omitted, everyone. */
  neighbours?: number;
  fixedPoint?: { range?: number; maxTotalWeight?: number };
  dropouts?: Record<string, SecAggDropPoint>;
  /** Makes every site's randomness reproducible (tests, benchmarks); omitted, OS randomness. */
  seed?: string;
}

export interface SecAggSimulationResult extends DequantizedSum, SecAggAggregate {
  fixedPoint: FixedPointConfig;
  /** What the coordinator received, in order: everything it ever learns. */
  coordinatorReceived: SecAggMessage[];
  /** The masked inputs as received, by site. */
  maskedInputs: Map<string, Uint32Array>;
  /** Payload bytes (binary fields + strings) sent by sites and by the coordinator. */
  bytesUp: number;
  bytesDown: number;
}

/** Bytes of a message's binary fields and strings: the size of its payload on a binary transport, roughly. */
export function secAggPayloadBytes(value: unknown): number {
  if (ArrayBuffer.isView(value)) return value.byteLength;
  if (typeof value === 'string') return value.length;
  if (typeof value === 'number') return 8;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + secAggPayloadBytes(v), 0);
  if (value && typeof value === 'object') return Object.values(value).reduce((n: number, v) => n + secAggPayloadBytes(v), 0);
  return 0;
}

export function secureAggregateSimulation(o: SecAggSimulationOptions): SecAggSimulationResult {
  if (o.inputs.length === 0) throw new FedtuneError('no_updates', 'secure aggregation needs inputs');
  const lengths = o.inputs[0].update.map((a) => a.length);
  const vectorLength = lengths.reduce((n, l) => n + l, 0);
  const fixedPoint = fixedPointConfig({ ...o.fixedPoint, sites: o.inputs.length });
  const config: SecAggConfig = {
    round: o.round ?? 1,
    sites: o.inputs.map((i) => i.siteId),
    threshold: o.threshold,
    neighbours: o.neighbours,
    vectorLength,
    fixedPoint,
  };
  const drop = o.dropouts ?? {};
  const stops = (id: string, at: SecAggDropPoint) => drop[id] === at || (drop[id] !== undefined && order(drop[id]) < order(at));
  const server = new SecAggServer(config);
  const sites = new Map(
    o.inputs.map((i) => [
      i.siteId,
      new SecAggSite(i.siteId, config, o.seed === undefined ? {} : { randomBytes: new ChaChaRandom(sha256(new TextEncoder().encode(`${o.seed}/${i.siteId}`))).randomBytes }),
    ]),
  );
  const received: SecAggMessage[] = [];
  let bytesUp = 0;
  let bytesDown = 0;
  const up = <M extends SecAggMessage>(m: M): M => {
    bytesUp += secAggPayloadBytes(m);
    const copy = structuredClone(m);
    received.push(copy);
    return copy;
  };
  const down = <M extends SecAggMessage>(m: M): M => {
    bytesDown += secAggPayloadBytes(m);
    return structuredClone(m);
  };

  for (const [id, site] of sites) if (!stops(id, 'advertise-keys')) server.receiveAdvertiseKeys(up(site.advertiseKeys()));
  const directory = server.closeAdvertise();
  for (const [id, site] of sites) if (!stops(id, 'share-keys')) server.receiveShareKeys(up(site.shareKeys(down(directory))));
  const deliveries = server.closeShareKeys();
  const maskedInputs = new Map<string, Uint32Array>();
  for (const [id, delivery] of deliveries) {
    const message = sites.get(id)!.maskInput(down(delivery), o.inputs.find((i) => i.siteId === id)!);
    if (stops(id, 'masked-input')) continue; // masked, then dropped before sending
    const copy = up(message) as SecAggMaskedInput;
    maskedInputs.set(id, copy.masked);
    server.receiveMaskedInput(copy);
  }
  const request = server.closeMaskedInput();
  for (const id of request.survivors) if (!stops(id, 'unmask')) server.receiveUnmaskResponse(up(sites.get(id)!.unmask(down(request))));
  const aggregate = server.finish();
  return { ...aggregate, ...dequantize(aggregate.sum, lengths, fixedPoint), fixedPoint, coordinatorReceived: received, maskedInputs, bytesUp, bytesDown };
}

function order(p: SecAggDropPoint): number {
  return ['advertise-keys', 'share-keys', 'masked-input', 'unmask'].indexOf(p);
}
