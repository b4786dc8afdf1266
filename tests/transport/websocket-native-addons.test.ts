import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The coordinator (and the Node site) depend on the optional `bufferutil`: ws then masks and unmasks frames
 * natively instead of in a JS loop (every update a site sends is a masked frame the coordinator unmasks).
 * UTF-8 validation needs no add-on: ws 8 uses Node's own `buffer.isUtf8`.
 */
describe('websocket native add-ons', () => {
  for (const pkg of ['coordinator', 'client-node']) {
    it(`ws, as ${pkg} resolves it, masks with bufferutil`, () => {
      const fromPkg = createRequire(fileURLToPath(new URL(`../../${pkg}/package.json`, import.meta.url)));
      const ws = createRequire(fromPkg.resolve('ws'));
      const bufferUtil = ws('bufferutil') as { mask: unknown };
      expect(typeof bufferUtil.mask).toBe('function');
      const util = ws('./lib/buffer-util.js') as { mask: (s: Buffer, m: Buffer, o: Buffer, off: number, len: number) => void; unmask: (b: Buffer, m: Buffer) => void };
      // With bufferutil loaded, ws's mask is its wrapper that hands long buffers to the add-on.
      expect(util.mask.toString()).toContain('bufferUtil.mask');
      // And it still masks correctly (round trip on a frame long enough to take the native path).
      const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
      const key = Buffer.from([1, 2, 3, 4]);
      const out = Buffer.alloc(data.length);
      util.mask(data, key, out, 0, data.length);
      expect(out.equals(data)).toBe(false);
      util.unmask(out, key);
      expect(out.equals(data)).toBe(true);
    });
  }
});
