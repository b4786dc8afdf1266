import { addressKey } from '../access/address-key.ts';

/** An engine.io connection as far as this count needs it. */
interface EngineConnection {
  readonly remoteAddress?: string;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * The connections of each address that are open but not yet welcomed (no hello accepted), held to a cap
 * (ConnectionLimits.maxUnwelcomedPerAddress): one address cannot hold thousands of connections open by never
 * saying hello, up to the process's file-descriptor limit, where no site can connect. A connection leaves the
 * count when it is welcomed or closes; the map holds only addresses with a connection counted.
 */
export class UnwelcomedConnections {
  private readonly byAddress = new Map<string, number>();
  private readonly counted = new WeakMap<object, string>();

  constructor(private readonly maxPerAddress: number) {}

  /** Counts a new connection; false (not counted) when its address already has `maxPerAddress` unwelcomed. */
  admit(conn: EngineConnection): boolean {
    // An IPv6 peer is counted by its /64, an IPv4 one on a dual-stack socket as its IPv4 address (address-key.ts).
    const address = addressKey(conn.remoteAddress);
    const n = this.byAddress.get(address) ?? 0;
    if (n >= this.maxPerAddress) return false;
    this.byAddress.set(address, n + 1);
    this.counted.set(conn, address);
    conn.once('close', () => this.release(conn));
    return true;
  }

  /** The connection's site was welcomed (or it closed): it no longer counts. Idempotent. */
  release(conn: object): void {
    const address = this.counted.get(conn);
    // Stryker disable next-line ConditionalExpression: equivalent: an uncounted connection's lookup is NaN, and the NaN branch deletes a key that no connection has (undefined).
    if (address === undefined) return;
    this.counted.delete(conn);
    const left = this.byAddress.get(address)! - 1;
    if (left > 0) this.byAddress.set(address, left);
    else this.byAddress.delete(address);
  }

  /** Addresses with an unwelcomed connection now (the map's size: it never keeps an address at 0). */
  get addresses(): number {
    return this.byAddress.size;
  }

  /** Unwelcomed connections counted under `address`'s key now (its /64 for IPv6). */
  of(address: string): number {
    return this.byAddress.get(addressKey(address)) ?? 0;
  }
}
