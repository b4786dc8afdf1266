import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, resolve, sep } from 'node:path';
import type { FastifyReply } from 'fastify';
import { clipText, FedtuneError } from '@fedtune/shared';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  // instantiateStreaming (tfjs-backend-wasm) needs the exact type.
  '.wasm': 'application/wasm',
};

/**
 * Resolves `relative` inside `root`, refusing anything that escapes it. Directories resolve to index.html.
 * `relative` is a route parameter, which the router has already percent-decoded: decoding it again would
 * let `%2525` mean `%` and make `%25` a malformed URI.
 */
export function resolveStaticFile(root: string, relative: string): string {
  const base = resolve(root);
  if (relative.includes('\0')) throw new FedtuneError('not_found', 'no such file');
  let path = resolve(base, `.${sep}${relative}`);
  if (path !== base && !path.startsWith(base + sep)) throw new FedtuneError('not_found', clipText(`no file ${relative}`));
  if (existsSync(path) && statSync(path).isDirectory()) path = resolve(path, 'index.html');
  if (!existsSync(path) || !statSync(path).isFile()) throw new FedtuneError('not_found', clipText(`no file ${relative || '/'}`));
  return path;
}

/** Sends one file of `root` with its content type; hashed build assets may be cached for long. */
export function sendStaticFile(reply: FastifyReply, root: string, relative: string): FastifyReply {
  const path = resolveStaticFile(root, relative);
  const ext = extname(path);
  void reply.type(CONTENT_TYPES[ext] ?? 'application/octet-stream');
  void reply.header('cache-control', /\/assets\/.+-[A-Za-z0-9_-]{8,}\.\w+$/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
  return reply.send(createReadStream(path));
}
