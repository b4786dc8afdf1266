/** Largest text file a site reads (bytes): a longer one is a bad file. */
export const MAX_TEXT_FILE_BYTES = 1 << 20;

/**
 * One text file's content (UTF-8), as the Node and the browser site read it. Throws an Error whose message is
 * the reason (not valid UTF-8, too large); the caller names the file.
 */
export function decodeTextFile(bytes: Uint8Array): string {
  if (bytes.byteLength > MAX_TEXT_FILE_BYTES) throw new Error(`larger than ${MAX_TEXT_FILE_BYTES} bytes`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error('not valid UTF-8 text');
  }
}
