import { z } from 'zod';
import { NodeId } from './cluster-options.ts';

/** Most site messages one `fedtune:site-sends` carries (the leader's outbox splits longer queues). */
export const MAX_SENDS_PER_MESSAGE = 256;

/**
 * The leader's messages for the sites held by one follower, several per server-side emit (instruction-fanout.ts):
 * a round's instructions to a follower's N sites cross Redis as ⌈N / chunk⌉ messages instead of N. Parsed
 * strictly by the follower, which emits each to its own socket (unknown sockets ignored and counted); the site
 * validates the payload itself, as it does any coordinator message.
 */
export const SiteSendsMessage = z.strictObject({
  /** The sending node (the leader) and the node holding the sockets. */
  node: NodeId,
  to: NodeId,
  sends: z
    .array(z.strictObject({ socket: z.string().min(1).max(64), event: z.string().min(1).max(64), payload: z.unknown() }))
    .min(1)
    .max(MAX_SENDS_PER_MESSAGE),
});
export type SiteSendsMessage = z.output<typeof SiteSendsMessage>;
