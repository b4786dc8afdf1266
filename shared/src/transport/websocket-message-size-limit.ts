/** The largest message a websocket accepts, which can be changed while it is open. */
export interface MessageSizeLimit {
  readonly bytes: number;
  set(bytes: number): void;
}

/**
 * The message size limit of a websocket (ws, Node): ws's receiver checks each frame's length against it
 * (`_maxPayload`, summed over a message's fragments) as soon as the frame header is read, and closes the
 * connection with 1009 before buffering a longer message. ws fixes it when the connection opens; nothing public
 * changes it, so this reaches the receiver (ws 8). The coordinator limits each site's connection (engine.io's
 * `conn.transport.socket`: a pre-hello limit raised at the welcome), a Node site its coordinator's (a pre-terms
 * limit raised for the run's model). Undefined for anything else (a browser's WebSocket, no receiver yet).
 */
export function websocketMessageSizeLimit(websocket: unknown): MessageSizeLimit | undefined {
  const receiver = (websocket as { _receiver?: { _maxPayload?: unknown } | null } | undefined)?._receiver;
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
