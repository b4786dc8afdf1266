import type { z } from 'zod';
import { FedtuneError } from '../errors.ts';
import { clipText, quoteClipped } from '../text/clip-text.ts';
import { oneLine } from '../text/one-line.ts';
import { clientToServerSchemas, serverToClientSchemas, type ClientToServer, type ServerToClient } from './events.ts';

/** The first few issues, each clipped: a reason stays a few hundred bytes whatever the payload held. */
function describeIssues(error: z.ZodError): string {
  // Paths and messages can quote keys the peer chose (zod quotes an unrecognized key as it is): each is made one
  // line (control characters, ANSI escapes and newlines become spaces) and clipped, and so is the whole.
  const text = error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? oneLine(i.path.map(String).join('.'), 120) : '(root)'}: ${oneLine(i.message, 200)}`)
    .join('; ');
  return clipText(text, 600);
}

function parseWith<T>(schemas: Record<string, z.ZodType>, event: string, raw: unknown, direction: string): T {
  const schema = typeof event === 'string' && Object.hasOwn(schemas, event) ? schemas[event] : undefined;
  // The event name is the peer's: quoted clipped and escaped, never whole (it may be megabytes).
  if (!schema) throw new FedtuneError('malformed_payload', `unknown ${direction} event ${quoteClipped(event, 64)}`);
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new FedtuneError('malformed_payload', `invalid ${quoteClipped(event, 64)} payload: ${describeIssues(result.error)}`, { cause: result.error });
  }
  return result.data as T;
}

/** Validates a payload that arrived at the coordinator. Throws FedtuneError('malformed_payload') with a reason. */
export function parseClientMessage<K extends keyof ClientToServer & string>(event: K, raw: unknown): ClientToServer[K] {
  return parseWith<ClientToServer[K]>(clientToServerSchemas, event, raw, 'client');
}

/** Validates a payload that arrived at a site. */
export function parseServerMessage<K extends keyof ServerToClient & string>(event: K, raw: unknown): ServerToClient[K] {
  return parseWith<ServerToClient[K]>(serverToClientSchemas, event, raw, 'server');
}

export function isClientEvent(event: string): event is keyof ClientToServer & string {
  return typeof event === 'string' && Object.hasOwn(clientToServerSchemas, event);
}

export function isServerEvent(event: string): event is keyof ServerToClient & string {
  return typeof event === 'string' && Object.hasOwn(serverToClientSchemas, event);
}
