import { clipText } from '../text/clip-text.ts';
import { FedtuneError, toFedtuneError } from '../errors.ts';
import { packBinaryFields, unpackBinaryFields } from './binary-fields.ts';
import type { MessageOf } from './transport.ts';

type Parser = (event: string, raw: unknown) => unknown;

export interface EndpointOptions {
  /**
   * Most messages kept while no handler is attached (a connection waiting for a run); later ones are
   * dropped and counted in `dropped`. Default: no limit (in-process endpoints attach at once).
   */
  maxQueued?: number;
  /**
   * Until a message of this event has passed its schema, every other event is refused WITHOUT being
   * unpacked or parsed: it reaches `onInvalid` as an 'unauthorized' error (the coordinator's site links set
   * 'hello', so a connection that has not said hello costs no parsing). Default: every event is parsed.
   */
  firstEvent?: string;
}

/**
 * Shared plumbing for transport endpoints: validates every incoming payload with `parse`, queues
 * messages until a handler is attached, and fires close handlers once.
 */
export abstract class EndpointBase<Out, In> {
  private messageHandler?: (message: MessageOf<In>) => void;
  private invalidHandler?: (error: FedtuneError) => void;
  /** Made when needed and dropped when empty: an idle connection holds no queue (memory flat in the number of sites). */
  private closeHandlers?: Array<(reason: string) => void>;
  private pending?: Array<MessageOf<In> | FedtuneError>;
  /** Why the endpoint closed; undefined while it is open. */
  private closeReason?: string;
  /** Messages dropped because the queue was full (see EndpointOptions.maxQueued). */
  dropped = 0;
  /** Messages run through the schema parser (passed or failed). */
  parsedCount = 0;
  /** Messages refused unparsed because `firstEvent` had not yet arrived (see EndpointOptions.firstEvent). */
  refusedUnparsed = 0;
  private firstEventSeen = false;

  protected constructor(
    private readonly parse: Parser,
    private readonly endpointOptions: EndpointOptions = {},
  ) {}

  get closed(): boolean {
    return this.closeReason !== undefined;
  }

  /** Puts one message on the wire as it is (binary fields already packed). */
  protected abstract emitWire(event: string, wirePayload: unknown): void;
  abstract close(): void;

  send<K extends keyof Out & string>(event: K, payload: Out[K]): void {
    this.sendUnchecked(event, payload);
  }

  /** Sends without the sender-side type; the receiver still validates. Binary fields travel as one attachment. */
  sendUnchecked(event: string, payload: unknown): void {
    if (this.closed) return;
    this.emitWire(event, packBinaryFields(payload));
  }

  onMessage(handler: (message: MessageOf<In>) => void): void {
    this.messageHandler = handler;
    this.flush();
  }

  onInvalid(handler: (error: FedtuneError) => void): void {
    this.invalidHandler = handler;
    this.flush();
  }

  onClose(handler: (reason: string) => void): void {
    if (this.closeReason !== undefined) handler(this.closeReason);
    // Exactly sized (a connection has one or two): no spare capacity per idle connection.
    else this.closeHandlers = this.closeHandlers ? this.closeHandlers.concat(handler) : [handler];
  }

  /** Called by implementations for every raw incoming message. */
  protected receive(event: string, raw: unknown): void {
    // A full queue drops the message before any work is spent on it.
    if ((this.pending?.length ?? 0) >= (this.endpointOptions.maxQueued ?? Infinity)) {
      this.dropped++;
      return;
    }
    const first = this.endpointOptions.firstEvent;
    let item: MessageOf<In> | FedtuneError;
    if (first !== undefined && !this.firstEventSeen && event !== first) {
      this.refusedUnparsed++;
      item = new FedtuneError('unauthorized', `send ${first} before anything else (got "${clipText(event, 64)}")`);
    } else {
      try {
        this.parsedCount++;
        item = { event, payload: this.parse(event, unpackBinaryFields(raw)) } as MessageOf<In>;
        // Here only with no gate, the gate open, or the first event: it has now passed its schema.
        this.firstEventSeen = true;
        this.parsed(event);
      } catch (err) {
        item = toFedtuneError(err, 'malformed_payload');
      }
    }
    (this.pending ??= []).push(item);
    this.flush();
  }

  /** Told the name of every incoming message that passed its schema, before handlers see it. */
  protected parsed(_event: string): void {}

  protected markClosed(reason: string): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    const handlers = this.closeHandlers ?? [];
    this.closeHandlers = undefined;
    for (const h of handlers) h(reason);
  }

  private flush(): void {
    const pending = this.pending;
    if (!pending) return;
    while (pending.length > 0) {
      const item = pending[0];
      const isError = item instanceof FedtuneError;
      if (isError && !this.invalidHandler) return;
      if (!isError && !this.messageHandler) return;
      pending.shift();
      if (isError) this.invalidHandler!(item as FedtuneError);
      else this.messageHandler!(item as MessageOf<In>);
    }
    // Drained. A handler may have received meanwhile: a nested flush that drained the queue dropped it, and what
    // arrived after that is in a new queue (an error waiting for onInvalid), which stays.
    if (this.pending === pending) this.pending = undefined;
  }
}
