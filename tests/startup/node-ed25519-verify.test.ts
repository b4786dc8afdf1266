import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { checkRunTerms, nobleEd25519Verify, verifyTermsSignature, DEFAULT_SITE_POLICY, type Ed25519Verify } from '@fedtune/shared';
import { nodeEd25519Verify } from '@fedtune/shared/node';
import { signed, terms } from '../policy/terms-fixture.ts';

const hex = (x: string) => new Uint8Array(Buffer.from(x, 'hex'));
/** The group order L of Ed25519 (RFC 8032): S + L is the non-canonical twin of a valid S. */
const L = (1n << 252n) + 27742317777372353535851937790883648493n;

function addLToS(signature: Uint8Array): Uint8Array {
  const out = signature.slice();
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i]);
  s += L;
  for (let i = 0; i < 32; i++) {
    out[32 + i] = Number(s & 0xffn);
    s >>= 8n;
  }
  return out;
}

/** Never throws: a throw is "not valid", as verifyTermsSignature treats it. */
function verdict(verify: Ed25519Verify, signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return verify(signature, message, publicKey);
  } catch {
    return false;
  }
}

type Case = [name: string, signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array, expected: boolean];

function cases(): Case[] {
  const out: Case[] = [];
  // RFC 8032 §7.1, tests 1 and 2.
  const pub1 = hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  const sig1 = hex('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b');
  const pub2 = hex('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c');
  const sig2 = hex('92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00');
  out.push(['RFC 8032 test 1', sig1, new Uint8Array(0), pub1, true]);
  out.push(['RFC 8032 test 2', sig2, hex('72'), pub2, true]);
  out.push(['RFC 8032 test 1 with test 2 key', sig1, new Uint8Array(0), pub2, false]);
  out.push(['RFC 8032 test 2, other message', sig2, hex('73'), pub2, false]);
  out.push(['non-canonical S (S + L)', addLToS(sig1), new Uint8Array(0), pub1, false]);
  out.push(['all-zero signature', new Uint8Array(64), new Uint8Array(0), pub1, false]);
  out.push(['identity public key, zero-ish signature', hex('01'.padEnd(128, '0')), new Uint8Array(0), hex('01'.padEnd(64, '0')), false]);
  out.push(['63-byte signature', sig1.subarray(0, 63), new Uint8Array(0), pub1, false]);
  out.push(['65-byte signature', Uint8Array.from([...sig1, 0]), new Uint8Array(0), pub1, false]);
  out.push(['31-byte key', sig1, new Uint8Array(0), pub1.subarray(0, 31), false]);
  out.push(['33-byte key', sig1, new Uint8Array(0), Uint8Array.from([...pub1, 0]), false]);
  const smallOrderKeys = [
    '0100000000000000000000000000000000000000000000000000000000000000',
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    '0000000000000000000000000000000000000000000000000000000000000000',
    '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
    'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ];
  for (const key of smallOrderKeys) {
    for (const sign of [0, 0x80]) {
      const publicKey = hex(key);
      publicKey[31] |= sign;
      // R = identity, S = 0: [S]B = R + [k]A holds for the identity key whatever the message (OpenSSL accepts it).
      out.push([`small-order key ${key.slice(0, 8)}… sign ${sign}`, hex('01'.padEnd(128, '0')), new Uint8Array(0), publicKey, false]);
      out.push([`small-order key ${key.slice(0, 8)}… sign ${sign}, R = the key`, Uint8Array.from([...publicKey, ...new Uint8Array(32)]), hex('72'), publicKey, false]);
    }
  }
  // Non-canonical y (p ≤ y < 2^255) in the key or in R.
  for (let low = 0xed; low <= 0xff; low++) {
    const nonCanonical = hex(`${low.toString(16)}${'ff'.repeat(30)}7f`);
    out.push([`non-canonical key y = p + ${low - 0xed}`, sig1, new Uint8Array(0), nonCanonical, false]);
    out.push([`non-canonical R y = p + ${low - 0xed}`, Uint8Array.from([...nonCanonical, ...sig1.subarray(32)]), new Uint8Array(0), pub1, false]);
  }
  out.push(['key not on the curve', sig1, new Uint8Array(0), hex('02'.padEnd(64, '0')), false]);
  for (let i = 0; i < 12; i++) {
    const secret = new Uint8Array(randomBytes(32));
    const publicKey = ed25519.getPublicKey(secret);
    const message = new Uint8Array(randomBytes(32)); // a terms hash is 32 bytes
    const signature = ed25519.sign(message, secret);
    out.push([`random ${i}: valid`, signature, message, publicKey, true]);
    const flippedR = signature.slice();
    flippedR[i % 32] ^= 1 << i % 8;
    out.push([`random ${i}: R bit flipped`, flippedR, message, publicKey, false]);
    const flippedS = signature.slice();
    flippedS[32 + (i % 31)] ^= 1 << i % 8;
    out.push([`random ${i}: S bit flipped`, flippedS, message, publicKey, false]);
    const otherMessage = message.slice();
    otherMessage[31 - i] ^= 0x80;
    out.push([`random ${i}: message changed`, signature, otherMessage, publicKey, false]);
    out.push([`random ${i}: other key`, signature, message, ed25519.getPublicKey(new Uint8Array(randomBytes(32))), false]);
    out.push([`random ${i}: S + L`, addLToS(signature), message, publicKey, false]);
  }
  return out;
}

describe("Ed25519 verification: Node's crypto and @noble/curves give the same verdicts", () => {
  it.each(cases())('%s', (_, signature, message, publicKey, expected) => {
    expect(verdict(nodeEd25519Verify, signature, message, publicKey)).toBe(expected);
    expect(verdict(nobleEd25519Verify, signature, message, publicKey)).toBe(expected);
  });

  it('nodeEd25519Verify throws for a key that is not 32 bytes and refuses a signature that is not 64', () => {
    expect(() => nodeEd25519Verify(new Uint8Array(64), new Uint8Array(0), new Uint8Array(31))).toThrow('an Ed25519 public key has 32 bytes, not 31');
    expect(nodeEd25519Verify(new Uint8Array(63), new Uint8Array(0), new Uint8Array(32))).toBe(false);
  });
});

describe('checkRunTerms and verifyTermsSignature with either verifier', () => {
  it.each([
    ['noble', nobleEd25519Verify],
    ['node', nodeEd25519Verify],
  ] as const)('%s: accepts signed terms, refuses a tampered signature, hash or key, and bad hex', (_, verify) => {
    const s = signed(terms());
    expect(checkRunTerms(s, DEFAULT_SITE_POLICY, [], verify).ok).toBe(true);
    const flip = (h: string, at: number) => `${h.slice(0, at)}${h[at] === '0' ? '1' : '0'}${h.slice(at + 1)}`;
    // Not the memo: each of these was never valid.
    expect(verifyTermsSignature(s.hash, flip(s.signature, 5), s.terms.coordinator, verify)).toBe(false);
    expect(verifyTermsSignature(s.hash, flip(s.signature, 100), s.terms.coordinator, verify)).toBe(false);
    expect(verifyTermsSignature(flip(s.hash, 3), s.signature, s.terms.coordinator, verify)).toBe(false);
    expect(verifyTermsSignature(s.hash, s.signature, flip(s.terms.coordinator, 7), verify)).toBe(false);
    expect(verifyTermsSignature(s.hash, `${s.signature.slice(0, -1)}g`, s.terms.coordinator, verify)).toBe(false);
    expect(verifyTermsSignature(s.hash, s.signature.slice(0, -1), s.terms.coordinator, verify)).toBe(false);
    const tampered = checkRunTerms({ ...s, signature: flip(s.signature, 9) }, DEFAULT_SITE_POLICY, [], verify);
    expect(tampered.ok).toBe(false);
    expect(tampered.ok ? '' : tampered.reason).toContain("the terms' signature is not coordinator");
  });

  it('checkRunTerms uses the verifier it is given', () => {
    const s = signed(terms());
    const seen: number[] = [];
    const refuseAll: Ed25519Verify = (signature, message, publicKey) => {
      seen.push(signature.length, message.length, publicKey.length);
      return false;
    };
    // A signature this process has not verified yet (the memo keeps valid ones).
    const fresh = signed(terms((t) => void (t.rounds = 7)));
    const v = checkRunTerms(fresh, DEFAULT_SITE_POLICY, [], refuseAll);
    expect(v.ok).toBe(false);
    expect(seen).toEqual([64, 32, 32]);
    expect(s.hash).not.toBe(fresh.hash);
  });
});
