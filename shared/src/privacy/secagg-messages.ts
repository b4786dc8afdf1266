/**
 * The messages of one secure-aggregation round (Bonawitz et al. 2017, "Practical Secure Aggregation for
 * Privacy-Preserving Machine Learning", §4, semi-honest variant; SecAgg+ neighbourhoods after Bell et al.
 * 2020, "Secure Single-Server Aggregation with (Poly)Logarithmic Overhead"), as plain data: strings,
 * numbers, Uint8Array and Uint32Array only, so they survive structuredClone and socket.io's binary
 * encoding. Who sends what:
 *
 *   coordinator → every site      SecAggConfig                   (with the round's fit instructions)
 *   0 site → coordinator          SecAggAdvertiseKeys            two X25519 public keys
 *     coordinator → every site    SecAggKeyDirectory             U1: everyone who advertised
 *   1 site → coordinator          SecAggShareKeys                Shamir shares of its mask key and self-mask
 *                                                                seed, encrypted to each neighbour
 *     coordinator → each site     SecAggShareDelivery            U2, and the shares addressed to it
 *   2 site → coordinator          SecAggMaskedInput              quantized weighted update + masks mod 2^32
 *     coordinator → survivors     SecAggUnmaskRequest            U3: whose masked input arrived
 *   3 site → coordinator          SecAggUnmaskResponse           for each neighbour: its self-mask share if it
 *                                                                is in U3, its mask-key share if not — never both
 *
 * Sites that miss a phase are dropped from the next ones. The coordinator needs ≥ t of every neighbourhood
 * at every phase; otherwise the round is aborted (FedtuneError 'quorum_not_met'), never summed wrongly.
 */
import type { FixedPointConfig } from './fixed-point.ts';

export interface SecAggConfig {
  round: number;
  /** The invited sites (ids, unique). Their sorted order fixes mask signs and Shamir evaluation points. */
  sites: string[];
  /** t: shares needed to recover a secret; must be more than half of a neighbourhood and at most all of it. */
  threshold: number;
  /** SecAgg+: each site masks with and shares to k neighbours on a public random ring; omitted, with everyone. */
  neighbours?: number;
  /** Coordinates of one update (all tensors); the masked vectors have one more (the weight). */
  vectorLength: number;
  fixedPoint: FixedPointConfig;
}

export interface SecAggAdvertiseKeys {
  kind: 'secagg/advertise-keys';
  round: number;
  siteId: string;
  /** X25519 public key for encrypting shares (32 bytes). */
  encryptionPublicKey: Uint8Array;
  /** X25519 public key for pairwise masks (32 bytes). */
  maskingPublicKey: Uint8Array;
  /** SHA-256 commitment to the self-mask seed (selfMaskCommitment, 32 bytes): checks the seed recovered in phase 3. */
  selfMaskCommitment: Uint8Array;
}

export interface SecAggKeyDirectory {
  kind: 'secagg/key-directory';
  round: number;
  /** U1, sorted by siteId. */
  keys: Array<Pick<SecAggAdvertiseKeys, 'siteId' | 'encryptionPublicKey' | 'maskingPublicKey'>>;
}

export interface SecAggEncryptedShares {
  from: string;
  to: string;
  /** 12 bytes. */
  nonce: Uint8Array;
  /** ChaCha20-Poly1305 of (mask-key share ‖ self-mask-seed share), associated data (round, from, to). */
  ciphertext: Uint8Array;
}

export interface SecAggShareKeys {
  kind: 'secagg/share-keys';
  round: number;
  siteId: string;
  /** One per neighbour in U1, the sender itself included. */
  shares: SecAggEncryptedShares[];
}

export interface SecAggShareDelivery {
  kind: 'secagg/share-delivery';
  round: number;
  /** U2: the sites whose shares the coordinator received, sorted. */
  participants: string[];
  /** The shares addressed to the receiving site. */
  shares: SecAggEncryptedShares[];
}

export interface SecAggMaskedInput {
  kind: 'secagg/masked-input';
  round: number;
  siteId: string;
  /** vectorLength + 1 values: quantize(update, weight) + self mask + Σ ± pairwise masks, mod 2^32. */
  masked: Uint32Array;
}

export interface SecAggUnmaskRequest {
  kind: 'secagg/unmask-request';
  round: number;
  /** U3: the sites whose masked input is in the sum, sorted. */
  survivors: string[];
}

export interface SecAggRevealedShare {
  /** Whose secret this is a share of. */
  owner: string;
  /** Share value (66 bytes); its x is the sender's evaluation point. */
  share: Uint8Array;
}

export interface SecAggUnmaskResponse {
  kind: 'secagg/unmask-response';
  round: number;
  siteId: string;
  /** Shares of the self-mask seeds of neighbours in U3. */
  selfMaskShares: SecAggRevealedShare[];
  /** Shares of the masking secret keys of neighbours in U2 but not U3 (dropped after sharing). */
  maskingKeyShares: SecAggRevealedShare[];
  /** Dealers whose sealed shares to this site could not be used: a complaint the server counts (secagg-server.ts). */
  unusable?: string[];
}

export type SecAggMessage =
  | SecAggAdvertiseKeys
  | SecAggKeyDirectory
  | SecAggShareKeys
  | SecAggShareDelivery
  | SecAggMaskedInput
  | SecAggUnmaskRequest
  | SecAggUnmaskResponse;
