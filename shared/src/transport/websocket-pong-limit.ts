/** Pongs (answers to a peer's pings) sent while this side's writes wait, before the rest are left unanswered. */
export const DEFAULT_PONGS_WHILE_WRITES_WAIT = 64;

/** ws (Node) as far as the limit reaches into it: its automatic pong, its ping event and its TCP socket. */
type Websocket = {
  _autoPong?: boolean;
  _socket?: { writableLength?: number } | null;
  on(event: 'ping', listener: (data: Buffer) => void): unknown;
  pong(data: Buffer, mask?: boolean, cb?: (err?: Error) => void): void;
};
/** engine.io-client's socket as far as the limit reaches into it: every packet it sends goes through `_sendPacket`. */
type EngineSocket = { _sendPacket(type: string, ...rest: unknown[]): unknown };

/**
 * Bounds the pongs a peer can make this side queue: a peer that streams pings and reads nothing would otherwise
 * grow this process's memory by a pong (and its write request) per ping for as long as it liked — measured, a
 * hostile coordinator's ping flood took a site from 126 MB to 2.4 GB in 15 s. While this side's writes wait in
 * its TCP socket (the peer is not reading them), at most `max` pings are answered; then none, until the socket's
 * backlog has drained to nothing. A peer that reads gets every answer (at the rate its frame budget allows).
 *
 * Websocket pings (ws's automatic pong is turned off and replaced by this one), and, on a site, engine.io's own
 * pings when `engine` is engine.io-client's socket: its pong is what the coordinator's heartbeat waits for, and an
 * honest coordinator sends one every `pingInterval` (25 s), so a site's pongs are left unanswered only once its
 * writes have waited for `max` of those (27 minutes): by then its coordinator has long stopped reading it.
 * RFC 6455 (5.5.3) lets an endpoint leave pings unanswered while earlier pongs are not yet sent.
 *
 * Returns whether the websocket was limited: false for anything but a ws websocket (a browser's WebSocket
 * answers pings itself; so does its engine.io-client, whose writes this process cannot see).
 */
export function limitPongsWhileWritesWait(websocket: unknown, engine?: unknown, max = DEFAULT_PONGS_WHILE_WRITES_WAIT): boolean {
  const ws = websocket as Partial<Websocket> | undefined;
  if (typeof ws?._autoPong !== 'boolean' || typeof ws.on !== 'function' || typeof ws.pong !== 'function') return false;
  let answeredWhileWaiting = 0;
  /** Whether one more pong may be queued now. */
  const mayAnswer = (): boolean => {
    // Everything written so far has reached the kernel: the peer reads, the count starts again.
    if (!ws._socket?.writableLength) answeredWhileWaiting = 0;
    if (answeredWhileWaiting >= max) return false;
    answeredWhileWaiting++;
    return true;
  };
  ws._autoPong = false;
  const pong = ws.pong.bind(ws);
  ws.on('ping', (data) => {
    // A write after close is refused through the callback: nothing to do about it here.
    if (mayAnswer()) pong(data, undefined, () => {});
  });
  const socket = engine as Partial<EngineSocket> | undefined;
  if (typeof socket?._sendPacket === 'function') {
    const sendPacket = socket._sendPacket;
    socket._sendPacket = function (this: EngineSocket, type: string, ...rest: unknown[]) {
      if (type === 'pong' && !mayAnswer()) return;
      return sendPacket.call(this, type, ...rest);
    };
  }
  return true;
}
