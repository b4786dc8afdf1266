import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FedtuneError, type RoundRecord } from '@fedtune/shared';
import { CheckpointStore, decodeCheckpoint, decodeState, encodeCheckpoint, encodeState, readCheckpointHeader, readSettledRounds, SettledRoundsLog, type Checkpoint, type SettledRoundsRef } from '@fedtune/coordinator';
import { thrown } from '../helpers/thrown.ts';
import { makeReport, makeRound, makeWeights, tempDir } from './helpers.ts';

// What a checkpoint file read back from disk may be, and the one typed error each kind of damage gets: the header,
// the body's checksum, the meta's fields and sections, the state codec's tags, and the settled-rounds file's
// reference and hash chain. Every case names the check it reaches (its message), so a check that is skipped or
// loosened fails here.

const MAGIC = 0x4b435446;

function checkpoint(round = 3): Checkpoint {
  return {
    runId: 'run-c',
    round,
    weights: makeWeights(round),
    strategyState: { m: [new Float32Array([1, -0])], step: 2 },
    rng: { sample: 7 },
    accountant: { rdp: new Float64Array([0.5]) },
    averaging: { count: 1, sums: [new Float64Array([1, 2])] },
    report: makeReport('run-c', round),
    createdAt: '2026-01-01T00:00:00.000Z',
  };
}

const concat = (chunks: Uint8Array[]): Buffer => Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
const fileOf = (ckpt = checkpoint(), ref?: SettledRoundsRef): Buffer => concat(encodeCheckpoint(ckpt, ref).chunks);
const pad8 = (n: number) => (n + 7) & ~7;

type Meta = Record<string, unknown> & { sections: Array<[number, number]> };

/** The file with its header's JSON replaced (prefix fixed up; body unchanged). */
function withHeader(file: Buffer, edit: (header: Record<string, unknown>) => unknown, format?: number): Buffer {
  const { header, bodyOffset } = readCheckpointHeader(file);
  const json = Buffer.from(JSON.stringify(edit({ ...header }) ?? header));
  const prefix = Buffer.alloc(16);
  prefix.writeUInt32LE(MAGIC, 0);
  prefix.writeUInt32LE(format ?? header.format, 4);
  prefix.writeUInt32LE(json.byteLength, 8);
  return Buffer.concat([prefix, json, Buffer.alloc(pad8(16 + json.byteLength) - 16 - json.byteLength), file.subarray(bodyOffset)]);
}

/**
 * The file re-laid out and re-sealed (a valid checksum) after `edit` changed its meta: what a writer other than
 * ours could leave. Sections are laid out after the new meta unless `edit` returns 'keep-sections'.
 */
function resealed(file: Buffer, edit: (meta: Meta, sections: Buffer[]) => 'keep-sections' | void, rawMeta?: Buffer): Buffer {
  const { header, bodyOffset } = readCheckpointHeader(file);
  const body = file.subarray(bodyOffset);
  const meta = JSON.parse(body.subarray(8, 8 + body.readUInt32LE(0)).toString('utf8')) as Meta;
  const sections = meta.sections.map(([o, l]) => Buffer.from(body.subarray(o, o + l)));
  const keep = edit(meta, sections) === 'keep-sections';
  let metaJson = rawMeta ?? Buffer.from(JSON.stringify(meta));
  for (let guess = 8; !keep && !rawMeta; ) {
    let pos = guess;
    meta.sections = sections.map((s) => {
      const at: [number, number] = [pos, s.byteLength];
      pos = pad8(pos + s.byteLength);
      return at;
    });
    metaJson = Buffer.from(JSON.stringify(meta));
    const start = pad8(8 + metaJson.byteLength);
    if (start === guess) break;
    guess = start;
  }
  const lengthPrefix = Buffer.alloc(8);
  lengthPrefix.writeUInt32LE(metaJson.byteLength, 0);
  const parts = [lengthPrefix, metaJson, Buffer.alloc(pad8(8 + metaJson.byteLength) - 8 - metaJson.byteLength)];
  for (const s of sections) parts.push(s, Buffer.alloc(pad8(s.byteLength) - s.byteLength));
  const newBody = Buffer.concat(parts);
  const sha256 = createHash('sha256').update(newBody).digest('hex');
  return withHeader(Buffer.concat([file.subarray(0, bodyOffset), newBody]), (h) => ({ ...h, sha256, bodyBytes: newBody.byteLength }));
}

function codecError(fn: () => unknown): FedtuneError {
  try {
    fn();
  } catch (err) {
    expect(err, String(err)).toBeInstanceOf(FedtuneError);
    expect((err as FedtuneError).code).toBe('codec');
    return err as FedtuneError;
  }
  throw new Error('expected a codec error, nothing was thrown');
}

describe('a checkpoint file that is not what our encoder wrote gets one typed codec error', () => {
  it('the untouched file and a re-sealed copy of it decode to the same checkpoint (the helpers change nothing by themselves)', () => {
    const file = fileOf();
    const direct = decodeCheckpoint(file);
    const again = decodeCheckpoint(resealed(file, () => undefined));
    expect(encodeState(again).json).toBe(encodeState(direct).json);
    expect(direct.round).toBe(3);
    expect(direct.runId).toBe('run-c');
    expect(direct.rng).toEqual({ sample: 7 });
    expect(direct.strategyState).toEqual({ m: [new Float32Array([1, -0])], step: 2 });
    expect(direct.accountant).toEqual({ rdp: new Float64Array([0.5]) });
    expect(direct.averaging).toEqual({ count: 1, sums: [new Float64Array([1, 2])] });
    expect(direct.createdAt).toBe('2026-01-01T00:00:00.000Z');
  });

  const file = fileOf();
  const { bodyOffset } = readCheckpointHeader(file);
  const headerCases: Array<[string, () => Buffer, RegExp]> = [
    ['empty', () => Buffer.alloc(0), /0 bytes, shorter than its prefix/],
    ['15 bytes', () => file.subarray(0, 15), /15 bytes, shorter than its prefix/],
    ['bad magic', () => Buffer.concat([Buffer.from('FTCX'), file.subarray(4)]), /bad magic/],
    ['format 0', () => withHeader(file, () => undefined, 0), /format 0 is not supported \(expected 1 or 2\)/],
    ['format 3', () => withHeader(file, () => undefined, 3), /format 3 is not supported/],
    ['header length past the end', () => { const f = Buffer.from(file); f.writeUInt32LE(f.byteLength, 8); return f; }, /header runs past the end/],
    ['header length exactly to the end is read (then its JSON fails)', () => { const f = Buffer.from(file.subarray(0, 40)); f.writeUInt32LE(24, 8); return f; }, /header is not valid JSON/],
    ['prefix format 2, header format 1', () => withHeader(file, (h) => ({ ...h, format: 1 })), /header says format 1, its prefix 2/],
    ['header not JSON', () => { const f = Buffer.from(file); f[16] = 0x7b; f[17] = 0x7b; return f; }, /header is not valid JSON/],
    ['header without sha256', () => withHeader(file, (h) => ({ ...h, sha256: undefined })), /lacks sha256, bodyBytes or round/],
    ['header with a numeric sha256', () => withHeader(file, (h) => ({ ...h, sha256: 5 })), /lacks sha256/],
    ['header without bodyBytes', () => withHeader(file, (h) => ({ ...h, bodyBytes: undefined })), /lacks sha256/],
    ['header with fractional bodyBytes', () => withHeader(file, (h) => ({ ...h, bodyBytes: 1.5 })), /lacks sha256/],
    ['header without round', () => withHeader(file, (h) => ({ ...h, round: undefined })), /lacks sha256/],
    ['header with round "3"', () => withHeader(file, (h) => ({ ...h, round: '3' })), /lacks sha256/],
    ['body truncated by a byte', () => file.subarray(0, file.byteLength - 1), /body is \d+ bytes, header says \d+ \(truncated\)/],
    ['a byte of trailing data', () => Buffer.concat([file, Buffer.alloc(1)]), /\(trailing data\)/],
    ['a bit flipped in the body', () => { const f = Buffer.from(file); f[bodyOffset + 20] ^= 1; return f; }, /checksum mismatch/],
    ['a bit flipped in the last byte', () => { const f = Buffer.from(file); f[f.byteLength - 1] ^= 0x80; return f; }, /checksum mismatch/],
  ];
  it.each(headerCases)('header and checksum: %s', (_name, make, message) => {
    expect(codecError(() => decodeCheckpoint(make())).message).toMatch(message);
  });

  it('the header alone: its fields as written, and where the body starts (8-byte aligned)', () => {
    const { header, bodyOffset: at } = readCheckpointHeader(file);
    expect(header).toMatchObject({ format: 2, runId: 'run-c', round: 3, createdAt: '2026-01-01T00:00:00.000Z' });
    expect(header.bodyBytes).toBe(file.byteLength - at);
    expect(header.sha256).toBe(createHash('sha256').update(file.subarray(at)).digest('hex'));
    expect(at % 8).toBe(0);
    expect(at).toBe(pad8(16 + file.readUInt32LE(8)));
    expect(file.readUInt32LE(0)).toBe(MAGIC);
    expect(file.readUInt32LE(4)).toBe(2);
  });

  const metaCases: Array<[string, (meta: Meta, sections: Buffer[]) => 'keep-sections' | void, RegExp]> = [
    ['runId a number', (m) => void (m.runId = 5), /meta: runId is not a string/],
    ['round negative', (m) => void (m.round = -1), /meta: round is not a non-negative integer/],
    ['round fractional', (m) => void (m.round = 2.5), /meta: round is not/],
    ['createdAt missing', (m) => void delete m.createdAt, /meta: createdAt is not a string/],
    ['rng null', (m) => void (m.rng = null), /meta: rng is not an object/],
    ['rng a list', (m) => void (m.rng = [1]), /meta: rng is not an object/],
    ['an rng state a string', (m) => void (m.rng = { sample: '7' }), /meta: rng state sample is not a finite number/],
    ['an rng state a long-named string (the name is cut)', (m) => void (m.rng = { ['x'.repeat(5000)]: '7' }), /meta: rng state x{64} is not a finite number$/],
    ['report an object', (m) => void (m.report = {}), /meta: report or strategyState is not an encoded string/],
    ['strategyState missing', (m) => void delete m.strategyState, /meta: report or strategyState/],
    ['accountant an object', (m) => void (m.accountant = {}), /meta: accountant or averaging is not an encoded string/],
    ['averaging a number', (m) => void (m.averaging = 1), /meta: accountant or averaging/],
    ['strategyBlobs missing', (m) => void delete m.strategyBlobs, /meta: strategyBlobs is not a count/],
    ['strategyBlobs -1', (m) => void (m.strategyBlobs = -1), /meta: strategyBlobs is not a count/],
    ['accountantBlobs 0.5', (m) => void (m.accountantBlobs = 0.5), /meta: accountantBlobs is not a count/],
    ['settledRounds null', (m) => void (m.settledRounds = null), /meta: settledRounds is not a reference/],
    ['settledRounds a string', (m) => void (m.settledRounds = 'settled-rounds-00000000.jsonl'), /meta: settledRounds is not a reference/],
    ['sections an object', (m) => ((m.sections = {} as never), 'keep-sections'), /meta: sections is not a list/],
    ['a section of three numbers', (m) => ((m.sections = m.sections.map((s, i) => (i === 1 ? [...s, 0] : s)) as never), 'keep-sections'), /meta: section 1 is not an \[offset, length\] pair/],
    ['a negative offset', (m) => ((m.sections[0] = [-8, 8]), 'keep-sections'), /meta: section 0 is not an \[offset, length\] pair/],
    ['a fractional length', (m) => ((m.sections[0] = [m.sections[0][0], 0.5]), 'keep-sections'), /meta: section 0 is not/],
    ['a section one byte past the body', (m) => ((m.sections[2] = [m.sections[2][0], m.sections[2][1] + 1 + 1e6]), 'keep-sections'), /meta: section 2 lies outside the body/],
    ['fewer sections than claimed', (m) => void (m.strategyBlobs = 9), /meta: 4 sections, fewer than the 11 the weights, strategy state and accountant claim/],
    ['header round ≠ meta round', (m) => void (m.round = 4), /header \(run run-c, round 3\) disagrees with its meta \(run run-c, round 4\)/],
    ['header run ≠ meta run', (m) => void (m.runId = 'run-x'), /disagrees with its meta \(run run-x, round 3\)/],
    ['the weights section garbage', (_m, s) => void s[0].fill(0xff), /./],
    ['a straggler record malformed', (m) => void (m.stragglers = [['s', 0, 0, 0]]), /straggler/],
    ['stragglers not a list', (m) => void (m.stragglers = {}), /straggler records are not a list/],
  ];
  it.each(metaCases)('meta, re-sealed with a valid checksum: %s', (_name, edit, message) => {
    expect(codecError(() => decodeCheckpoint(resealed(file, edit))).message).toMatch(message);
  });

  it.each([
    ['not JSON', Buffer.from('{"runId":'), /meta is not valid JSON/],
    ['a list', Buffer.from('[]'), /meta: not an object/],
    ['null', Buffer.from('null'), /meta: not an object/],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), /meta is not valid JSON/],
  ])('meta, re-sealed: %s', (_name, raw, message) => {
    expect(codecError(() => decodeCheckpoint(resealed(file, () => undefined, raw))).message).toMatch(message);
  });

  it("a meta length past the body's end, and a body shorter than the length prefix", () => {
    const long = resealed(file, () => undefined);
    const { bodyOffset: at } = readCheckpointHeader(long);
    const body = Buffer.from(long.subarray(at));
    body.writeUInt32LE(body.byteLength - 7, 0);
    const sha256 = createHash('sha256').update(body).digest('hex');
    expect(codecError(() => decodeCheckpoint(withHeader(Buffer.concat([long.subarray(0, at), body]), (h) => ({ ...h, sha256 })))).message).toMatch(/meta of \d+ bytes runs past the body's end/);
    const tiny = Buffer.alloc(7);
    const tinySha = createHash('sha256').update(tiny).digest('hex');
    const short = withHeader(Buffer.concat([long.subarray(0, at), tiny]), (h) => ({ ...h, sha256: tinySha, bodyBytes: 7 }));
    expect(codecError(() => decodeCheckpoint(short)).message).toMatch(/body is 7 bytes, shorter than its meta's length prefix/);
    // Exactly 8 bytes past the prefix (an empty meta) is read, and is not JSON.
    const eight = Buffer.alloc(8);
    const eightSha = createHash('sha256').update(eight).digest('hex');
    expect(codecError(() => decodeCheckpoint(withHeader(Buffer.concat([long.subarray(0, at), eight]), (h) => ({ ...h, sha256: eightSha, bodyBytes: 8 })))).message).toMatch(/meta is not valid JSON/);
  });

  it('a section that ends exactly at the body end is inside it; the sections are read at their offsets', () => {
    const f = resealed(file, () => undefined);
    const back = decodeCheckpoint(f);
    expect(back.averaging).toEqual({ count: 1, sums: [new Float64Array([1, 2])] });
    // The accountant's and the averaging's sections are told apart by accountantBlobs.
    expect(back.accountant).toEqual({ rdp: new Float64Array([0.5]) });
  });

  it('a format-1 header cannot refer to a settled-rounds file; a format-2 one must be read with its store', () => {
    const ref: SettledRoundsRef = { file: 'settled-rounds-0000000a.jsonl', count: 1, bytes: 10, sha256: '00' };
    const withRef = resealed(file, (m) => void (m.settledRounds = ref));
    expect(codecError(() => decodeCheckpoint(withHeader(withRef, (h) => ({ ...h, format: 1 }), 1))).message).toMatch(/format 1 cannot refer to a settled-rounds file/);
    expect(codecError(() => decodeCheckpoint(withRef)).message).toMatch(/keeps its first 1 rounds in settled-rounds-0000000a.jsonl: read it with its checkpoint store/);
    // A reader that returns fewer rounds than referred to.
    expect(codecError(() => decodeCheckpoint(withRef, () => [])).message).toMatch(/refers to 1 settled rounds, 0 read/);
    const round0 = makeRound(1);
    const back = decodeCheckpoint(withRef, (r) => {
      expect(r).toEqual(ref);
      return [round0];
    });
    expect(back.report.rounds[0]).toBe(round0);
    expect(back.report.rounds.length).toBe(4);
  });

  it('the encoder refuses a reference to more settled rounds than the report has, and a non-finite rng state', () => {
    const ck = checkpoint(2);
    expect(() => encodeCheckpoint(ck, { file: 'settled-rounds-00000001.jsonl', count: 3, bytes: 0, sha256: '' })).toThrow(/3 settled rounds referred to, the report has 2/);
    expect(() => encodeCheckpoint(ck, { file: 'settled-rounds-00000001.jsonl', count: 2, bytes: 0, sha256: '' })).not.toThrow();
    expect(() => encodeCheckpoint({ ...ck, rng: { sample: NaN } })).toThrow(/rng state sample is not a finite number/);
    expect(() => encodeCheckpoint({ ...ck, rng: { sample: Infinity } })).toThrow(/rng state sample/);
    expect(() => encodeCheckpoint({ ...ck, report: { ...ck.report, extra: new Float32Array(1) } as never })).toThrow(/must not hold typed arrays/);
  });

  it('a checkpoint store falls back past a re-sealed file whose meta is malformed, with the reason as its warning', async () => {
    const store = new CheckpointStore(tempDir());
    await store.write({ ...checkpoint(1), report: makeReport('run-c', 1) });
    const { path } = await store.write({ ...checkpoint(2), report: makeReport('run-c', 2) });
    writeFileSync(path, resealed(readFileSync(path), (m) => ((m.sections = 'x' as never), 'keep-sections')));
    const latest = store.latest();
    expect(latest.checkpoint?.round).toBe(1);
    expect(latest.warnings).toHaveLength(1);
    expect(latest.warnings[0].message).toMatch(/unusable, falling back to an older one: checkpoint meta: sections is not a list/);
  });
});

describe("the state codec's tags, read back from a file", () => {
  const cases: Array<[string, string, Uint8Array[], RegExp]> = [
    ['not JSON', '{', [], /skeleton is not valid JSON/],
    ['an unknown number', '{"$ft":"num","v":"Nan"}', [], /state at \$: unknown number Nan/],
    ['a long unknown number (cut)', `{"$ft":"num","v":"${'9'.repeat(1000)}"}`, [], /unknown number 9{32}$/],
    ['an unknown tag', '{"a":{"$ft":"f16","blob":0}}', [new Uint8Array(2)], /state at \$\.a: unknown tag f16/],
    ['a tag from the prototype', '{"$ft":"toString","blob":0}', [new Uint8Array(4)], /unknown tag toString/],
    ['a tag that is a number', '{"$ft":3}', [], /unknown tag 3/],
    ['a blob index past the end', '{"$ft":"f32","blob":1}', [new Uint8Array(4)], /blob 1 does not exist \(1 blobs\)/],
    ['a negative blob index', '{"$ft":"f32","blob":-1}', [new Uint8Array(4)], /blob -1 does not exist/],
    ['a fractional blob index', '{"$ft":"f32","blob":0.5}', [new Uint8Array(4)], /blob 0.5 does not exist/],
    ['a blob index as a string', '{"$ft":"u8","blob":"0"}', [new Uint8Array(4)], /blob 0 does not exist/],
    ['no blob index', '{"$ft":"u8"}', [new Uint8Array(4)], /blob undefined does not exist/],
    ['a blob whose length is not whole f64s', '[{"$ft":"f64","blob":0}]', [new Uint8Array(12)], /state at \$\[0\]: blob 0 has 12 bytes, not a multiple of 8/],
    ['a blob whose length is not whole i32s', '{"$ft":"i32","blob":0}', [new Uint8Array(6)], /not a multiple of 4/],
    ['a wrapped object that holds a string', '{"$ft":"obj","v":"x"}', [], /state at \$: a wrapped object holds no object/],
    ['a wrapped object that holds null', '{"$ft":"obj","v":null}', [], /a wrapped object holds no object/],
    ['a wrapped object that holds a list', '{"$ft":"obj","v":[1]}', [], /a wrapped object holds no object/],
    ['an error inside a wrapped object names its path', '{"w":{"$ft":"obj","v":{"a":{"$ft":"bad"}}}}', [], /^state at \$\.w\.a: unknown tag bad$/],
    ['a tag that is a list naming a kind', '{"$ft":["f32"],"blob":0}', [new Uint8Array(4)], /unknown tag f32$/],
    ['a long tag (cut)', `{"$ft":"${'t'.repeat(100)}"}`, [], new RegExp(`unknown tag t{32}$`)],
    ['a long blob index (cut)', `{"$ft":"u8","blob":"${'7'.repeat(100)}"}`, [new Uint8Array(1)], new RegExp(`blob 7{32} does not exist \\(1 blobs\\)$`)],
    ['a path of exactly 160 characters is not cut', `{"${'k'.repeat(158)}":{"$ft":"bad"}}`, [], new RegExp(`^state at \\$\\.k{158}: unknown tag bad$`)],
    ['a deep path (cut)', `{"${'k'.repeat(400)}":{"$ft":"bad"}}`, [], /^state at \$\.k{158}…: unknown tag bad$/],
  ];
  it.each(cases)('%s', (_name, json, blobs, message) => {
    expect(codecError(() => decodeState(json, blobs)).message).toMatch(message);
  });

  it('a skeleton that is not JSON keeps the parse error as its cause', () => {
    expect(codecError(() => decodeState('{', [])).cause).toBeInstanceOf(SyntaxError);
  });

  it('reads what the encoder writes: every tag, a wrapped $ft key, fresh aligned copies of the blobs', () => {
    const value = { a: [NaN, Infinity, -Infinity, -0, 1], t: { $ft: 'user', u8: new Uint8Array([1, 2]), u32: new Uint32Array([2 ** 32 - 1]), i32: new Int32Array([-5]) }, f: new Float32Array([0.5]), n: null, s: 's', b: false, u: [undefined] };
    const { json, blobs } = encodeState(value);
    const back = decodeState(json, blobs) as typeof value;
    expect(Object.is(back.a[3], -0)).toBe(true);
    expect(back.a.slice(0, 3)).toEqual([NaN, Infinity, -Infinity]);
    expect(back.a[4]).toBe(1);
    expect(back.t.$ft).toBe('user');
    expect(back.t.u8).toEqual(new Uint8Array([1, 2]));
    expect(back.t.u32).toEqual(new Uint32Array([2 ** 32 - 1]));
    expect(back.t.i32).toEqual(new Int32Array([-5]));
    expect(back.f).toEqual(new Float32Array([0.5]));
    expect(back.f.buffer).not.toBe(blobs[blobs.length - 1].buffer);
    expect(back.u).toEqual([null]);
    expect({ n: back.n, s: back.s, b: back.b }).toEqual({ n: null, s: 's', b: false });
    // A blob at an odd offset of a larger buffer still decodes (copied into an aligned buffer).
    const odd = new Uint8Array(9);
    odd.set(new Uint8Array(new Float64Array([Math.PI]).buffer), 1);
    expect(decodeState('{"$ft":"f64","blob":0}', [odd.subarray(1)])).toEqual(new Float64Array([Math.PI]));
  });

  it('keys from the file are own data, never prototypes: __proto__ and constructor stay plain keys', () => {
    const back = decodeState('{"__proto__":{"polluted":1},"o":{"$ft":"obj","v":{"__proto__":{"polluted":2},"$ft":"x"}}}', []) as Record<string, Record<string, unknown>>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(back, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.hasOwn(back.o, '__proto__')).toBe(true);
    expect(back.o.$ft).toBe('x');
  });
});

describe("the settled-rounds file's reference and hash chain", () => {
  async function written(n = 3): Promise<{ dir: string; ref: SettledRoundsRef; records: RoundRecord[] }> {
    const dir = tempDir();
    const records = Array.from({ length: n }, (_, i) => makeRound(i + 1));
    const ref = await new SettledRoundsLog(dir).append(records, (r) => encodeState(r).json);
    return { dir, ref, records };
  }

  it('the reference names the lines, their bytes and the chain h_i = SHA-256(h_(i-1) ‖ SHA-256(line_i)) from 32 zero bytes', async () => {
    const { dir, ref, records } = await written();
    const lines = records.map((r) => Buffer.from(`${encodeState(r).json}\n`));
    let chain = Buffer.alloc(32);
    for (const line of lines) chain = createHash('sha256').update(chain).update(createHash('sha256').update(line).digest()).digest();
    expect(ref).toEqual({ file: expect.stringMatching(/^settled-rounds-[0-9a-f]{8}\.jsonl$/), count: 3, bytes: Buffer.concat(lines).byteLength, sha256: chain.toString('hex') });
    expect(readFileSync(join(dir, ref.file))).toEqual(Buffer.concat(lines));
    const read = readSettledRounds(dir, ref);
    expect(read.records.map((r) => encodeState(r).json)).toEqual(records.map((r) => encodeState(r).json));
    expect(read.state).toMatchObject({ file: ref.file, bytes: ref.bytes, records: [undefined, undefined, undefined] });
    expect(read.state.chain.toString('hex')).toBe(ref.sha256);
    expect(read.state.digests.map((d) => d.toString('hex'))).toEqual(lines.map((l) => createHash('sha256').update(l).digest('hex')));
    // A prefix reference (an older checkpoint) reads its lines only.
    const first = lines[0];
    const one = readSettledRounds(dir, { file: ref.file, count: 1, bytes: first.byteLength, sha256: createHash('sha256').update(Buffer.alloc(32)).update(createHash('sha256').update(first).digest()).digest('hex') });
    expect(one.records).toHaveLength(1);
    // The empty prefix: no lines, the zero chain.
    expect(readSettledRounds(dir, { file: ref.file, count: 0, bytes: 0, sha256: Buffer.alloc(32).toString('hex') }).records).toEqual([]);
  });

  it('malformed references are refused before the file is opened', async () => {
    const { dir, ref } = await written(1);
    const bad: unknown[] = [
      undefined,
      null,
      { ...ref, file: 5 },
      { ...ref, file: '../settled-rounds-00000000.jsonl' },
      { ...ref, file: 'settled-rounds-0000000g.jsonl' },
      { ...ref, file: 'settled-rounds-000000001.jsonl' },
      { ...ref, count: 1.5 },
      { ...ref, count: -1 },
      { ...ref, bytes: '10' },
      { ...ref, bytes: -1 },
      { ...ref, sha256: undefined },
    ];
    for (const r of bad) expect(codecError(() => readSettledRounds(dir, r as SettledRoundsRef)).message, JSON.stringify(r)).toMatch(/malformed reference/);
  });

  it('a missing, short, misaligned, miscounted or changed file is refused with what is wrong', async () => {
    const { dir, ref } = await written(2);
    const path = join(dir, ref.file);
    const good = readFileSync(path);
    const firstEnd = good.indexOf(0x0a) + 1;
    expect(codecError(() => readSettledRounds(dir, { ...ref, file: 'settled-rounds-ffffffff.jsonl' })).message).toMatch(/settled-rounds-ffffffff.jsonl the checkpoint refers to is missing/);
    expect(codecError(() => readSettledRounds(dir, { ...ref, bytes: ref.bytes + 1 })).message).toMatch(new RegExp(`is ${ref.bytes} bytes, the checkpoint refers to ${ref.bytes + 1} \\(truncated\\)`));
    expect(codecError(() => readSettledRounds(dir, { ...ref, bytes: ref.bytes - 1 })).message).toMatch(/prefix does not end at a line's end/);
    expect(codecError(() => readSettledRounds(dir, { ...ref, bytes: firstEnd - 1 })).message).toMatch(/prefix does not end at a line's end/);
    expect(codecError(() => readSettledRounds(dir, { ...ref, count: 3 })).message).toMatch(/holds 2 lines in the checkpoint's prefix, the checkpoint says 3/);
    expect(codecError(() => readSettledRounds(dir, { ...ref, count: 1 })).message).toMatch(/holds 2 lines/);
    expect(codecError(() => readSettledRounds(dir, { ...ref, sha256: '0'.repeat(64) })).message).toMatch(/fails its hash chain/);
    // Two lines swapped: same bytes, same count, another chain.
    writeFileSync(path, Buffer.concat([good.subarray(firstEnd), good.subarray(0, firstEnd)]));
    expect(readFileSync(path).indexOf(0x0a) + 1).toBe(firstEnd);
    expect(codecError(() => readSettledRounds(dir, ref)).message).toMatch(/fails its hash chain/);
    // Bytes after the prefix (a crashed append's lines) are not read.
    writeFileSync(path, Buffer.concat([good, Buffer.from('garbage without a newline')]));
    expect(readSettledRounds(dir, ref).records).toHaveLength(2);
    // A line that is not the codec's JSON, with a valid chain, is a codec error too.
    const junk = Buffer.from('{not json}\n');
    writeFileSync(path, junk);
    const sha256 = createHash('sha256').update(Buffer.alloc(32)).update(createHash('sha256').update(junk).digest()).digest('hex');
    expect(codecError(() => readSettledRounds(dir, { file: ref.file, count: 1, bytes: junk.byteLength, sha256 })).message).toMatch(/not valid JSON/);
  });

  it('an append continues the adopted prefix (writing over lines after it) and starts a new file when the records differ', async () => {
    const { dir, ref, records } = await written(2);
    const path = join(dir, ref.file);
    writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.from('{"left by a crash":1}\n')]));
    const log = new SettledRoundsLog(dir);
    log.adopt(readSettledRounds(dir, ref).state);
    expect(log.file).toBe(ref.file);
    const decoded = readSettledRounds(dir, ref).records;
    const next = [...decoded, makeRound(3)];
    const ref3 = await log.append(next, (r) => encodeState(r).json);
    expect(ref3.file).toBe(ref.file);
    expect(ref3.count).toBe(3);
    expect(readFileSync(path).toString('utf8')).toBe([...records, makeRound(3)].map((r) => `${encodeState(r).json}\n`).join(''));
    expect(readSettledRounds(dir, ref3).records).toHaveLength(3);
    // The same records again: nothing appended, the same reference.
    expect(await log.append(next, (r) => encodeState(r).json)).toEqual(ref3);
    // Records that differ from the file's first line: a new file, the old one untouched.
    const changed = [makeRound(1, { durationMs: 1 }), ...next.slice(1)];
    const other = await log.append(changed, (r) => encodeState(r).json);
    expect(other.file).not.toBe(ref.file);
    expect(other.count).toBe(3);
    expect(readSettledRounds(dir, ref3).records).toHaveLength(3);
    expect(readSettledRounds(dir, other).records[0].durationMs).toBe(1);
    // Fewer records than the file has: a new file as well.
    const fewer = await log.append(changed.slice(0, 1), (r) => encodeState(r).json);
    expect(fewer.file).not.toBe(other.file);
    expect(fewer.count).toBe(1);
  });
});

describe('what the encoders write', () => {
  it('the header names the settled-rounds file only when the checkpoint refers to one; createdAt defaults to now', () => {
    const ref: SettledRoundsRef = { file: 'settled-rounds-0000abcd.jsonl', count: 1, bytes: 0, sha256: '' };
    expect(encodeCheckpoint(checkpoint(2), ref).header.settledRounds).toBe('settled-rounds-0000abcd.jsonl');
    expect('settledRounds' in encodeCheckpoint(checkpoint(2)).header).toBe(false);
    const before = Date.now();
    const created = encodeCheckpoint({ ...checkpoint(2), createdAt: undefined }).header.createdAt;
    expect(Date.parse(created)).toBeGreaterThanOrEqual(before - 1);
    expect(Date.parse(created)).toBeLessThanOrEqual(Date.now());
    const { bytes, chunks } = encodeCheckpoint(checkpoint(2));
    expect(bytes).toBe(concat(chunks).byteLength);
  });

  it('decoded weights own their memory (they do not pin the file); every section starts 8-byte aligned', () => {
    const file = fileOf();
    const back = decodeCheckpoint(file);
    for (const a of back.weights.arrays) expect(a.buffer.byteLength).toBe(a.byteLength);
    const { bodyOffset } = readCheckpointHeader(file);
    const body = file.subarray(bodyOffset);
    const meta = JSON.parse(body.subarray(8, 8 + body.readUInt32LE(0)).toString('utf8')) as Meta;
    expect(meta.sections.length).toBe(4);
    for (const [offset] of meta.sections) expect(offset % 8).toBe(0);
    expect(meta.sections[0][0]).toBe(pad8(8 + body.readUInt32LE(0)));
    expect(body.byteLength).toBe(pad8(meta.sections[3][0] + meta.sections[3][1]));
  });

  it('the state codec: shared (not cyclic) objects are written twice, null-prototype objects are plain, class instances and odd values are refused by name', () => {
    const shared = { x: 1 };
    const encoded = encodeState({ a: shared, b: [shared, shared] });
    expect(decodeState(encoded.json, encoded.blobs)).toEqual({ a: { x: 1 }, b: [{ x: 1 }, { x: 1 }] });
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { k: 2 });
    expect(encodeState({ bare }).json).toBe('{"bare":{"k":2}}');
    class Moments {
      m = 1;
    }
    expect(() => encodeState({ s: new Moments() })).toThrow(/state at \$\.s: cannot serialize an instance of Moments/);
    expect(() => encodeState({ s: new Map() })).toThrow(/instance of Map/);
    expect(() => encodeState({ list: [1, new Int16Array(2)] })).toThrow(/state at \$\.list\[1\]: unsupported typed array Int16Array/);
    expect(() => encodeState({ v: new DataView(new ArrayBuffer(4)) })).toThrow(/unsupported typed array DataView/);
    expect(() => encodeState({ n: 1n })).toThrow(/state at \$\.n: cannot serialize a bigint/);
    expect(() => encodeState([Symbol('s')])).toThrow(/state at \$\[0\]: cannot serialize a symbol/);
    const cyclic: unknown[] = [];
    cyclic.push({ back: cyclic });
    expect(() => encodeState(cyclic)).toThrow(/state at \$\[0\]\.back: cycles and shared references are not supported/);
    expect(encodeState({ u: undefined, l: [undefined, 1] }).json).toBe('{"l":[null,1]}');
    expect(encodeState({ wrapped: { $ft: 'f32', blob: 0 } }).json).toBe('{"wrapped":{"$ft":"obj","v":{"$ft":"f32","blob":0}}}');
  });

  it("a settled-rounds append that fails leaves the log as it was: the next append writes every record it lacked", async () => {
    const parent = tempDir();
    const blocked = join(parent, 'checkpoints');
    writeFileSync(blocked, 'a file where the directory should be');
    const log = new SettledRoundsLog(join(blocked, 'inner'));
    const records = [makeRound(1), makeRound(2)];
    await expect(log.append(records, (r) => encodeState(r).json)).rejects.toThrow();
    expect(log.file).toBeUndefined();
    const { rmSync } = await import('node:fs');
    rmSync(blocked);
    const ref = await log.append(records, (r) => encodeState(r).json);
    expect(ref.count).toBe(2);
    expect(readSettledRounds(log.dir, ref).records).toHaveLength(2);
  });

  it('appends queue one after the other: two started together both land, the second continuing the first', async () => {
    const log = new SettledRoundsLog(tempDir());
    const one = [makeRound(1)];
    const two = [...one, makeRound(2)];
    const [a, b] = await Promise.all([log.append(one, (r) => encodeState(r).json), log.append(two, (r) => encodeState(r).json)]);
    expect(a.file).toBe(b.file);
    expect([a.count, b.count]).toEqual([1, 2]);
    expect(b.bytes).toBeGreaterThan(a.bytes);
    expect(readSettledRounds(log.dir, a).records).toHaveLength(1);
    expect(readSettledRounds(log.dir, b).records).toHaveLength(2);
    // An empty first append creates the (empty) file and refers to no lines.
    const empty = await new SettledRoundsLog(tempDir()).append([], (r) => encodeState(r).json);
    expect(empty).toMatchObject({ count: 0, bytes: 0, sha256: '0'.repeat(64) });
  });
});

describe('exact edges of the checkpoint format', () => {
  const minimal = (): Checkpoint => ({ runId: 'run-m', round: 1, weights: makeWeights(1), strategyState: { odd: new Uint8Array([1, 2, 3]), f: new Float32Array([5]) }, rng: {}, report: makeReport('run-m', 1), createdAt: 't' });

  it('a checkpoint with no accountant, averaging or stragglers round-trips without them; odd-length blobs are padded to 8', () => {
    const file = fileOf(minimal());
    const back = decodeCheckpoint(file);
    expect('accountant' in back).toBe(false);
    expect('averaging' in back).toBe(false);
    expect('stragglers' in back).toBe(false);
    expect(back.strategyState).toEqual({ odd: new Uint8Array([1, 2, 3]), f: new Float32Array([5]) });
    const { bodyOffset } = readCheckpointHeader(file);
    const body = file.subarray(bodyOffset);
    const meta = JSON.parse(body.subarray(8, 8 + body.readUInt32LE(0)).toString('utf8')) as Meta;
    expect(meta.sections.length).toBe(3);
    expect(meta.sections[1][1]).toBe(3);
    expect(meta.sections[2][0]).toBe(meta.sections[1][0] + 8);
    expect('accountant' in meta || 'accountantBlobs' in meta || 'averaging' in meta || 'stragglers' in meta || 'settledRounds' in meta).toBe(false);
  });

  it('stragglers and an accountant without blobs round-trip; the accountant then owns no section', () => {
    const ck = { ...minimal(), accountant: { epsilon: 1.5 }, stragglers: [['s1', 2, 1, 3]] as never };
    const back = decodeCheckpoint(fileOf(ck));
    expect(back.accountant).toEqual({ epsilon: 1.5 });
    expect(back.stragglers).toEqual([['s1', 2, 1, 3]]);
  });

  it("the encoder's reference to settled rounds leaves them out of the meta, and the decoder puts the reader's records first", () => {
    const ck = checkpoint(3);
    const ref: SettledRoundsRef = { file: 'settled-rounds-00000001.jsonl', count: 2, bytes: 5, sha256: 'ab' };
    const file = fileOf(ck, ref);
    const settled = [makeRound(1, { durationMs: 11 }), makeRound(2, { durationMs: 22 })];
    const back = decodeCheckpoint(file, (r) => {
      expect(r).toEqual(ref);
      return settled;
    });
    expect(back.report.rounds.map((r) => r.durationMs)).toEqual([11, 22, ck.report.rounds[2].durationMs]);
    expect(back.report.rounds[0]).toBe(settled[0]);
  });

  it('error codes: internal for an impossible reference, codec for what cannot be written or read', () => {
    const ck = checkpoint(2);
    expect(thrown(() => encodeCheckpoint(ck, { file: 'settled-rounds-00000001.jsonl', count: 3, bytes: 0, sha256: '' }))).toMatchObject({ code: 'internal' });
    expect(thrown(() => encodeCheckpoint({ ...ck, rng: { s: NaN } }))).toMatchObject({ code: 'codec' });
    expect(thrown(() => encodeCheckpoint({ ...ck, report: { ...ck.report, x: new Uint8Array(1) } as never }))).toMatchObject({ code: 'codec' });
    for (const value of [{ d: new Date() }, { i: new Int16Array(1) }, { c: new (class C {})() }, { n: 2n }]) expect(thrown(() => encodeState(value))).toMatchObject({ code: 'codec' });
    const cyclic: Record<string, unknown> = {};
    cyclic.c = cyclic;
    expect(thrown(() => encodeState(cyclic))).toMatchObject({ code: 'codec' });
    expect(thrown(() => encodeState({ o: Object.assign(Object.create({ p: 1 }) as object, { k: 1 }) }))).toMatchObject({ code: 'codec', message: expect.stringMatching(/instance of Object/) });
    const anonymous = Object.create(Object.create(null) as object) as object;
    expect(thrown(() => encodeState({ a: anonymous }))).toMatchObject({ code: 'codec', message: 'state at $.a: cannot serialize an instance of a class' });
  });

  it("what a message quotes from the file is cut; JSON errors keep their cause", () => {
    const file = fileOf();
    expect(codecError(() => decodeCheckpoint(file.subarray(0, 16))).message).toMatch(/header runs past the end/);
    expect(codecError(() => decodeCheckpoint(withHeader(file, (h) => ({ ...h, format: 'f'.repeat(100) })))).message).toBe(`checkpoint header says format ${'f'.repeat(32)}, its prefix 2`);
    expect(codecError(() => decodeCheckpoint(withHeader(file, (h) => ({ ...h, runId: 'h'.repeat(100) })))).message).toMatch(new RegExp(`^checkpoint header \\(run h{64}, round 3\\) disagrees with its meta \\(run run-c, round 3\\)$`));
    expect(codecError(() => decodeCheckpoint(resealed(file, (m) => void (m.runId = 'm'.repeat(100))))).message).toMatch(/\(run m{64}, round 3\)$/);
    const flipped = Buffer.from(file);
    flipped[flipped.byteLength - 1] ^= 1;
    expect(codecError(() => decodeCheckpoint(flipped)).message).toMatch(/^checkpoint checksum mismatch \(sha256 [0-9a-f]{12}…, header says [0-9a-f]{12}…\)$/);
    const longRef = resealed(file, (m) => void (m.settledRounds = { count: '9'.repeat(100), file: 'x'.repeat(100) }));
    expect(codecError(() => decodeCheckpoint(longRef)).message).toBe(`checkpoint of round 3 keeps its first ${'9'.repeat(32)} rounds in ${'x'.repeat(64)}: read it with its checkpoint store`);
    const badHeader = Buffer.from(file);
    badHeader[16] = 0x7b;
    badHeader[17] = 0x7b;
    expect(codecError(() => decodeCheckpoint(badHeader)).cause).toBeInstanceOf(SyntaxError);
    expect(codecError(() => decodeCheckpoint(resealed(file, () => undefined, Buffer.from('{')))).cause).toBeInstanceOf(SyntaxError);
  });

  it('a meta or header that is not an object, or a non-object rng, is refused as such; UTF-8 must be valid', () => {
    const file = fileOf();
    for (const raw of ['5', '"meta"', 'true']) expect(codecError(() => decodeCheckpoint(resealed(file, () => undefined, Buffer.from(raw)))).message).toBe('checkpoint meta: not an object');
    expect(codecError(() => decodeCheckpoint(resealed(file, (m) => void (m.rng = 5)))).message).toBe('checkpoint meta: rng is not an object');
    expect(codecError(() => decodeCheckpoint(resealed(file, (m) => void (m.rng = 'abc')))).message).toBe('checkpoint meta: rng is not an object');
    // The run id's bytes with an invalid UTF-8 byte: refused as not JSON, never read as a replacement character.
    const meta = resealed(file, (m) => void (m.runId = 'run-c'));
    const { bodyOffset } = readCheckpointHeader(meta);
    const body = Buffer.from(meta.subarray(bodyOffset));
    const at = body.indexOf('"run-c"');
    body[at + 5] = 0xff;
    const sha256 = createHash('sha256').update(body).digest('hex');
    const broken = withHeader(Buffer.concat([meta.subarray(0, bodyOffset), body]), (h) => ({ ...h, sha256 }));
    expect(codecError(() => decodeCheckpoint(broken)).message).toBe('checkpoint meta is not valid JSON');
    const header = Buffer.from(file);
    const hAt = header.indexOf('"run-c"');
    header[hAt + 5] = 0xff;
    expect(codecError(() => decodeCheckpoint(header)).message).toBe('checkpoint header is not valid JSON');
  });
});

describe("the settled-rounds log's own edges", () => {
  /** An encoder that counts its calls and, like the store's, reads the record (so it throws on a missing one). */
  function countingEncoder() {
    const calls: number[] = [];
    return { calls, encode: (r: RoundRecord) => (calls.push(r.round), encodeState(r).json) };
  }

  it('records already written are matched by identity: a later append encodes only the records after them', async () => {
    const log = new SettledRoundsLog(tempDir());
    const { calls, encode } = countingEncoder();
    const records = [makeRound(1), makeRound(2)];
    await log.append(records, encode);
    expect(calls).toEqual([1, 2]);
    calls.length = 0;
    const ref = await log.append([...records, makeRound(3)], encode);
    expect(calls).toEqual([3]);
    calls.length = 0;
    // Equal records that are other objects (a resumed run's, decoded) are matched by their line once, then by identity.
    const decoded = readSettledRounds(log.dir, ref).records;
    await log.append(decoded, encode);
    expect(calls).toEqual([1, 2, 3]);
    calls.length = 0;
    await log.append([...decoded, makeRound(4)], encode);
    expect(calls).toEqual([4]);
    // Fewer records than the file holds never reach the encoder with a missing record.
    calls.length = 0;
    const fewer = await log.append(decoded.slice(0, 1), encode);
    expect(fewer.count).toBe(1);
    expect(calls).toEqual([1]);
  });

  it('appends one record at a time stay matched by identity: each encodes only its new record', async () => {
    const log = new SettledRoundsLog(tempDir());
    const { calls, encode } = countingEncoder();
    const records: RoundRecord[] = [];
    for (let i = 1; i <= 4; i++) {
      records.push(makeRound(i));
      calls.length = 0;
      await log.append([...records], encode);
      expect(calls).toEqual([i]);
    }
  });

  it('no file descriptor is left open by appends', async () => {
    const { readdirSync: list } = await import('node:fs');
    const open = () => list('/proc/self/fd').length;
    const log = new SettledRoundsLog(tempDir());
    const records: RoundRecord[] = [];
    const before = open();
    for (let i = 1; i <= 20; i++) {
      records.push(makeRound(i));
      await log.append(records, (r) => encodeState(r).json);
    }
    expect(open()).toBe(before);
  });

  it("a prefix with no newline at all, and one that is a single empty line, are told apart", async () => {
    const dir = tempDir();
    const file = 'settled-rounds-0000beef.jsonl';
    writeFileSync(join(dir, file), 'abc');
    expect(codecError(() => readSettledRounds(dir, { file, count: 1, bytes: 2, sha256: '' })).message).toMatch(/prefix does not end at a line's end/);
    const empty = Buffer.from('\n');
    writeFileSync(join(dir, file), empty);
    const sha256 = createHash('sha256').update(Buffer.alloc(32)).update(createHash('sha256').update(empty).digest()).digest('hex');
    expect(codecError(() => readSettledRounds(dir, { file, count: 1, bytes: 1, sha256 })).message).toMatch(/not valid JSON/);
  });

  it('only settled-rounds-<8 hex>.jsonl names a settled-rounds file', async () => {
    const { isSettledRoundsFile } = await import('@fedtune/coordinator');
    expect(isSettledRoundsFile('settled-rounds-0123abcd.jsonl')).toBe(true);
    for (const name of ['settled-rounds-0123abcd.jsonl.bak', 'x-settled-rounds-0123abcd.jsonl', 'settled-rounds-0123ABCD.jsonl', 'settled-rounds-0123abc.jsonl', 'settled-rounds-0123abcd0.jsonl', 'settled-rounds-0123abcdXjsonl']) expect(isSettledRoundsFile(name), name).toBe(false);
  });
});
