/** The largest message a connection's websocket accepts, which can be changed while it is open. */
export interface MessageSizeLimit {
  readonly bytes: number;
  set(bytes: number): void;
}

/**
 * The message size limit of an engine.io connection's websocket: ws's receiver checks each frame's length against
 * it (`_maxPayload`, summed over a message's fragments) as soon as the frame header is read, and closes the
 * connection with 1009 before buffering a longer message. ws fixes it when the connection opens (engine.io passes
 * its maxHttpBufferSize); nothing public changes it, so this reaches the receiver (ws 8). Undefined for a
 * connection without one (no websocket, or another engine): the server-wide limit then stays in force.
 */
export function messageSizeLimit(conn: unknown): MessageSizeLimit | undefined {
  const receiver = (conn as { transport?: { socket?: { _receiver?: { _maxPayload?: unknown } } } } | undefined)?.transport?.socket?._receiver;
  if (!receiver || typeof receiver._maxPayload !== 'number') return undefined;
  const r = receiver as { _maxPayload: number };
  return {
    get bytes() {
      return r._maxPayload;
    },
    set(bytes: number) {
      r._maxPayload = bytes;
    },
  };
}
