import type { z } from 'zod';
import { clipText } from '../clip-text.ts';
import { FedtuneError } from '../errors.ts';
import { clientToServerSchemas, serverToClientSchemas, type ClientToServer, type ServerToClient } from './events.ts';

function describeIssues(error: z.ZodError): string {
  // Paths and messages can quote keys the peer chose: each is clipped, and so is the whole.
  const text = error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? clipText(i.path.join('.'), 80) : '(root)'}: ${clipText(i.message, 120)}`)
    .join('; ');
  return clipText(text, 600);
}

function parseWith<T>(schemas: Record<string, z.ZodType>, event: string, raw: unknown, direction: string): T {
  const schema = Object.hasOwn(schemas, event) ? schemas[event] : undefined;
  if (!schema) throw new FedtuneError('malformed_payload', `unknown ${direction} event "${clipText(event, 64)}"`);
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new FedtuneError('malformed_payload', `invalid "${event}" payload: ${describeIssues(result.error)}`, { cause: result.error });
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
  return Object.hasOwn(clientToServerSchemas, event);
}

export function isServerEvent(event: string): event is keyof ServerToClient & string {
  return Object.hasOwn(serverToClientSchemas, event);
}
