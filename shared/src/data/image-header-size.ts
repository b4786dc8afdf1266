/** Largest image a site decodes (pixels), so one huge or crafted file cannot take its memory (50 M: 200 MB as RGBA). */
export const MAX_IMAGE_PIXELS = 50_000_000;

/** Bytes of a file's start read for its size: a JPEG's frame header may follow up to 64 KB of metadata per segment. */
export const IMAGE_HEADER_BYTES = 256 * 1024;

/**
 * The width and height an image file declares in its header, read without decoding it: a PNG's IHDR, or a
 * JPEG's first frame header (SOF0–SOF15 but DHT, JPG and DAC), found by walking the segments in `bytes` (the
 * file's start). Undefined when the bytes are neither, or end before the size.
 */
export function imageHeaderSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  const u32 = (i: number) => ((bytes[i] << 24) >>> 0) + (bytes[i + 1] << 16) + (bytes[i + 2] << 8) + bytes[i + 3];
  const u16 = (i: number) => (bytes[i] << 8) + bytes[i + 1];
  const isPng = bytes.length >= 24 && u32(0) === 0x89504e47 && u32(4) === 0x0d0a1a0a && u32(12) === 0x49484452; // "IHDR"
  if (isPng) return { width: u32(16), height: u32(20) };
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined; // too short: the loop below reads nothing
  let i = 2;
  while (i + 9 <= bytes.length) {
    if (bytes[i] !== 0xff) return undefined; // not at a marker: not a JPEG this reader follows
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2; // markers without a length
      continue;
    }
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) return { height: u16(i + 5), width: u16(i + 7) };
    if (marker === 0xd9 || marker === 0xda) return undefined; // end of image, or scan data before any frame header
    i += 2 + u16(i + 2);
  }
  return undefined;
}

/** The reason an image of this declared size is refused, or undefined when it is within MAX_IMAGE_PIXELS. */
export function imageTooLarge(size: { width: number; height: number } | undefined): string | undefined {
  if (!size || size.width * size.height <= MAX_IMAGE_PIXELS) return undefined;
  return `${size.width}×${size.height} pixels is more than ${MAX_IMAGE_PIXELS}`;
}
