/** Sends per turn of the event loop while fanning out one instruction to many sites. */
export const FAN_OUT_CHUNK = 25;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Calls `send` for every item, `chunk` at a time, with a turn of the event loop between chunks, so that
 * sending the model to hundreds of sites never holds the loop for long: health checks, heartbeats and the
 * results of sites that answer quickly are handled in between.
 */
export async function pacedFanOut<T>(items: readonly T[], send: (item: T) => void, chunk = FAN_OUT_CHUNK): Promise<void> {
  for (let i = 0; i < items.length; i++) {
    if (i > 0 && i % chunk === 0) await nextTurn();
    send(items[i]);
  }
}
