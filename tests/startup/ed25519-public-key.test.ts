import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { ed25519PublicKeyHex } from '../../coordinator/src/access/ed25519-public-key.ts';

describe("ed25519PublicKeyHex: Node's crypto gives @noble/curves' public key", () => {
  it.each([
    ['zero', new Uint8Array(32)],
    ['all ones', new Uint8Array(32).fill(255)],
    ...Array.from({ length: 25 }, (_, i) => [`random ${i}`, new Uint8Array(randomBytes(32))] as [string, Uint8Array]),
  ])('%s', (_, secret) => {
    expect(ed25519PublicKeyHex(secret)).toBe(bytesToHex(ed25519.getPublicKey(secret)));
  });

  it('RFC 8032 test vector 1', () => {
    const secret = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
    expect(ed25519PublicKeyHex(secret)).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  });

  it.each([0, 31, 33, 64])('refuses a %i-byte secret key', (n) => {
    expect(() => ed25519PublicKeyHex(new Uint8Array(n))).toThrow(`an Ed25519 secret key has 32 bytes, not ${n}`);
  });
});
