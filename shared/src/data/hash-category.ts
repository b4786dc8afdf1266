/** Most buckets a hashed categorical column may have (its width in features). */
export const MAX_CATEGORY_BUCKETS = 65_536;

const encoder = new TextEncoder();

/**
 * The bucket of a categorical value (docs/data.md#categorical-columns-aligned-across-sites): FNV-1a (32 bit)
 * over the UTF-8 bytes of the column name, a NUL and the value, mixed by MurmurHash3's finalizer, modulo `buckets`. It depends on nothing but
 * the column name, the value and the bucket count, so every site puts a value in the same feature without
 * knowing the others' categories. Distinct values may share a bucket (a collision), as in any feature hashing.
 */
export function categoryBucket(column: string, value: string, buckets: number): number {
  let h = 0x811c9dc5;
  for (const byte of encoder.encode(`${column}\u0000${value}`)) h = Math.imul(h ^ byte, 0x01000193);
  // MurmurHash3's finalizer: FNV-1a's low bits alone collide often for a power-of-two bucket count.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % buckets;
}
