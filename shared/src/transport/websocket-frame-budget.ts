/** How many websocket frames a peer may send: `framesPerSecond` on average, in bursts of `frameBurst`. */
export interface FrameBudgetLimits {
  framesPerSecond: number;
  frameBurst: number;
}

/** A connection's frame budget, which can be changed while it is open (raised when its site is welcomed). */
export interface FrameBudget {
  /** New limits from now on; the frames already spent stay spent (what is left is capped at the new burst, or grows by the difference). */
  set(limits: FrameBudgetLimits): void;
}

/** ws's receiver as far as the budget reaches into it (ws 8): it reads a frame's first two bytes in `getInfo`. */
type Receiver = { getInfo(cb: unknown): void; _bufferedBytes: number; _loop: boolean };
type Websocket = { _receiver?: Partial<Receiver> | null; terminate(): void };

/**
 * Cuts a websocket (ws, Node) whose peer sends frames faster than its budget: every frame counts — data,
 * continuation, ping, pong, close — before its header is parsed. engine.io's own packets (a ping or pong, a noop)
 * and websocket control frames never reach socket.io's parser or a message budget, so without this one peer's
 * stream of pings (each answered with a pong, queued in memory when the peer does not read) or of engine.io packets
 * held the event loop for seconds at a time. Past the budget the receiver stops parsing at once (what is buffered is
 * never read), `onCut` is called and the TCP socket is destroyed.
 *
 * The coordinator budgets each site's connection (engine.io's `conn.transport.socket`); a Node site budgets its
 * coordinator's (engine.io-client's `transport.ws`, once open). ws has no public hook per frame, so this wraps its
 * receiver's `getInfo` (as websocket-message-size-limit.ts reaches its `_maxPayload`). Undefined for anything else
 * (no receiver yet, a browser's WebSocket, another engine): it is not limited here.
 */
export function websocketFrameBudget(websocket: unknown, initial: FrameBudgetLimits, onCut?: () => void): FrameBudget | undefined {
  const ws = websocket as Partial<Websocket> | undefined;
  const receiver = ws?._receiver;
  // Stryker disable next-line OptionalChaining: equivalent: a receiver was found on ws, so ws is defined by the time terminate is read.
  if (!receiver || typeof receiver.getInfo !== 'function' || typeof receiver._bufferedBytes !== 'number' || typeof ws?.terminate !== 'function') return undefined;
  const getInfo = receiver.getInfo;
  const terminate = ws.terminate.bind(ws);
  let limits = initial;
  let tokens = limits.frameBurst;
  let refilledAt = Date.now();
  let cut = false;
  receiver.getInfo = function (this: Receiver, cb: unknown): void {
    // A header split across reads is asked for again when its second byte arrives: counted once.
    if (this._bufferedBytes >= 2 && !cut) {
      const t = Date.now();
      tokens = Math.min(limits.frameBurst, tokens + ((t - refilledAt) * limits.framesPerSecond) / 1000);
      refilledAt = t;
      if (tokens >= 1) tokens -= 1;
      else {
        cut = true;
        onCut?.();
        terminate();
      }
    }
    if (!cut) return getInfo.call(this, cb);
    // Cut: nothing more of what the peer sent is parsed (the loop stops here on every later read too).
    this._loop = false;
  };
  return {
    set(next) {
      tokens = Math.min(next.frameBurst, tokens + next.frameBurst - limits.frameBurst);
      limits = next;
    },
  };
}
