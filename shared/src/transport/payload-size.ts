/** Approximate wire size of a message: binary fields by byte length, everything else as JSON text. */
export function payloadBytes(payload: unknown): number {
  let binary = 0;
  const json = JSON.stringify(payload, (_key, value: unknown) => {
    if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
      binary += value.byteLength;
      return 0;
    }
    return value;
  });
  return binary + (json ? json.length : 0);
}
