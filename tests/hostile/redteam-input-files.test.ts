import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkWeightsBinLength, CoordinatorIdentity, ensureDirectory, loadModelDir, loadRunConfigFile, manifestByteLength, openSqlite, RunDatabase } from '@fedtune/coordinator';
import { encodeLabels, IMAGE_HEADER_BYTES, imageHeaderSize, imageTooLarge, MAX_CLASSES, MAX_IMAGE_PIXELS, parseCsvDataset, sortClassNames } from '@fedtune/shared';
import { checkInputFile, PEM_MAX_BYTES, readCsvDataset, readInputFile, readInputText, selectNodeBackend } from '@fedtune/shared/node';
import { decodeImage, readSiteData } from '@fedtune/client-node';
import { loadSitePolicyFile } from '../../cli/src/commands/site-policy-file.ts';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { tempDir } from '../helpers/federation.ts';
import { thrown, thrownAsync } from '../helpers/thrown.ts';

/**
 * The files a user names — a site's CSV, a model directory, a run configuration, a site policy — may be broken,
 * hostile or not files at all. Each is refused with one FedtuneError line naming it, before any work; none may
 * block the process (a named pipe), exhaust its memory (a label of 1,000,000,000 sized every per-class table)
 * or reach the terminal as a stack trace or raw bytes.
 */

const MLP = join(import.meta.dirname, '..', '..', 'coordinator', 'assets', 'pretrained', 'digits-mlp');

function fifo(path: string): string {
  execFileSync('mkfifo', [path]);
  return path;
}

describe('a file the user names: regular, bounded, not a pipe', () => {
  const dir = tempDir('fedtune-input-file-');
  const rules = { what: 'thing', code: 'data' as const, maxBytes: 10 };

  it.each([
    ['a named pipe nothing writes to', () => fifo(join(dir, 'pipe')), 'data', /pipe\b.* is not a regular file \(a pipe, socket or device\): a thing must be a file$/],
    ['a device that never ends', () => '/dev/zero', 'data', /^\/dev\/zero is not a regular file/],
    ['a symbolic link to a device', () => (symlinkSync('/dev/zero', join(dir, 'zero-link')), join(dir, 'zero-link')), 'data', /zero-link is not a regular file/],
    ['a directory', () => (mkdirSync(join(dir, 'sub')), join(dir, 'sub')), 'data', /sub is a directory, not a thing file$/],
    ['a file over the bound', () => (writeFileSync(join(dir, 'big'), 'x'.repeat(11)), join(dir, 'big')), 'data', /big is 0\.0 MB, more than a thing may be \(0\.0 MB\)$/],
    ['no file', () => join(dir, 'missing'), 'not_found', /^no thing at .*missing$/],
  ])('%s is refused without being read', (_name, make, code, message) => {
    const err = thrown(() => readInputText(make(), { ...rules, missingCode: 'not_found' }));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it('a file at the bound is read; a missing one takes the refusal code unless told otherwise; a byte-order mark is dropped', () => {
    writeFileSync(join(dir, 'exact'), '\ufeff{"a":12}');
    expect(readFileSync(join(dir, 'exact')).length).toBe(11);
    expect(() => readInputText(join(dir, 'exact'), rules)).toThrow(/more than a thing may be/);
    expect(readInputText(join(dir, 'exact'), { ...rules, maxBytes: 11 })).toBe('{"a":12}');
    expect(checkInputFile(join(dir, 'exact'), { what: 'thing', code: 'config' })).toBe(11);
    expect(thrown(() => checkInputFile(dir, { what: 'audit log', code: 'config' })).message).toBe(`${dir} is a directory, not an audit log file`);
    expect(PEM_MAX_BYTES).toBe(1_048_576);
    expect(thrown(() => checkInputFile(join(dir, 'nope'), { what: 'thing', code: 'config' })).code).toBe('config');
    writeFileSync(join(dir, 'no-bom'), 'plain');
    expect(readInputText(join(dir, 'no-bom'), rules)).toBe('plain');
  });

  it('a path through a file is missing; a symbolic-link loop is refused with its reason, the cause kept', () => {
    writeFileSync(join(dir, 'plain-file'), 'x');
    const through = thrown(() => checkInputFile(join(dir, 'plain-file', 'x'), { what: 'thing', code: 'data', missingCode: 'not_found' }));
    expect([through.code, through.message]).toEqual(['not_found', `no thing at ${join(dir, 'plain-file', 'x')}`]);
    expect((through.cause as NodeJS.ErrnoException).code).toBe('ENOTDIR');
    symlinkSync('loop', join(dir, 'loop'));
    const loop = thrown(() => checkInputFile(join(dir, 'loop'), { what: 'thing', code: 'data', missingCode: 'not_found' }));
    expect(loop.code).toBe('data');
    expect(loop.message).toMatch(new RegExp(`^cannot read thing ${join(dir, 'loop')}: ELOOP`));
    expect((loop.cause as NodeJS.ErrnoException).code).toBe('ELOOP');
    expect((thrown(() => checkInputFile(join(dir, 'none'), rules)).cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('sizes are named in MB (one decimal under 10 MB); a file Node cannot read whole (over 2 GiB) is one line with its reason', () => {
    const sized = (name: string, bytes: number) => {
      writeFileSync(join(dir, name), '');
      truncateSync(join(dir, name), bytes); // sparse: no disk used
      return join(dir, name);
    };
    expect(thrown(() => checkInputFile(sized('ten', 10_000_000), { what: 'thing', code: 'config', maxBytes: 1 })).message).toMatch(/ is 10 MB, more than a thing may be \(0\.0 MB\)$/);
    expect(thrown(() => checkInputFile(sized('under-ten', 9_999_999), { what: 'thing', code: 'config', maxBytes: 12_345_678 - 12_345_677 })).message).toMatch(/ is 10\.0 MB, /);
    const huge = thrown(() => readInputFile(sized('huge', 3 * 1024 ** 3), { what: 'thing', code: 'data' }));
    expect(huge.code).toBe('data');
    expect(huge.message).toMatch(new RegExp(`^cannot read thing ${join(dir, 'huge')}: File size \\(3221225472\\) is greater than 2 GiB$`));
    expect(huge.cause).toBeInstanceOf(Error);
  });
});

describe('a model directory: every broken one is one config line, never loaded half', () => {
  beforeAll(async () => {
    await selectNodeBackend();
  });
  const base = JSON.parse(readFileSync(join(MLP, 'model.json'), 'utf8'));
  const weights = readFileSync(join(MLP, 'weights.bin'));
  const dirs = tempDir('fedtune-bad-models-');
  function modelDir(name: string, json: unknown, bin: Uint8Array | null | 'fifo' = weights): string {
    const dir = join(dirs, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'model.json'), typeof json === 'string' ? json : JSON.stringify(json));
    if (bin === 'fifo') fifo(join(dir, 'weights.bin'));
    else if (bin) writeFileSync(join(dir, 'weights.bin'), bin);
    return dir;
  }
  const edited = (edit: (j: typeof base) => void) => {
    const j = structuredClone(base);
    edit(j);
    return j;
  };
  const filled = (value: number) => new Uint8Array(new Float32Array(weights.length / 4).fill(value).buffer);
  const withOne = (value: number) => {
    const copy = new Float32Array(new Uint8Array(weights).buffer.slice(0));
    copy[100_351] = value; // the last value of hidden/kernel
    return new Uint8Array(copy.buffer);
  };

  it.each([
    ['model.json that is null', () => modelDir('null', 'null'), 'config', /model\.json has no modelTopology: is it a TensorFlow\.js layers model\?$/],
    ['model.json that is a list', () => modelDir('list', '[1,2]'), 'config', /has no modelTopology/],
    ['model.json that is not JSON', () => modelDir('not-json', '{"modelTopology":'), 'config', /model\.json is not valid JSON: /],
    ['model.json of binary bytes', () => modelDir('binary', '\u001b[2J\u0000\u0007garbage'), 'config', /model\.json is not valid JSON: /],
    ['a layer class TensorFlow.js lacks', () => modelDir('layer', edited((j) => (j.modelTopology.config.layers[0].class_name = 'Evil'))), 'config', /it uses the layer "Evil", which TensorFlow\.js does not have built in/],
    ['an activation TensorFlow.js lacks', () => modelDir('activation', edited((j) => (j.modelTopology.config.layers[0].config.activation = 'evil'))), 'config', /it uses the activation "evil"/],
    ['NaN weights', () => modelDir('nan', base, filled(Number.NaN)), 'config', /weight hidden\/kernel has 100352 of 100352 values that are not finite/],
    ['one infinite weight', () => modelDir('inf', base, withOne(Number.POSITIVE_INFINITY)), 'config', /weight hidden\/kernel has 1 of 100352 values that are not finite/],
    ['one -∞ weight', () => modelDir('neg-inf', base, withOne(Number.NEGATIVE_INFINITY)), 'config', /has 1 of 100352 values that are not finite/],
    ['weights.bin cut short', () => modelDir('short', base, weights.subarray(0, 1000)), 'config', /weights\.bin has 1000 bytes but .*model\.json's weightsManifest describes 407080: it is cut short/],
    ['weights.bin with bytes to spare', () => modelDir('long', base, Buffer.concat([weights, Buffer.alloc(4)])), 'config', /weights\.bin has 407084 bytes but .* describes 407080: it holds more than this model's weights/],
    ['a manifest of 10^10 weights', () => modelDir('huge', edited((j) => (j.weightsManifest[0].weights[0].shape = [100000, 100000]))), 'config', /describes 40000005672: it is cut short/],
    ['weights.bin a named pipe', () => modelDir('pipe', base, 'fifo'), 'config', /weights\.bin is not a regular file/],
    ['no weights.bin', () => modelDir('no-weights', base, null), 'not_found', /^no TensorFlow\.js model in .*: no weights\.bin at /],
    ['a null modelTopology', () => modelDir('null-topology', { ...base, modelTopology: null }), 'config', /has no modelTopology/],
    ['an input the weights do not fit (the loader\'s own first line)', () => modelDir('input', edited((j) => (j.modelTopology.config.layers[0].config.batch_input_shape = [null, 100]))), 'config', /^cannot load the model in .*: Shape mismatch: \[100,128\] vs\. \[784,128\]$/],
    ['model.json a named pipe', () => { const d = join(dirs, 'json-pipe'); mkdirSync(d); fifo(join(d, 'model.json')); return d; }, 'config', /model\.json is not a regular file \(a pipe, socket or device\): a model\.json must be a file$/],
    ['model.json of 65 MiB', () => { const d = modelDir('json-big', base); truncateSync(join(d, 'model.json'), 65 * 1024 * 1024); return d; }, 'config', /model\.json is 68 MB, more than a model\.json may be \(67 MB\)$/],
    ['no model.json', () => { const d = join(dirs, 'empty'); mkdirSync(d); return d; }, 'not_found', /^no TensorFlow\.js model in .*: no model\.json at /],
  ])('%s', async (_name, make, code, message) => {
    const err = await thrownAsync(() => loadModelDir(make()));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
    // The cause is kept for FEDTUNE_DEBUG=1 wherever something else failed first.
    if (!/has no modelTopology|not finite|weightsManifest describes|not a regular file|more than a/.test(err.message)) expect(err.cause).toBeDefined();
  });

  it('a final softmax is dropped and the operator is told; without a listener it is dropped silently', async () => {
    const softmax = modelDir('softmax', edited((j) => (j.modelTopology.config.layers[1].config.activation = 'softmax')));
    const notices: string[] = [];
    const model = await loadModelDir(softmax, { onNotice: (m) => notices.push(m) });
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/softmax/);
    model.dispose();
    (await loadModelDir(softmax)).dispose();
    (await loadModelDir(MLP, { onNotice: () => expect.unreachable('no softmax to drop') })).dispose();
  });

  it('the committed model loads, and one finite weight changed is still a model', async () => {
    (await loadModelDir(MLP)).dispose();
    const copy = new Float32Array(new Uint8Array(weights).buffer.slice(0));
    copy[100_351] = 3e38; // large but finite (float32 ends at 3.4e38)
    (await loadModelDir(modelDir('finite', base, new Uint8Array(copy.buffer)))).dispose();
  });
});

describe('the byte length a weights manifest describes', () => {
  const spec = (shape: unknown, dtype: unknown, quantization?: unknown) => [{ paths: ['weights.bin'], weights: [{ name: 'w', shape, dtype, ...(quantization ? { quantization } : {}) }] }];
  it.each([
    ['float32 3×4', spec([3, 4], 'float32'), 48],
    ['int32 5', spec([5], 'int32'), 20],
    ['bool 7', spec([7], 'bool'), 7],
    ['complex64 2', spec([2], 'complex64'), 16],
    ['a scalar', spec([], 'float32'), 4],
    ['an empty dimension', spec([0, 9], 'float32'), 0],
    ['uint8-quantized float32 10', spec([10], 'float32', { dtype: 'uint8' }), 10],
    ['uint16-quantized 10', spec([10], 'float32', { dtype: 'uint16' }), 20],
    ['float16-quantized 10', spec([10], 'float32', { dtype: 'float16' }), 20],
    ['two groups', [...spec([2], 'float32'), ...spec([3], 'int32')], 20],
    ['no groups', [], 0],
    ['string weights (no fixed size)', spec([2], 'string'), undefined],
    ['an unknown quantization', spec([2], 'float32', { dtype: 'int4' }), undefined],
    ['an unknown dtype', spec([2], 'float64'), undefined],
    ['a prototype key as dtype', spec([2], 'constructor'), undefined],
    ['a negative dimension', spec([-2, 3], 'float32'), undefined],
    ['a fractional dimension', spec([1.5], 'float32'), undefined],
    ['a shape that is not a list', spec('3', 'float32'), undefined],
    ['a group without weights', [{ paths: [] }], undefined],
    ['a null group', [null], undefined],
    ['a null weight', [{ weights: [null] }], undefined],
    ['not a list', { weights: [] }, undefined],
    ['a size past 2^53', spec([2 ** 30, 2 ** 30, 2 ** 30], 'float32'), undefined],
    ['a null quantization', [{ weights: [{ name: 'w', shape: [2], dtype: 'float32', quantization: null }] }], undefined],
    ['a dtype given as a list', spec([2], ['float32']), undefined],
    ['a quantization dtype given as a list', spec([2], 'float32', { dtype: ['uint8'] }), undefined],
  ])('%s', (_name, manifest, bytes) => {
    expect(manifestByteLength(manifest)).toBe(bytes);
  });

  it('a length equal to the manifest, or a manifest it cannot size, passes; any other length is named', () => {
    expect(() => checkWeightsBinLength(spec([3], 'float32'), 12, 'm.json')).not.toThrow();
    expect(() => checkWeightsBinLength(spec([2], 'string'), 999, 'm.json')).not.toThrow();
    expect(thrown(() => checkWeightsBinLength(spec([3], 'float32'), 11, 'm.json')).message).toBe("weights.bin has 11 bytes but m.json's weightsManifest describes 12: it is cut short (are they the same model's files?)");
    expect(thrown(() => checkWeightsBinLength(spec([3], 'float32'), 13, 'm.json')).message).toBe("weights.bin has 13 bytes but m.json's weightsManifest describes 12: it holds more than this model's weights (are they the same model's files?)");
  });
});

describe('labels: at most MAX_CLASSES classes, so no per-class table can exhaust memory', () => {
  const dir = tempDir('fedtune-labels-');
  const csv = (name: string, labels: Array<number | string>) => {
    const path = join(dir, name);
    writeFileSync(path, `label,a,b\n${labels.map((l, i) => `${l},${i},1`).join('\n')}\n`);
    return path;
  };
  const top = MAX_CLASSES - 1;

  it('the largest label allowed is read by every reader; one more is refused naming its row', () => {
    expect(MAX_CLASSES).toBe(65_536);
    const ok = csv('top.csv', [0, top]);
    expect(readCsvDataset(ok).numClasses).toBe(MAX_CLASSES);
    expect(parseCsvDataset(readFileSync(ok, 'utf8'), { source: ok }).numClasses).toBe(MAX_CLASSES);
    expect(encodeLabels(['0', String(top)], 'cells', 2).numClasses).toBe(MAX_CLASSES);
    const over = csv('over.csv', [0, 3, MAX_CLASSES]);
    const message = `${over}: row 4: label 65536 is too large: at most 65536 classes are supported (labels 0..65535)`;
    expect(thrown(() => readCsvDataset(over)).message).toBe(message);
    expect(thrown(() => parseCsvDataset(readFileSync(over, 'utf8'), { source: over })).message).toBe(message);
    expect(thrown(() => encodeLabels(['0', '3', String(MAX_CLASSES)], over, 2)).message).toBe(message);
  });

  it.each([
    ['1,000,000,000 (the streamed reader)', 1_000_000_000],
    ['2^31 (past an Int32Array)', 2 ** 31],
    ['10^15', 1e15],
  ])('a site CSV labelled %s is one data error, not an exhausted heap', (_name, label) => {
    const path = csv(`huge-${label}.csv`, [1, label, 2]);
    const err = thrown(() => readSiteData(path));
    expect(err.code).toBe('data');
    expect(err.message).toMatch(/row 3: label \d+ is too large: at most 65536 classes/);
  });

  it('label cells: integers are the classes themselves, anything else a sorted name; empty cells and big labels are named by row', () => {
    expect(encodeLabels(['0', '0'], 's', 2)).toEqual({ labels: Int32Array.from([0, 0]), numClasses: 1 });
    expect(encodeLabels([' 2', '10 '], 's', 2)).toEqual({ labels: Int32Array.from([2, 10]), numClasses: 11 });
    expect(encodeLabels(['1', 'cat'], 's', 2)).toEqual({ labels: Int32Array.from([0, 1]), numClasses: 2, classNames: ['1', 'cat'] });
    expect(encodeLabels(['12abc', '3'], 's', 2).classNames).toEqual(['3', '12abc']);
    expect(thrown(() => encodeLabels(['', '1'], 's', 2))).toMatchObject({ code: 'data', message: 's: row 2 has no label' });
    expect(thrown(() => encodeLabels([String(MAX_CLASSES), '1'], 's', 2)).message).toBe('s: row 2: label 65536 is too large: at most 65536 classes are supported (labels 0..65535)');
    expect(sortClassNames(['b', '10', 'a', '2', 'b'])).toEqual(['2', '10', 'a', 'b']);
  });

  it('more distinct label names than MAX_CLASSES are refused; as many are accepted', () => {
    const names = Array.from({ length: MAX_CLASSES + 1 }, (_, i) => `c${i}`);
    expect(thrown(() => encodeLabels(names, 'names.csv', 2))).toMatchObject({ code: 'data', message: 'names.csv: 65537 distinct labels: at most 65536 classes are supported' });
    expect(encodeLabels(names.slice(1), 'names.csv', 2).numClasses).toBe(MAX_CLASSES);
  });

  it('a cell quoted in an error is bounded (a 1 MB label or value is not echoed whole)', () => {
    const path = join(dir, 'long-cell.csv');
    writeFileSync(path, `label,a\nx${'9'.repeat(1_000_000)},1\n`);
    const err = thrown(() => parseCsvDataset(readFileSync(path, 'utf8'), { source: path }));
    expect(err.message.length).toBeLessThan(500);
    expect(err.message).toMatch(/more characters\)" is not a non-negative integer$/);
    writeFileSync(path, `label,a\n1,x${'9'.repeat(1_000_000)}\n`);
    expect(thrown(() => readCsvDataset(path)).message.length).toBeLessThan(500);
  });
});

describe('images: the size in the header is checked before anything is decoded', () => {
  /** A grayscale PNG whose header says width × height, with `rows` rows of zeros actually in it. */
  function png(width: number, height: number, rows: number): Buffer {
    const chunk = (type: string, data: Buffer) => {
      const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
      const out = Buffer.alloc(8 + data.length + 4);
      out.writeUInt32BE(data.length, 0);
      body.copy(out, 4);
      out.writeUInt32BE(crc32(body), 8 + data.length);
      return out;
    };
    const header = Buffer.alloc(13);
    header.writeUInt32BE(width, 0);
    header.writeUInt32BE(height, 4);
    header[8] = 8; // bit depth; colour type 0 (gray), no interlace
    const pixels = deflateSync(Buffer.alloc(rows * (width + 1)));
    return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', pixels), chunk('IEND', Buffer.alloc(0))]);
  }

  it('a PNG whose header claims 30000×30000 (3.6 GB decoded; a 900 kB file can) is refused by its header', () => {
    expect(() => decodeImage(png(30_000, 30_000, 2))).toThrow('30000×30000 pixels is more than 50000000');
    expect(() => decodeImage(png(50_000_001, 1, 0))).toThrow('50000001×1 pixels is more than 50000000');
    // 4·10^18 pixels: a decoder asked for that buffer fails with its own error; the header check names the size.
    expect(() => decodeImage(png(2_000_000_000, 2_000_000_000, 0))).toThrow('2000000000×2000000000 pixels is more than 50000000');
  }, 20_000);

  /** JPEG bytes: SOI, then the given segments (marker, payload), then a frame header of width × height. */
  function jpegHeader(width: number, height: number, segments: Array<[number, number[]]> = [], frame = 0xc0): Uint8Array {
    const out = [0xff, 0xd8];
    for (const [marker, payload] of segments) out.push(0xff, marker, ...(marker >= 0xd0 && marker <= 0xd7 ? [] : [(payload.length + 2) >> 8, (payload.length + 2) & 255, ...payload]));
    out.push(0xff, frame, 0, 17, 8, height >> 8, height & 255, width >> 8, width & 255, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1);
    return Uint8Array.from(out);
  }

  it.each([
    ['a PNG', () => png(640, 480, 0), { width: 640, height: 480 }],
    ['a real JPEG (jpeg-js)', () => jpeg.encode({ width: 3, height: 2, data: Buffer.alloc(24, 200) }, 90).data, { width: 3, height: 2 }],
    ['a JPEG after 64 kB of metadata and a table', () => jpegHeader(65_535, 65_535, [[0xe1, Array(65_000).fill(7)], [0xc4, [0, 1, 2]], [0xdb, [0]]]), { width: 65_535, height: 65_535 }],
    ['a progressive JPEG (SOF2)', () => jpegHeader(100, 50, [], 0xc2), { width: 100, height: 50 }],
    ['a JPEG with fill bytes and a restart marker before its frame', () => { const b = jpegHeader(9, 8); return Uint8Array.from([0xff, 0xd8, 0xff, 0xff, 0xd0, ...b.slice(2)]); }, { width: 9, height: 8 }],
    ['a JPEG whose scan comes before any frame header', () => Uint8Array.from([0xff, 0xd8, 0xff, 0xda, 0, 2, 0xff, 0xc0, 0, 17, 8, 0, 9, 0, 9]), undefined],
    ['a JPEG that ends before its frame header', () => jpegHeader(9, 8).slice(0, 8), undefined],
    ['bytes that leave the JPEG markers', () => Uint8Array.from([0xff, 0xd8, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0]), undefined],
    ['a PNG cut before its size', () => png(5, 5, 0).subarray(0, 20), undefined],
    ['neither', () => Uint8Array.from(Buffer.from('GIF89a............................')), undefined],
    ['a PNG of exactly its header', () => png(7, 6, 0).subarray(0, 24), { width: 7, height: 6 }],
    ['a PNG signature wrong in its first word', () => { const b = Uint8Array.from(png(7, 6, 0)); b[0] = 0x88; return b; }, undefined],
    ['a PNG signature wrong in its second word', () => { const b = Uint8Array.from(png(7, 6, 0)); b[5] = 0; return b; }, undefined],
    ['a PNG whose first chunk is not IHDR', () => { const b = Uint8Array.from(png(7, 6, 0)); b[15] = 0x58; return b; }, undefined],
    ['JPEG segments after a first byte that is not 0xff', () => { const b = jpegHeader(9, 8); b[0] = 0; return b; }, undefined],
    ['JPEG segments after a second byte that is not SOI', () => { const b = jpegHeader(9, 8); b[1] = 0; return b; }, undefined],
    ['a JPEG cut right after its frame size', () => jpegHeader(9, 8).slice(0, 11), { width: 9, height: 8 }],
    ['a frame header where a marker should be', () => Uint8Array.from([0xff, 0xd8, 0x00, 0xc0, 0, 17, 8, 0, 9, 0, 9, 1, 1, 1]), undefined],
    ['a JPEG with TEM, RST7 and a second SOI (no lengths) before its frame', () => { const b = jpegHeader(9, 8); return Uint8Array.from([0xff, 0xd8, 0xff, 0x01, 0xff, 0xd7, 0xff, 0xd8, ...b.slice(2)]); }, { width: 9, height: 8 }],
    ['a JPEG with a reserved segment (0xbf), JPG (0xc8) and DAC (0xcc) before its frame', () => jpegHeader(9, 8, [[0xbf, [1, 2]], [0xc8, [3]], [0xcc, [4, 5]]]), { width: 9, height: 8 }],
    ['a JPEG frame of SOF15', () => jpegHeader(12, 11, [], 0xcf), { width: 12, height: 11 }],
    ['a JPEG that ends (EOI) before any frame', () => Uint8Array.from([0xff, 0xd8, 0xff, 0xd9, 0, 2, 0xff, 0xc0, 0, 17, 8, 0, 9, 0, 9]), undefined],
    ['too short to be anything', () => Uint8Array.from([0xff, 0xd8, 0xff]), undefined],
  ])('the declared size of %s', (_name, bytes, size) => {
    expect(imageHeaderSize(bytes())).toEqual(size);
  });

  it('the pixel bound: exactly MAX_IMAGE_PIXELS passes, one more is refused; a JPEG claiming 65535×65535 is refused before decoding', () => {
    expect(MAX_IMAGE_PIXELS).toBe(50_000_000);
    expect(IMAGE_HEADER_BYTES).toBe(262_144);
    expect(imageTooLarge({ width: 50_000, height: 1000 })).toBeUndefined();
    expect(imageTooLarge({ width: 50_000_001, height: 1 })).toBe('50000001×1 pixels is more than 50000000');
    expect(imageTooLarge(undefined)).toBeUndefined();
    expect(() => decodeImage(Buffer.from(jpegHeader(65_535, 65_535)))).toThrow('65535×65535 pixels is more than 50000000');
  });

  it('a PNG of exactly the pixel bound passes the header check; a small one decodes', () => {
    expect(() => decodeImage(png(50_000, 1000, 0))).not.toThrow(/pixels is more than/);
    const small = decodeImage(png(3, 2, 2));
    expect([small.width, small.height, small.data.length]).toEqual([3, 2, 24]);
  });
});

describe('configuration and policy files', () => {
  const dir = tempDir('fedtune-config-files-');
  const file = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefg'[i]}`).join(',')}]`), 'i: [*h,*h,*h,*h,*h,*h,*h,*h,*h]'].join('\n');

  it('a run configuration saved with a byte-order mark is read', () => {
    expect(loadRunConfigFile(file('bom.json', '\ufeff{"rounds": 3}')).values).toEqual({ rounds: 3 });
    expect(loadRunConfigFile(file('bom.yaml', '\ufeffrounds: 4\n')).values).toEqual({ rounds: 4 });
  });

  it.each([
    ['a YAML alias bomb', () => file('bomb.yaml', bomb), /bomb\.yaml: not valid YAML: Excessive alias count/],
    ['a YAML syntax error (one line, no drawing of it)', () => file('bad.yaml', 'rounds: [1, 2\n  x: :\n'), /bad\.yaml: not valid YAML: .*at line 1, column 13:$/],
    ['a named pipe', () => fifo(join(dir, 'pipe.json')), /pipe\.json is not a regular file/],
    ['a file of 5 MB', () => file('big.json', `{"rounds":2,"x":"${'a'.repeat(5_000_000)}"}`), /big\.json is 5\.0 MB, more than a run configuration may be \(4\.2 MB\)/],
  ])('run configuration: %s is one config line', (_name, make, message) => {
    const err = thrown(() => loadRunConfigFile(make()));
    expect(err.code).toBe('config');
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
  });

  it.each([
    ['a named pipe', () => fifo(join(dir, 'policy-pipe.yaml')), /policy-pipe\.yaml is not a regular file/],
    ['a file of 2 MB', () => file('policy-big.yaml', `# ${'a'.repeat(2_000_000)}\n`), /policy-big\.yaml is 2\.0 MB, more than a site policy may be \(1\.0 MB\)/],
    ['no file', () => join(dir, 'nope.yaml'), /cannot read the site policy .*nope\.yaml: ENOENT/],
  ])('site policy: %s is one config line', (_name, make, message) => {
    const err = thrown(() => loadSitePolicyFile(make()));
    expect(err.code).toBe('config');
    expect(err.message).toMatch(message);
  });
});

describe('where the coordinator writes: --out, --sites-db', () => {
  const dir = tempDir('fedtune-out-');
  const aFile = join(dir, 'a-file');
  writeFileSync(aFile, 'root:x:0:0:root:/root:/bin/bash\n');

  it('a file where a directory must be is one config line; a directory it may create is created', () => {
    for (const path of [aFile, join(aFile, 'below')]) {
      const err = thrown(() => ensureDirectory(path, 'runs directory'));
      expect(err.code).toBe('config');
      expect(err.message).toBe(`the runs directory ${path} is a file (or inside one), not a directory`);
    }
    ensureDirectory(join(dir, 'new', 'deeper'), 'runs directory');
    ensureDirectory(join(dir, 'new', 'deeper'), 'runs directory'); // exists: fine
    expect(thrown(() => CoordinatorIdentity.loadOrCreate(join(aFile, 'runs'))).code).toBe('config');
  });

  it('a file that is not a SQLite database, or a directory, is one persistence line; the file is left as it was', () => {
    for (const open of [() => openSqlite(aFile), () => new RunDatabase(aFile)]) {
      const err = thrown(open);
      expect(err.code).toBe('persistence');
      expect(err.message).toBe(`cannot open the database ${aFile}: file is not a database`);
    }
    expect(readFileSync(aFile, 'utf8')).toBe('root:x:0:0:root:/root:/bin/bash\n');
    expect(thrown(() => openSqlite(dir)).message).toMatch(/^cannot open the database .*: /);
    const db = openSqlite(join(dir, 'fresh.db'));
    db.close();
  });
});

describe('the CLI, end to end (the built bins)', () => {
  it('a site CSV with a label of 1,000,000,000 exits with one line, not an out-of-memory crash; a NaN model is refused by evaluate', async () => {
    const dir = tempDir('fedtune-cli-inputs-');
    writeFileSync(join(dir, 'huge-label.csv'), `label,a,b\n1,0,1\n1000000000,1,0\n`);
    const site = await fedtune(['client', '--server', 'http://127.0.0.1:9', '--site', 's1', '--data', join(dir, 'huge-label.csv')]).done;
    expect(site.code).toBe(1);
    expect(site.signal).toBeNull();
    expect(site.stderr.trim().split('\n')).toEqual([`fedtune: data: ${join(dir, 'huge-label.csv')}: row 3: label 1000000000 is too large: at most 65536 classes are supported (labels 0..65535)`]);

    const model = join(dir, 'nan-model');
    mkdirSync(model);
    copyFileSync(join(MLP, 'model.json'), join(model, 'model.json'));
    writeFileSync(join(model, 'weights.bin'), new Uint8Array(new Float32Array(101_770).fill(Number.NaN).buffer));
    const evaluated = await fedtune(['evaluate', '--model', model, '--data', 'digits-holdout', '--examples', '10']).done;
    expect(evaluated.code).toBe(1);
    expect(evaluated.stderr.trim().split('\n')).toEqual([`fedtune: config: cannot load the model in ${model}: weight hidden/kernel has 100352 of 100352 values that are not finite (NaN or ±∞): the model is broken`]);
    expect(evaluated.stdout).not.toMatch(/accuracy/);

    const coordinator = await fedtune(['coordinator', '--port', '0', '--out', join(dir, 'huge-label.csv')]).done;
    expect(coordinator.code).toBe(1);
    expect(coordinator.stderr.trim().split('\n')).toEqual([`fedtune: config: the database directory ${join(dir, 'huge-label.csv')} is a file (or inside one), not a directory`]);

    // PEM files named on the command line: a named pipe in their place blocked the start for ever.
    const pipe = fifo(join(dir, 'cert.pem'));
    const tls = await fedtune(['coordinator', '--port', '0', '--out', join(dir, 'runs'), '--tls-cert', pipe, '--tls-key', pipe]).done;
    expect([tls.code, tls.stderr.trim()]).toEqual([1, `fedtune: config: ${pipe} is not a regular file (a pipe, socket or device): a TLS certificate must be a file`]);
    const ca = await fedtune(['client', '--server', 'https://127.0.0.1:9', '--site', 's1', '--data', 'digits:1/2', '--ca', pipe]).done;
    expect([ca.code, ca.stderr.trim()]).toEqual([1, `fedtune: config: ${pipe} is not a regular file (a pipe, socket or device): a CA certificate must be a file`]);
  }, 120_000);
});
