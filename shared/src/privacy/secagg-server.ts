/**
 * The coordinator's side of a secure-aggregation round: it routes messages, sums the masked inputs modulo
 * 2^32 and, from the shares the survivors reveal, removes the masks — learning the sum of the survivors'
 * quantized weighted updates and nothing about any one of them (semi-honest model). Each `close…` method
 * ends a phase: who has not sent by then is dropped. Fewer than t of a neighbourhood at any phase aborts
 * the round with FedtuneError('quorum_not_met'); a recovered masking key is checked against the public key
 * its owner advertised and a recovered self-mask seed against the commitment its owner sent with its keys, so a
 * wrong sum is never returned: wrong shares are found and left out (verified-recovery.ts) as far as decoding and
 * the owner's check allow, otherwise the round fails — naming the owners whose neighbours could tell their dealt
 * shares were unusable (SecAggUnrecoverableError, `judge`).
 */
import { FedtuneError } from '../errors.ts';
import { applyMask, agreeKey, isAgreeablePublicKey, publicKeyOf, selfMaskCommitment, type SecAggPrimitives } from './secagg-crypto.ts';
import { secAggTopology, type SecAggTopology } from './secagg-config.ts';
import type {
  SecAggAdvertiseKeys,
  SecAggConfig,
  SecAggEncryptedShares,
  SecAggKeyDirectory,
  SecAggMaskedInput,
  SecAggShareDelivery,
  SecAggShareKeys,
  SecAggUnmaskRequest,
  SecAggUnmaskResponse,
} from './secagg-messages.ts';
import { isShareValue, SHAMIR_SHARE_BYTES, type ShamirShare } from './shamir.ts';
import { SecAggUnrecoverableError } from './secagg-unrecoverable-error.ts';
import { recoverVerified, type LagrangeCache } from './verified-recovery.ts';

/** Reasons quoted in one unrecoverable-secrets error (the rest counted). */
const MAX_REASONS = 3;

export interface SecAggAggregate {
  round: number;
  /** Σ over `survivors` of quantize(w·x, w), mod 2^32: decode with `dequantize`. */
  sum: Uint32Array;
  /** U3: the sites whose inputs are in the sum. */
  survivors: string[];
  /** U2 \ U3: sites that shared keys but whose masked input never arrived (their masks were removed). */
  dropped: string[];
  /** Survivors that sent no unmask response (their inputs are in the sum all the same). */
  silentInUnmasking: string[];
  /**
   * Responders found to have revealed a share off its owner's polynomial (verified-recovery.ts): the secret was
   * recovered without it and their other shares were not used. Their own inputs are in the sum. Which side was at
   * fault is not known: the holder revealed a wrong value, or the owner had dealt it a wrong share.
   */
  wrongShares: string[];
}

type Phase = 'advertise' | 'share' | 'mask' | 'unmask' | 'done';

export class SecAggServer {
  private readonly topology: SecAggTopology;
  private phase: Phase = 'advertise';
  private readonly adverts = new Map<string, SecAggAdvertiseKeys>();
  private readonly shareMessages = new Map<string, SecAggEncryptedShares[]>();
  private readonly masked = new Map<string, Uint32Array>();
  private readonly responses = new Map<string, SecAggUnmaskResponse>();
  private survivors: string[] = [];

  /** `primitives`: how masks are expanded and keys agreed (default @noble's; the coordinator passes OpenSSL's, the same bytes, faster). */
  constructor(
    readonly config: SecAggConfig,
    private readonly options: { primitives?: SecAggPrimitives } = {},
  ) {
    this.topology = secAggTopology(config);
  }

  private check(phase: Phase, round: number, siteId: string, seen: Map<string, unknown>, allowed: Iterable<string>): void {
    if (this.phase !== phase) throw new FedtuneError('stale_round', `secure aggregation: a ${phase} message from ${siteId} arrived in phase ${this.phase}`);
    if (round !== this.config.round) throw new FedtuneError('stale_round', `secure aggregation: message for round ${round}, this is round ${this.config.round}`);
    if (![...allowed].includes(siteId)) throw new FedtuneError('not_selected', `secure aggregation: ${siteId} may not take part in this phase`);
    if (seen.has(siteId)) throw new FedtuneError('duplicate_result', `secure aggregation: ${siteId} already sent its ${phase} message`);
  }

  private quorum(present: Set<string>, sites: Iterable<string>, what: string): void {
    const t = this.config.threshold;
    for (const s of sites) {
      const have = [...this.topology.neighbourhood.get(s)!].filter((v) => present.has(v)).length;
      if (have < t) {
        throw new FedtuneError('quorum_not_met', `secure aggregation round ${this.config.round} aborted: ${have} of ${s}'s neighbourhood ${what}, threshold ${t}`);
      }
    }
  }

  receiveAdvertiseKeys(m: SecAggAdvertiseKeys): void {
    this.check('advertise', m.round, m.siteId, this.adverts, this.topology.sites);
    const agreeable = (k: Uint8Array | undefined) => k !== undefined && isAgreeablePublicKey(k, this.options.primitives?.x25519);
    if (!agreeable(m.encryptionPublicKey) || !agreeable(m.maskingPublicKey)) throw new FedtuneError('malformed_payload', `bad public keys from ${m.siteId}`);
    if (m.selfMaskCommitment?.length !== 32) throw new FedtuneError('malformed_payload', `bad self-mask commitment from ${m.siteId}`);
    this.adverts.set(m.siteId, m);
  }

  /** Ends phase 0: U1 is whoever advertised. */
  closeAdvertise(): SecAggKeyDirectory {
    this.requirePhase('advertise', 'share');
    const u1 = new Set(this.adverts.keys());
    if (u1.size < this.config.threshold) throw new FedtuneError('quorum_not_met', `secure aggregation round ${this.config.round} aborted: ${u1.size} sites advertised keys, threshold ${this.config.threshold}`);
    const keys = [...this.adverts.values()]
      .sort((a, b) => (a.siteId < b.siteId ? -1 : 1))
      .map(({ siteId, encryptionPublicKey, maskingPublicKey }) => ({ siteId, encryptionPublicKey, maskingPublicKey }));
    return { kind: 'secagg/key-directory', round: this.config.round, keys };
  }

  receiveShareKeys(m: SecAggShareKeys): void {
    this.check('share', m.round, m.siteId, this.shareMessages, this.adverts.keys());
    const allowed = this.topology.neighbourhood.get(m.siteId)!;
    const to = new Set<string>();
    for (const s of m.shares) {
      if (s.from !== m.siteId || !this.adverts.has(s.to) || !allowed.has(s.to) || to.has(s.to)) {
        throw new FedtuneError('malformed_payload', `${m.siteId} sent shares addressed ${s.from} → ${s.to}`);
      }
      to.add(s.to);
    }
    // Every neighbour that advertised must get shares: one left out would find a participant's shares missing.
    for (const p of [...allowed].sort()) if (this.adverts.has(p) && !to.has(p)) throw new FedtuneError('malformed_payload', `${m.siteId} sent no shares to ${p}`);
    this.shareMessages.set(m.siteId, m.shares);
  }

  /** Ends phase 1: U2 is whoever shared; returns what to send to each site of U2. */
  closeShareKeys(): Map<string, SecAggShareDelivery> {
    this.requirePhase('share', 'mask');
    const u2 = new Set(this.shareMessages.keys());
    this.quorum(u2, u2, 'shared their keys');
    const participants = [...u2].sort();
    const deliveries = new Map<string, SecAggShareDelivery>();
    for (const p of participants) deliveries.set(p, { kind: 'secagg/share-delivery', round: this.config.round, participants, shares: [] });
    for (const shares of this.shareMessages.values()) for (const s of shares) deliveries.get(s.to)?.shares.push(s);
    return deliveries;
  }

  receiveMaskedInput(m: SecAggMaskedInput): void {
    this.check('mask', m.round, m.siteId, this.masked, this.shareMessages.keys());
    if (!(m.masked instanceof Uint32Array) || m.masked.length !== this.config.vectorLength + 1) {
      throw new FedtuneError('shape_mismatch', `masked input from ${m.siteId} must be a Uint32Array of ${this.config.vectorLength + 1}`);
    }
    this.masked.set(m.siteId, m.masked);
  }

  /** Ends phase 2: U3 is whoever sent a masked input; returns the request to send to each of U3. */
  closeMaskedInput(): SecAggUnmaskRequest {
    this.requirePhase('mask', 'unmask');
    const u3 = new Set(this.masked.keys());
    const dropped = [...this.shareMessages.keys()].filter((s) => !u3.has(s));
    // Every survivor's self mask, and every dropped site's pairwise masks, need t responders among U3.
    this.quorum(u3, [...u3, ...dropped.filter((d) => [...this.topology.neighbourhood.get(d)!].some((v) => u3.has(v)))], 'sent masked inputs');
    this.survivors = [...u3].sort();
    return { kind: 'secagg/unmask-request', round: this.config.round, survivors: this.survivors };
  }

  /**
   * A survivor's shares: checked on arrival (each owner a neighbour of the right set, once per list, a share that
   * is a field element; each complaint about a dealer's unusable shares a neighbour that dealt, once, and not one
   * whose share it revealed), so one survivor's unusable response is refused for it alone and never reaches `finish`.
   */
  receiveUnmaskResponse(m: SecAggUnmaskResponse): void {
    this.check('unmask', m.round, m.siteId, this.responses, this.survivors);
    const u3 = new Set(this.survivors);
    const dropped = new Set([...this.shareMessages.keys()].filter((s) => !u3.has(s)));
    const mine = this.topology.neighbourhood.get(m.siteId)!;
    const checkList = (list: SecAggUnmaskResponse['selfMaskShares'], owners: Set<string>, what: string) => {
      const seen = new Set<string>();
      for (const { owner, share } of list) {
        if (!owners.has(owner) || !mine.has(owner) || !isShareValue(share)) throw new FedtuneError('malformed_payload', `${m.siteId} revealed an unexpected ${what} share of ${owner}`);
        if (seen.has(owner)) throw new FedtuneError('duplicate_result', `${m.siteId} revealed two ${what} shares of ${owner}`);
        seen.add(owner);
      }
    };
    checkList(m.selfMaskShares, u3, 'self-mask');
    checkList(m.maskingKeyShares, dropped, 'masking-key');
    // Complaints: dealers of this round (U2) in its neighbourhood, once each, none whose share it also revealed.
    const revealed = new Set([...m.selfMaskShares, ...m.maskingKeyShares].map((s) => s.owner));
    const complained = new Set<string>();
    for (const dealer of m.unusable ?? []) {
      if (!this.shareMessages.has(dealer) || !mine.has(dealer) || revealed.has(dealer) || complained.has(dealer)) {
        throw new FedtuneError('malformed_payload', `${m.siteId} complained about the shares of ${dealer}, which it cannot`);
      }
      complained.add(dealer);
    }
    this.responses.set(m.siteId, m);
  }

  /** Ends phase 3: recovers the secrets, removes every mask and returns the sum of the survivors' inputs. */
  finish(): SecAggAggregate {
    this.requirePhase('unmask', 'done');
    const u3 = new Set(this.survivors);
    const u2 = new Set(this.shareMessages.keys());
    const dropped = [...u2].filter((s) => !u3.has(s)).sort();
    const t = this.config.threshold;
    const selfShares = new Map<string, ShamirShare[]>();
    const keyShares = new Map<string, ShamirShare[]>();
    for (const r of this.responses.values()) {
      const x = this.topology.point.get(r.siteId)!;
      const mine = this.topology.neighbourhood.get(r.siteId)!;
      const collect = (into: Map<string, ShamirShare[]>, list: typeof r.selfMaskShares, owners: Set<string>, what: string) => {
        for (const { owner, share } of list) {
          // Stryker disable next-line all: equivalent: unreachable — receiveUnmaskResponse refused every such response on arrival; a second guard before the arithmetic.
          if (!owners.has(owner) || !mine.has(owner) || share?.length !== SHAMIR_SHARE_BYTES) throw new FedtuneError('malformed_payload', `${r.siteId} revealed an unexpected ${what} share of ${owner}`);
          const arr = into.get(owner) ?? [];
          // Stryker disable next-line all: equivalent: unreachable — a response with an owner twice was refused on arrival.
          if (arr.some((s) => s.x === x)) throw new FedtuneError('duplicate_result', `${r.siteId} revealed two ${what} shares of ${owner}`);
          arr.push({ x, y: share, threshold: t, secretLength: 32 });
          into.set(owner, arr);
        }
      };
      // Stryker disable next-line StringLiteral: equivalent: only quoted by collect's unreachable refusals.
      collect(selfShares, r.selfMaskShares, u3, 'self-mask');
      // Stryker disable next-line StringLiteral: equivalent: only quoted by collect's unreachable refusals.
      collect(keyShares, r.maskingKeyShares, new Set(dropped), 'masking-key');
    }
    // A responder found to have revealed a share off its owner's polynomial: its shares of other owners are not used.
    const wrongShares = new Set<string>();
    const responderAt = new Map([...this.topology.point].map(([site, x]) => [x, site]));
    const lagrange: LagrangeCache = new Map();
    /** Secrets not recovered: judged once every recovery is done, so whom the responders found wrong is final. */
    const failures: Array<{ owner: string; shares: number; what: string; refused: string }> = [];
    const recover = (owner: string, all: ShamirShare[] | undefined, what: string, accept: (secret: Uint8Array) => boolean, refused: string): Uint8Array | undefined => {
      // In point order: what is recovered, and who is found wrong, does not depend on the order the responses arrived in.
      const shares = (all ?? []).filter((s) => !wrongShares.has(responderAt.get(s.x)!)).sort((a, b) => a.x - b.x);
      const recovered = shares.length < t ? undefined : recoverVerified(shares, accept, lagrange);
      if (!recovered) {
        failures.push({ owner, shares: shares.length, what, refused });
        return undefined;
      }
      for (const x of recovered.wrongShareXs ?? []) wrongShares.add(responderAt.get(x)!);
      return recovered.secret;
    };
    // Stryker disable next-line ConditionalExpression: equivalent: both sides are 32 bytes here (a SHA-256 or an X25519 public key, against one checked at 32 on arrival).
    const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

    const sum = new Uint32Array(this.config.vectorLength + 1);
    for (const s of this.survivors) {
      const y = this.masked.get(s)!;
      // Stryker disable next-line EqualityOperator: equivalent: a write one past a typed array's end is ignored.
      for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] + y[i]) | 0;
    }
    for (const s of this.survivors) {
      // The seed must be the one its owner committed to: with exactly t shares nothing else could tell a wrong one.
      const committed = this.adverts.get(s)!.selfMaskCommitment;
      const seed = recover(s, selfShares.get(s), 'self-mask', (b) => same(selfMaskCommitment(b, this.config.round, s), committed), `the self-mask seed recovered for ${s} does not match its commitment`);
      // Once a secret is missing the sum is not returned: its masks are not worth expanding.
      if (seed && failures.length === 0) applyMask(sum, seed, -1, this.options.primitives?.keystream);
    }
    for (const d of dropped) {
      // Stryker disable next-line MethodExpression: equivalent: masks are added mod 2^32, so the order they are removed in cannot change the sum.
      const peers = [...this.topology.neighbourhood.get(d)!].filter((v) => u3.has(v)).sort();
      // Stryker disable next-line ConditionalExpression: equivalent: unreachable in a round closeMaskedInput lets through — on the ring, a dropped
      // site with no surviving neighbour has a dropped neighbour at the block's edge with at most k/2 < t survivors, and that aborts the round.
      if (peers.length === 0) continue;
      const advertised = this.adverts.get(d)!.maskingPublicKey;
      const secretKey = recover(d, keyShares.get(d), 'masking-key', (k) => same(publicKeyOf(k), advertised), `the masking key recovered for ${d} does not match its public key`);
      if (!secretKey || failures.length > 0) continue;
      for (const p of peers) {
        // p added +PRG(s_pd) if p < d, −PRG(s_pd) if p > d: undo it.
        const seed = agreeKey(secretKey, this.adverts.get(p)!.maskingPublicKey, 'mask', this.config.round, d, p, this.options.primitives?.x25519);
        // Stryker disable next-line EqualityOperator: equivalent: p survived and d dropped, so p ≠ d and < and ≤ agree.
        applyMask(sum, seed, p < d ? -1 : 1, this.options.primitives?.keystream);
      }
    }
    this.judge(failures, wrongShares);
    return {
      round: this.config.round,
      sum,
      survivors: this.survivors,
      dropped,
      silentInUnmasking: this.survivors.filter((s) => !this.responses.has(s)),
      wrongShares: [...wrongShares].sort(),
    };
  }

  /**
   * Throws for the secrets `finish` could not recover, if any. An owner is named (SecAggUnrecoverableError) only
   * when its neighbours could tell — among the responders not found revealing wrong shares:
   *   - too few shares: at least t of them said its shares to them were unusable (more than a minority could
   *     say falsely); otherwise too few answered, or some held theirs back, and nobody is named (quorum_not_met);
   *   - shares enough, none recombining to what it committed to: more than t of them answered, so framing an
   *     honest owner would take at least two colluding responders (who could fail the attempt anyway); with
   *     exactly t, one would do, and nobody is named (malformed_payload).
   */
  private judge(failures: ReadonlyArray<{ owner: string; shares: number; what: string; refused: string }>, wrongShares: ReadonlySet<string>): void {
    const t = this.config.threshold;
    const unblamed: FedtuneError[] = [];
    const unrecoverable: Array<{ owner: string; reason: string }> = [];
    for (const f of failures) {
      const neighbourhood = this.topology.neighbourhood.get(f.owner)!;
      const answered = [...this.responses.values()].filter((r) => neighbourhood.has(r.siteId) && !wrongShares.has(r.siteId));
      if (f.shares < t) {
        const complaints = answered.filter((r) => r.unusable?.includes(f.owner)).length;
        if (complaints >= t) unrecoverable.push({ owner: f.owner, reason: `${complaints} of ${f.owner}'s neighbours could not use the ${f.what} shares it dealt them (threshold ${t})` });
        else unblamed.push(new FedtuneError('quorum_not_met', `secure aggregation round ${this.config.round} aborted: ${f.shares} ${f.what} shares of ${f.owner}, threshold ${t}`));
      } else if (answered.length > t) unrecoverable.push({ owner: f.owner, reason: f.refused });
      else unblamed.push(new FedtuneError('malformed_payload', f.refused));
    }
    if (unblamed.length > 0) throw unblamed[0];
    if (unrecoverable.length > 0) {
      const more = unrecoverable.length > MAX_REASONS ? `; and ${unrecoverable.length - MAX_REASONS} more` : '';
      throw new SecAggUnrecoverableError(unrecoverable.slice(0, MAX_REASONS).map((u) => u.reason).join('; ') + more, unrecoverable.map((u) => u.owner).sort());
    }
  }

  private requirePhase(phase: Phase, next: Phase): void {
    if (this.phase !== phase) throw new FedtuneError('stale_round', `secure aggregation: cannot close ${phase} in phase ${this.phase}`);
    this.phase = next;
  }
}
