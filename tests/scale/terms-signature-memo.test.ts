import { describe, expect, it } from 'vitest';
import { verifyTermsSignature } from '@fedtune/shared';
import { CoordinatorIdentity } from '@fedtune/coordinator';
import { signed, terms } from '../policy/terms-fixture.ts';

/** verifyTermsSignature remembers valid signatures (a worker's thousands of sites verify one run's terms once): no verdict changes. */
describe('verifyTermsSignature with remembered valid signatures', () => {
  it('a valid signature stays valid when asked again; a changed signature, hash or key is still refused after it', () => {
    const s = signed(terms());
    for (let i = 0; i < 3; i++) expect(verifyTermsSignature(s.hash, s.signature, s.terms.coordinator)).toBe(true);
    const flipped = `${s.signature.slice(0, -1)}${s.signature.endsWith('0') ? '1' : '0'}`;
    expect(verifyTermsSignature(s.hash, flipped, s.terms.coordinator)).toBe(false);
    expect(verifyTermsSignature(`${s.hash.slice(0, -1)}${s.hash.endsWith('0') ? '1' : '0'}`, s.signature, s.terms.coordinator)).toBe(false);
    expect(verifyTermsSignature(s.hash, s.signature, CoordinatorIdentity.generate().publicKey)).toBe(false);
    // An invalid signature is not remembered as valid by being asked twice.
    expect(verifyTermsSignature(s.hash, flipped, s.terms.coordinator)).toBe(false);
  });

  it('more valid signatures than it remembers: every one still verifies, every forgery still fails', () => {
    const many = Array.from({ length: 20 }, (_, i) => {
      const id = CoordinatorIdentity.generate();
      return signed(terms((t) => Object.assign(t, { rounds: i + 1, coordinator: id.publicKey })), id);
    });
    for (const s of many) expect(verifyTermsSignature(s.hash, s.signature, s.terms.coordinator)).toBe(true);
    for (const s of many) expect(verifyTermsSignature(s.hash, s.signature, s.terms.coordinator)).toBe(true);
    for (let i = 0; i < many.length; i++) {
      const other = many[(i + 1) % many.length];
      expect(verifyTermsSignature(many[i].hash, other.signature, many[i].terms.coordinator)).toBe(false);
    }
  });
});
