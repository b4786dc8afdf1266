import { describe, expect, it } from 'vitest';
import { nodeChaChaKeystream } from '../../shared/src/node/node-chacha-keystream.ts';
import { nodeX25519 } from '../../shared/src/node/node-x25519.ts';
import { agreeKey, applyMask, expandMask, generateKeyPair, nobleChaChaKeystream, nobleX25519, type ChaChaKeystream } from '../../shared/src/privacy/secagg-crypto.ts';
import { ChaChaRandom } from '../../shared/src/privacy/chacha-random.ts';
import { isFedtuneError } from '../../shared/src/errors.ts';

/**
 * A Node coordinator removes with OpenSSL's ChaCha20 and X25519 the masks a browser site added with @noble's (and
 * the other way round): the two keystreams must be the same bytes at every length and for every key, and the two
 * X25519s the same shared secrets — refusing the same public keys.
 */
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const keys = [new Uint8Array(32), new Uint8Array(32).fill(0xff), Uint8Array.from({ length: 32 }, (_, i) => (i * 73 + 5) & 0xff)];

describe('nodeChaChaKeystream = nobleChaChaKeystream', () => {
  it.each([0, 1, 3, 4, 63, 64, 65, 127, 128, 4096, 4097, 407_080])('%i bytes, three keys', (bytes) => {
    for (const key of keys) expect(hex(nodeChaChaKeystream(key, bytes))).toBe(hex(nobleChaChaKeystream(key, bytes)));
  });

  it('RFC 8439 §2.4.2-style check: the keystream of the all-zero key starts 76b8e0ad…', () => {
    // ChaCha20 block of key 0, nonce 0, counter 0 (RFC 8439 appendix A.1, test vector #1).
    expect(hex(nodeChaChaKeystream(new Uint8Array(32), 16))).toBe('76b8e0ada0f13d90405d6ae55386bd28');
    expect(hex(nobleChaChaKeystream(new Uint8Array(32), 16))).toBe('76b8e0ada0f13d90405d6ae55386bd28');
  });

  it('a shorter request after a longer one is not padded from the longer one', () => {
    const long = nodeChaChaKeystream(keys[2], 1000);
    const short = nodeChaChaKeystream(keys[2], 10);
    expect(short.length).toBe(10);
    expect(hex(short)).toBe(hex(long.subarray(0, 10)));
  });
});

describe('expandMask and applyMask with either keystream', () => {
  it('the same words; a mask added with one is removed by the other', () => {
    const seed = keys[2];
    expect(Array.from(expandMask(seed, 1001, nodeChaChaKeystream))).toEqual(Array.from(expandMask(seed, 1001)));
    const data = Uint32Array.from({ length: 1001 }, (_, i) => i * 2654435761);
    const masked = Uint32Array.from(data);
    applyMask(masked, seed, 1);
    expect(Array.from(masked)).not.toEqual(Array.from(data));
    applyMask(masked, seed, -1, nodeChaChaKeystream);
    expect(Array.from(masked)).toEqual(Array.from(data));
  });

  it('a keystream starting at an odd byte offset of its buffer still gives its words', () => {
    const offset: ChaChaKeystream = (key, bytes) => {
      const b = new Uint8Array(bytes + 1);
      b.set(nobleChaChaKeystream(key, bytes), 1);
      return b.subarray(1);
    };
    expect(Array.from(expandMask(keys[1], 33, offset))).toEqual(Array.from(expandMask(keys[1], 33)));
  });

  it('a keystream of the wrong length is a config error, never a short mask', () => {
    const short: ChaChaKeystream = (key, bytes) => nobleChaChaKeystream(key, bytes - 4);
    try {
      expandMask(keys[0], 8, short);
      expect.unreachable();
    } catch (err) {
      expect(isFedtuneError(err) && err.code === 'config' && err.message).toBe('a keystream of 32 bytes was asked for, 28 came');
    }
  });
});

const fromHex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));

describe('nodeX25519 = nobleX25519', () => {
  it('RFC 7748 §6.1: Alice and Bob agree on 4a5d9d5b…', () => {
    const alice = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const bobPublic = fromHex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(hex(nodeX25519(alice, bobPublic))).toBe(shared);
    expect(hex(nobleX25519(alice, bobPublic))).toBe(shared);
  });

  it('the same secret for 50 random key pairs, both ways round', () => {
    const random = new ChaChaRandom(new Uint8Array(32).fill(7)).randomBytes;
    for (let i = 0; i < 50; i++) {
      const a = generateKeyPair(random);
      const b = generateKeyPair(random);
      const s = hex(nobleX25519(a.secretKey, b.publicKey));
      expect(hex(nodeX25519(a.secretKey, b.publicKey))).toBe(s);
      expect(hex(nodeX25519(b.secretKey, a.publicKey))).toBe(s);
    }
  });

  it('a public key with the top bit set or a non-canonical u (≥ 2^255 − 19): the same secret as @noble', () => {
    const secret = fromHex('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4');
    for (const u of ['e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c', 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1ccc', 'f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f']) {
      expect(hex(nodeX25519(secret, fromHex(u)))).toBe(hex(nobleX25519(secret, fromHex(u))));
    }
  });

  it.each([
    ['0 (small order)', '0000000000000000000000000000000000000000000000000000000000000000'],
    ['1 (small order)', '0100000000000000000000000000000000000000000000000000000000000000'],
    ['an order-8 point', 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800'],
    ['p (≡ 0, non-canonical)', 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'],
    ['p + 1 (≡ 1, non-canonical)', 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'],
  ])('a public key of small order (%s) is refused by both', (_name, u) => {
    const secret = new Uint8Array(32).fill(9);
    expect(() => nobleX25519(secret, fromHex(u))).toThrow();
    expect(() => nodeX25519(secret, fromHex(u))).toThrow();
    // agreeKey makes either refusal the same typed error.
    for (const x of [nobleX25519, nodeX25519]) {
      try {
        agreeKey(secret, fromHex(u), 'mask', 1, 'a', 'b', x);
        expect.unreachable();
      } catch (err) {
        expect(isFedtuneError(err) && err.code).toBe('malformed_payload');
      }
    }
  });

  it('keys that are not 32 bytes: refused', () => {
    expect(() => nodeX25519(new Uint8Array(31), new Uint8Array(32).fill(9))).toThrow('X25519 keys are 32 bytes');
    expect(() => nodeX25519(new Uint8Array(32), new Uint8Array(33))).toThrow('X25519 keys are 32 bytes');
  });

  it('agreeKey derives the same key with either', () => {
    const random = new ChaChaRandom(new Uint8Array(32).fill(3)).randomBytes;
    const a = generateKeyPair(random);
    const b = generateKeyPair(random);
    expect(hex(agreeKey(a.secretKey, b.publicKey, 'encrypt', 4, 'x', 'y', nodeX25519))).toBe(hex(agreeKey(b.secretKey, a.publicKey, 'encrypt', 4, 'y', 'x')));
  });
});
