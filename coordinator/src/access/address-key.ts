import { isIPv4, isIPv6 } from 'node:net';

/** IPv6 addresses are counted by their first this many bits: a subscriber (a home, a cloud VM) is given a /64. */
export const IPV6_PREFIX_BITS = 64;

/**
 * The key a per-address limit counts a peer under (the unwelcomed connections an address may hold, failed hellos,
 * the HTTP rate limit): an IPv4 address itself; an IPv6 address by its /64 prefix, written `a:b:c:d::/64`; an
 * IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, how a coordinator listening on `::` sees IPv4 peers) as the IPv4
 * address. Keyed by the whole IPv6 address, one peer with a /64 — 2^64 addresses, routed to it by any ISP or cloud
 * — had a fresh budget for every connection: the per-address limits bounded nothing. A zone (`%eth0`) is dropped.
 * Anything that is not an IP address (a transport without one) is its own key, clipped to 64 characters.
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined) return '';
  const bare = address.split('%')[0];
  if (isIPv4(bare)) return bare;
  if (!isIPv6(bare)) return address.slice(0, 64);
  const groups = ipv6Groups(bare);
  // ::ffff:a.b.c.d (RFC 4291 2.5.5.2): an IPv4 peer of a dual-stack socket.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join('.');
  }
  return `${groups
    .slice(0, IPV6_PREFIX_BITS / 16)
    .map((g) => g.toString(16))
    .join(':')}::/${IPV6_PREFIX_BITS}`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a trailing dotted IPv4 part as two groups). */
function ipv6Groups(address: string): number[] {
  // Without '::' the split is the address alone, and there is no tail.
  const [head, tail] = address.split('::') as [string, string | undefined];
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)];
          const [a, b, c, d] = g.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const first = parse(head);
  if (tail === undefined) return first;
  const last = parse(tail);
  return [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last];
}
