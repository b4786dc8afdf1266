import fc from 'fast-check';
import { Decoder, Encoder, PacketType } from 'socket.io-parser';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { clientToServerSchemas, FedtuneError, parseClientMessage, parseServerMessage, serverToClientSchemas, type ClientEvent, type ServerEvent } from '@fedtune/shared';
import { corruptAt, deeplyNested, hostileValue, validClientPayloads, validServerPayloads } from './arbitraries.ts';

/**
 * Property-based fuzzing of every message schema, both directions: whatever a peer sends, parsing either
 * returns a payload that passes its schema again, or throws FedtuneError('malformed_payload') with a
 * message of bounded length. Nothing else escapes: no TypeError, no RangeError, no 10 MB reason.
 */
const RUNS = 150;
/** The longest reason a refusal may carry, whatever the input's size. */
const MAX_REASON = 2048;

type Parse = (event: string, raw: unknown) => unknown;
const directions: Array<{ name: string; parse: Parse; events: string[]; valid: Record<string, fc.Arbitrary<unknown>> }> = [
  { name: 'client → coordinator', parse: (e, r) => parseClientMessage(e as ClientEvent, r), events: Object.keys(clientToServerSchemas), valid: validClientPayloads },
  { name: 'coordinator → site', parse: (e, r) => parseServerMessage(e as ServerEvent, r), events: Object.keys(serverToClientSchemas), valid: validServerPayloads },
];

/** Parses, and on refusal checks that the error is the one allowed kind. Returns the payload or undefined. */
function parseOrRefuse(parse: Parse, event: string, raw: unknown): { ok: true; value: unknown } | { ok: false; error: FedtuneError } {
  try {
    return { ok: true, value: parse(event, raw) };
  } catch (err) {
    expect(err).toBeInstanceOf(FedtuneError);
    const e = err as FedtuneError;
    expect(e.code).toBe('malformed_payload');
    expect(e.message.length).toBeLessThanOrEqual(MAX_REASON);
    return { ok: false, error: e };
  }
}

/** ArrayBuffers become Uint8Arrays on parsing; everything else is kept as it was. */
function normalized(value: unknown): unknown {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (value instanceof Uint8Array || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(normalized);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalized(v)]));
}

/** Sends a payload through socket.io's own packet encoder and decoder, as the wire does. */
function overSocketIoParser(event: string, payload: unknown): unknown {
  const packets = new Encoder().encode({ type: PacketType.EVENT, nsp: '/', data: [event, payload] });
  const decoder = new Decoder();
  let decoded: unknown[] | undefined;
  decoder.on('decoded', (p) => void (decoded = p.data as unknown[]));
  for (const p of packets) decoder.add(p);
  expect(decoded).toBeDefined();
  return decoded![1];
}

for (const { name, parse, events, valid } of directions) {
  describe(`message schemas, ${name}`, () => {
    it.each(events)('%s: every generated valid payload is accepted, survives the socket.io encoder, and re-parses to itself', (event) => {
      fc.assert(
        fc.property(valid[event], (payload) => {
          const parsed = parseOrRefuse(parse, event, payload);
          if (!parsed.ok) throw new Error(`valid ${event} refused: ${parsed.error.message}`);
          expect(parsed.value).toEqual(normalized(payload));
          expect(parse(event, parsed.value)).toEqual(parsed.value);
          const wire = overSocketIoParser(event, payload);
          expect(parse(event, wire)).toEqual(parsed.value);
        }),
        { numRuns: RUNS, seed: 21 },
      );
    });

    it.each(events)('%s: any value at all is accepted or refused with malformed_payload and a bounded reason', (event) => {
      fc.assert(
        fc.property(hostileValue, (raw) => {
          const parsed = parseOrRefuse(parse, event, raw);
          if (parsed.ok) expect(parse(event, parsed.value)).toEqual(parsed.value);
        }),
        { numRuns: RUNS, seed: 22 },
      );
    });

    it.each(events)('%s: one corrupted field of a valid payload is refused, or accepted only as a valid payload', (event) => {
      fc.assert(
        fc.property(valid[event], fc.nat(), hostileValue, (payload, choice, value) => {
          const parsed = parseOrRefuse(parse, event, corruptAt(payload, choice, value));
          if (parsed.ok) expect(parse(event, parsed.value)).toEqual(parsed.value);
        }),
        { numRuns: RUNS, seed: 23 },
      );
    });

    it.each(events)('%s: extra fields, __proto__ and constructor keys are dropped and pollute nothing', (event) => {
      fc.assert(
        fc.property(valid[event], fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'prototype', 'isAdmin', 'toString', 'hasOwnProperty', 'x'), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }), (payload, extras) => {
          // JSON.parse makes "__proto__" an own key, as socket.io's parser does with a peer's JSON.
          const hostile = JSON.parse(JSON.stringify({ ...extras, constructor: { prototype: { polluted: true } } }).replace(/^\{/, '{"__proto__":{"polluted":true},'));
          const parsed = parseOrRefuse(parse, event, Object.assign(hostile, payload));
          expect(parsed.ok).toBe(true);
          if (!parsed.ok) return;
          const keys = Object.keys(parsed.value as object);
          for (const k of ['__proto__', 'constructor', 'prototype', 'isAdmin', 'polluted', 'x']) expect(keys).not.toContain(k);
          expect(Object.getPrototypeOf(parsed.value)).toBe(Object.prototype);
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        }),
        { numRuns: 50, seed: 24 },
      );
    });

    it.each(events)('%s: 10 MB strings in every field and 100,000-deep nesting are refused with a short reason, no stack overflow', (event) => {
      const huge = 'A'.repeat(10 * 1024 * 1024);
      const sample = fc.sample(valid[event], { numRuns: 1, seed: 25 })[0] as Record<string, unknown>;
      const hostiles = [huge, deeplyNested(100_000, 'array'), deeplyNested(100_000, 'object'), [huge], { [huge]: huge }];
      for (const value of hostiles) {
        expect(parseOrRefuse(parse, event, value).ok).toBe(false);
        for (const key of Object.keys(sample)) {
          const parsed = parseOrRefuse(parse, event, { ...sample, [key]: value });
          // A 10 MB string is never accepted; deep values only where the schema holds arbitrary JSON.
          if (parsed.ok) expect(['model.topology', 'complete.aborted']).toContain(`${event}.${key}`);
        }
      }
    });
  });
}

describe('message schemas: event names and bounds', () => {
  it('refuses any unknown event name, however long or prototype-like, with a clipped quote of it', () => {
    const known = new Set([...Object.keys(clientToServerSchemas), ...Object.keys(serverToClientSchemas)]);
    const names = fc.oneof(fc.string({ unit: 'binary' }), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'prototype', ''), fc.integer({ min: 1, max: 100_000 }).map((n) => 'e'.repeat(n)));
    fc.assert(
      fc.property(names, hostileValue, (event, raw) => {
        fc.pre(!known.has(event));
        for (const { parse, name } of directions) {
          const parsed = parseOrRefuse(parse, event, raw);
          expect(parsed.ok).toBe(false);
          if (!parsed.ok) {
            expect(parsed.error.message).toMatch(new RegExp(`^unknown ${name.startsWith('client') ? 'client' : 'server'} event "`));
            expect(parsed.error.message.length).toBeLessThanOrEqual(300);
          }
        }
      }),
      { numRuns: 500, seed: 26 },
    );
    const tenMegabytes = 'E'.repeat(10 * 1024 * 1024);
    const err = parseOrRefuse(directions[0].parse, tenMegabytes, {});
    expect(err.ok).toBe(false);
    if (!err.ok) expect(err.error.message).toBe(`unknown client event "${'E'.repeat(64)}… (${10 * 1024 * 1024 - 64} more characters)"`);
    // Control characters and quotes in a name are escaped, not written raw into a log line.
    const ansi = parseOrRefuse(directions[0].parse, '\u001b[31m"\n', {});
    if (!ansi.ok) expect(ansi.error.message).toBe('unknown client event "\\u001b[31m\\"\\n"');
    // Non-string names (possible over the in-memory transport) are refused too, not thrown on.
    for (const odd of [Object.create(null), 42, Symbol('x'), { toString: () => 'hello' }]) {
      expect(parseOrRefuse(directions[0].parse, odd as never, {}).ok).toBe(false);
    }
  });

  it('bounds every string and every list a peer can send (the only exception: the model topology the coordinator sends)', () => {
    const unbounded: string[] = [];
    const walk = (schema: Record<string, unknown>, path: string): void => {
      if (schema.type === 'string' && schema.maxLength === undefined && schema.enum === undefined && schema.const === undefined) unbounded.push(path);
      if (schema.type === 'array' && schema.maxItems === undefined) unbounded.push(`${path}[]`);
      if (schema.type === 'object' && schema.additionalProperties && typeof schema.additionalProperties === 'object') unbounded.push(`${path}{}`);
      for (const [k, v] of Object.entries((schema.properties ?? {}) as Record<string, Record<string, unknown>>)) walk(v, path ? `${path}.${k}` : k);
      if (schema.items && typeof schema.items === 'object') walk(schema.items as Record<string, unknown>, `${path}[]`);
      for (const v of [...((schema.anyOf as []) ?? []), ...((schema.oneOf as []) ?? []), ...((schema.allOf as []) ?? [])]) walk(v, path);
    };
    for (const [event, schema] of Object.entries({ ...clientToServerSchemas, ...serverToClientSchemas })) {
      walk(z.toJSONSchema(schema as z.ZodType, { unrepresentable: 'any', io: 'input' }) as Record<string, unknown>, event);
    }
    // 'complete.aborted' is clipped on input (never refused, so a long reason cannot make 'complete' fail).
    expect(unbounded.sort()).toEqual(['complete.aborted', 'model.topology{}']);
  });

  it('clips a long abort reason instead of refusing the complete message', () => {
    const complete = parseServerMessage('complete', { runId: 'r', rounds: 3, aborted: 'x'.repeat(100_000) });
    expect(complete.aborted).toBe(`${'x'.repeat(1950)}… (98050 more characters)`);
    expect(parseServerMessage('complete', complete)).toEqual(complete);
    expect(parseServerMessage('complete', { runId: 'r', rounds: 3, aborted: 'y'.repeat(2000) }).aborted).toBe('y'.repeat(2000));
  });
});
