/**
 * One site's side of a secure-aggregation round (semi-honest Bonawitz et al. 2017 with optional SecAgg+
 * neighbourhoods). Call the four phases in order, once each; every method checks what the coordinator sent
 * and refuses (FedtuneError) rather than reveal more than the protocol allows:
 *   - it masks with, and shares to, only its neighbours among the sites that took part;
 *   - it refuses to go on when fewer than t of its neighbourhood remain;
 *   - it answers one unmask request only, revealing per neighbour either the self-mask share (survivor) or
 *     the masking-key share (dropped) — never both, so the coordinator can never strip every mask off one
 *     site's input.
 * Secrets stay in this object; nothing here does I/O.
 */
import { FedtuneError } from '../errors.ts';
import type { WeightArrays } from '../weights.ts';
import { ChaChaRandom, type RandomBytes } from './chacha-random.ts';
import { addDiscreteGaussianNoise } from './discrete-gaussian.ts';
import { quantize } from './fixed-point.ts';
import { agreeKey, applyMask, generateKeyPair, openFrom, sealFor, selfMaskCommitment, type SecAggPrimitives, type X25519KeyPair } from './secagg-crypto.ts';
import { secAggTopology, type SecAggTopology } from './secagg-config.ts';
import type {
  SecAggAdvertiseKeys,
  SecAggConfig,
  SecAggKeyDirectory,
  SecAggMaskedInput,
  SecAggShareDelivery,
  SecAggShareKeys,
  SecAggUnmaskRequest,
  SecAggUnmaskResponse,
} from './secagg-messages.ts';
import { isShareValue, SHAMIR_SHARE_BYTES, splitAt } from './shamir.ts';

export interface SecAggSiteOptions {
  /** Randomness for keys, seeds, Shamir coefficients and nonces (default: a ChaCha20 generator seeded by the OS). */
  randomBytes?: RandomBytes;
  /** How masks are expanded and keys agreed (default @noble's; a Node site passes OpenSSL's, the same bytes, faster). */
  primitives?: SecAggPrimitives;
}

export interface SecAggSiteInput {
  /** The site's update, already clipped (for DP and so that it fits the fixed-point range). */
  update: WeightArrays;
  /** Its weight w ∈ [0, maxTotalWeight], e.g. numExamples / (a bound on the round's total examples). */
  weight: number;
  /** Distributed DP: discrete Gaussian noise added to the quantized update (not its weight) before masking. */
  noise?: SecAggSiteNoise;
}

export interface SecAggSiteNoise {
  /** σ² in fixed-point units. */
  variance: number;
  randomBytes: RandomBytes;
}

type Phase = 'advertise' | 'share' | 'mask' | 'unmask' | 'done';

interface PeerKeys {
  encryptionPublicKey: Uint8Array;
  maskingPublicKey: Uint8Array;
}

export class SecAggSite {
  private readonly topology: SecAggTopology;
  private readonly randomBytes: RandomBytes;
  private readonly encryptionKeys: X25519KeyPair;
  private readonly maskingKeys: X25519KeyPair;
  private readonly selfMaskSeed: Uint8Array;
  private readonly primitives: SecAggPrimitives | undefined;
  private phase: Phase = 'advertise';
  private directory = new Map<string, PeerKeys>();
  private participants = new Set<string>();
  /** Shares this site holds, by owner: [masking-key share, self-mask-seed share]. */
  private held = new Map<string, [Uint8Array, Uint8Array]>();
  /** Dealers whose sealed shares to this site could not be used (openShares). */
  private readonly unusable = new Set<string>();
  private readonly encryptionKeyCache = new Map<string, Uint8Array>();
  /** Dealers whose shares to this site could not be used, sorted (none revealed for them in unmasking). */
  get unusableDealers(): string[] {
    return [...this.unusable].sort();
  }
  /** Coordinates clamped by the fixed-point range in this round's input. */
  clamped = 0;
  /** Coordinates of this round's input that the distributed-DP noise pushed past the int32 range (0 with a fitting scale). */
  wrapped = 0;

  constructor(
    readonly siteId: string,
    readonly config: SecAggConfig,
    options: SecAggSiteOptions = {},
  ) {
    this.topology = secAggTopology(config);
    if (!this.topology.point.has(siteId)) throw new FedtuneError('not_selected', `${siteId} is not a site of secure-aggregation round ${config.round}`);
    this.randomBytes = options.randomBytes ?? new ChaChaRandom().randomBytes;
    this.primitives = options.primitives;
    this.encryptionKeys = generateKeyPair(this.randomBytes);
    this.maskingKeys = generateKeyPair(this.randomBytes);
    this.selfMaskSeed = this.randomBytes(32);
  }

  private enter(expected: Phase, next: Phase, round: number): void {
    if (this.phase !== expected) throw new FedtuneError('malformed_payload', `secure aggregation: ${this.siteId} got a ${expected} step while in ${this.phase}`);
    if (round !== this.config.round) throw new FedtuneError('stale_round', `secure aggregation: message for round ${round}, this is round ${this.config.round}`);
    this.phase = next;
  }

  private neighbours(): Set<string> {
    return this.topology.neighbourhood.get(this.siteId)!;
  }

  private requireQuorum(present: Iterable<string>, what: string): string[] {
    const mine = [...present].filter((s) => this.neighbours().has(s)).sort();
    if (mine.length < this.config.threshold) {
      throw new FedtuneError('quorum_not_met', `secure aggregation round ${this.config.round}: ${mine.length} of ${this.siteId}'s neighbourhood ${what}, threshold ${this.config.threshold}`);
    }
    return mine;
  }

  /** The key for shares between this site and `peer` (one X25519 agreement per peer and round). */
  private encryptionKeyFor(peer: string): Uint8Array {
    let key = this.encryptionKeyCache.get(peer);
    if (!key) {
      key = agreeKey(this.encryptionKeys.secretKey, this.directory.get(peer)!.encryptionPublicKey, 'encrypt', this.config.round, this.siteId, peer, this.primitives?.x25519);
      this.encryptionKeyCache.set(peer, key);
    }
    return key;
  }

  /** Phase 0: two fresh public keys. */
  advertiseKeys(): SecAggAdvertiseKeys {
    this.enter('advertise', 'share', this.config.round);
    return {
      kind: 'secagg/advertise-keys',
      round: this.config.round,
      siteId: this.siteId,
      encryptionPublicKey: this.encryptionKeys.publicKey,
      maskingPublicKey: this.maskingKeys.publicKey,
      selfMaskCommitment: selfMaskCommitment(this.selfMaskSeed, this.config.round, this.siteId),
    };
  }

  /** Phase 1: Shamir-share the masking key and the self-mask seed among the neighbours in U1, encrypted to each. */
  shareKeys(directory: Omit<SecAggKeyDirectory, 'kind'>): SecAggShareKeys {
    this.enter('share', 'mask', directory.round);
    for (const k of directory.keys) {
      if (!this.topology.point.has(k.siteId)) throw new FedtuneError('malformed_payload', `key directory names ${k.siteId}, not a site of this round`);
      if (this.directory.has(k.siteId)) throw new FedtuneError('malformed_payload', `key directory names ${k.siteId} twice`);
      if (k.encryptionPublicKey?.length !== 32 || k.maskingPublicKey?.length !== 32) throw new FedtuneError('malformed_payload', `bad public keys for ${k.siteId}`);
      this.directory.set(k.siteId, { encryptionPublicKey: k.encryptionPublicKey, maskingPublicKey: k.maskingPublicKey });
    }
    const own = this.directory.get(this.siteId);
    if (!own || !equal(own.encryptionPublicKey, this.encryptionKeys.publicKey) || !equal(own.maskingPublicKey, this.maskingKeys.publicKey)) {
      throw new FedtuneError('malformed_payload', `key directory does not carry ${this.siteId}'s own keys`);
    }
    const peers = this.requireQuorum(this.directory.keys(), 'advertised keys');
    const points = peers.map((p) => this.topology.point.get(p)!);
    const t = this.config.threshold;
    const keyShares = splitAt(this.maskingKeys.secretKey, points, t, this.randomBytes);
    const seedShares = splitAt(this.selfMaskSeed, points, t, this.randomBytes);
    const shares = peers.map((to, i) => {
      const key = this.encryptionKeyFor(to);
      const plaintext = new Uint8Array(2 * SHAMIR_SHARE_BYTES);
      plaintext.set(keyShares[i].y, 0);
      plaintext.set(seedShares[i].y, SHAMIR_SHARE_BYTES);
      return { from: this.siteId, to, ...sealFor(key, this.config.round, this.siteId, to, plaintext, this.randomBytes) };
    });
    return { kind: 'secagg/share-keys', round: this.config.round, siteId: this.siteId, shares };
  }

  /**
   * The two shares sealed in `s`, or undefined when they cannot be used: the seal does not open, the plaintext is
   * not two shares, or a share is not a field element. Only the dealer (or whoever relayed the seal) can cause
   * that, so it does not stop this site: it goes on without shares of that dealer and reveals none of its in
   * unmasking, the dealer's secrets cannot then be recovered, and the coordinator leaves it out of the round's
   * next attempt (secagg-server.ts). Refusing here instead let one hostile dealer fail every attempt of a round.
   */
  private openShares(s: SecAggShareDelivery['shares'][number]): [Uint8Array, Uint8Array] | undefined {
    let plain: Uint8Array;
    try {
      plain = openFrom(this.encryptionKeyFor(s.from), this.config.round, s.from, this.siteId, s.nonce, s.ciphertext);
    } catch {
      return undefined;
    }
    // Stryker disable next-line ConditionalExpression: equivalent: any other length leaves one of the two slices below not SHAMIR_SHARE_BYTES long, which isShareValue refuses.
    if (plain.length !== 2 * SHAMIR_SHARE_BYTES) return undefined;
    const keyShare = plain.slice(0, SHAMIR_SHARE_BYTES);
    const seedShare = plain.slice(SHAMIR_SHARE_BYTES);
    return isShareValue(keyShare) && isShareValue(seedShare) ? [keyShare, seedShare] : undefined;
  }

  /** Phase 2: keep the shares addressed here, then send quantize(w·x, w) + self mask + Σ ± pairwise masks mod 2^32. */
  maskInput(delivery: Omit<SecAggShareDelivery, 'kind'>, input: SecAggSiteInput): SecAggMaskedInput {
    this.enter('mask', 'unmask', delivery.round);
    for (const p of delivery.participants) {
      if (!this.directory.has(p)) throw new FedtuneError('malformed_payload', `share delivery names ${p}, which advertised no keys`);
      this.participants.add(p);
    }
    if (!this.participants.has(this.siteId)) throw new FedtuneError('malformed_payload', `share delivery does not list ${this.siteId}`);
    const peers = this.requireQuorum(this.participants, 'shared their keys');
    for (const s of delivery.shares) {
      if (s.to !== this.siteId || !this.participants.has(s.from) || !this.neighbours().has(s.from) || this.held.has(s.from) || this.unusable.has(s.from)) {
        throw new FedtuneError('malformed_payload', `unexpected shares from ${s.from} to ${s.to}`);
      }
      const shares = this.openShares(s);
      if (shares) this.held.set(s.from, shares);
      else this.unusable.add(s.from);
    }
    for (const p of peers) if (!this.held.has(p) && !this.unusable.has(p)) throw new FedtuneError('malformed_payload', `no shares from ${p}, which is listed as a participant`);

    const length = input.update.reduce((n, a) => n + a.length, 0);
    if (length !== this.config.vectorLength) throw new FedtuneError('shape_mismatch', `update has ${length} values, the round expects ${this.config.vectorLength}`);
    const { data, clamped } = quantize(input.update, input.weight, this.config.fixedPoint);
    this.clamped = clamped;
    if (input.noise) this.wrapped = addDiscreteGaussianNoise(data, length, input.noise.variance, input.noise.randomBytes);
    applyMask(data, this.selfMaskSeed, 1, this.primitives?.keystream);
    for (const p of peers) {
      if (p === this.siteId) continue;
      const seed = agreeKey(this.maskingKeys.secretKey, this.directory.get(p)!.maskingPublicKey, 'mask', this.config.round, this.siteId, p, this.primitives?.x25519);
      // Stryker disable next-line EqualityOperator: equivalent: p ≠ this.siteId (skipped above), so < and ≤ agree.
      applyMask(data, seed, this.siteId < p ? 1 : -1, this.primitives?.keystream);
    }
    return { kind: 'secagg/masked-input', round: this.config.round, siteId: this.siteId, masked: data };
  }

  /** Phase 3: for each neighbour in U2, the self-mask share if it survived, else the masking-key share. */
  unmask(request: Omit<SecAggUnmaskRequest, 'kind'>): SecAggUnmaskResponse {
    this.enter('unmask', 'done', request.round);
    const survivors = new Set(request.survivors);
    if (survivors.size !== request.survivors.length) throw new FedtuneError('malformed_payload', 'unmask request lists a site twice');
    for (const s of survivors) if (!this.participants.has(s)) throw new FedtuneError('malformed_payload', `unmask request lists ${s}, which did not share keys`);
    if (!survivors.has(this.siteId)) throw new FedtuneError('malformed_payload', `unmask request does not list ${this.siteId} as a survivor`);
    this.requireQuorum(survivors, 'sent masked inputs');
    const response: SecAggUnmaskResponse = {
      kind: 'secagg/unmask-response',
      round: this.config.round,
      siteId: this.siteId,
      selfMaskShares: [],
      maskingKeyShares: [],
      ...(this.unusable.size > 0 ? { unusable: this.unusableDealers } : {}),
    };
    // Stryker disable next-line EqualityOperator: equivalent: the owners are a Map's keys, never equal, so < and ≤ agree.
    for (const [owner, [keyShare, seedShare]] of [...this.held].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (survivors.has(owner)) response.selfMaskShares.push({ owner, share: seedShare });
      else response.maskingKeyShares.push({ owner, share: keyShare });
    }
    return response;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
