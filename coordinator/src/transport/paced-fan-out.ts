/** Sends per turn of the event loop while fanning out one instruction to many sites. */
export const FAN_OUT_CHUNK = 25;
/**
 * Bytes put on the sites' sockets per turn of the event loop (as `send` reports them): a model sent inline costs
 * its copy into the kernel per site (~0.5–1 ms for 400 KB here, in the same turn as the send), so 25 of them held
 * the loop for 20–35 ms at 500 sites; with 4 MiB a turn ends after 11 of the default model's 407 KB.
 */
export const FAN_OUT_BYTES_PER_TURN = 4 * 1024 * 1024;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Calls `send` for every item, at most `chunk` of them and about `bytesPerTurn` of what they send (`send`
 * returns the bytes it put on the wire; nothing counts as 0) per turn of the event loop, so that sending the
 * model to hundreds of sites never holds the loop for long: health checks, heartbeats and the results of sites
 * that answer quickly are handled in between. A turn always sends at least one.
 */
export async function pacedFanOut<T>(items: readonly T[], send: (item: T) => number | void, chunk = FAN_OUT_CHUNK, bytesPerTurn = FAN_OUT_BYTES_PER_TURN): Promise<void> {
  let inTurn = 0;
  let bytes = 0;
  for (const item of items) {
    if (inTurn >= chunk || bytes >= bytesPerTurn) {
      await nextTurn();
      inTurn = 0;
      bytes = 0;
    }
    inTurn++;
    bytes += send(item) ?? 0;
  }
}
