import { createServer, request, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface PrefixProxy {
  /** The proxy's base URL with its prefix and a trailing slash: `http://127.0.0.1:P/fedtune/`. */
  url: string;
  /** Every request path it forwarded (prefix stripped), upgrades marked `upgrade `. */
  forwarded: string[];
  /** Request paths it refused (404): not under the prefix. */
  refused: string[];
  close(): Promise<void>;
}

/**
 * A small reverse proxy as sites meet one in front of coordinator nodes: it serves `target` under `prefix`
 * (`/fedtune`), strips the prefix and forwards HTTP requests and websocket upgrades; anything else is 404.
 * `target` may resolve later (requests wait for it).
 */
export async function startPrefixProxy(prefix: string, target: Promise<string> | string): Promise<PrefixProxy> {
  const forwarded: string[] = [];
  const refused: string[] = [];
  const strip = (req: IncomingMessage): string | undefined => {
    const path = req.url ?? '/';
    return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : undefined;
  };
  const server = createServer(async (req, res) => {
    const path = strip(req);
    if (path === undefined) {
      refused.push(req.url ?? '');
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not under the proxy prefix');
      return;
    }
    forwarded.push(path);
    const to = new URL(await target);
    const upstream = request({ host: to.hostname, port: to.port, method: req.method, path, headers: { ...req.headers, host: to.host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  const sockets = new Set<Socket>();
  server.on('upgrade', async (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    const path = strip(req);
    if (path === undefined) {
      refused.push(req.url ?? '');
      client.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    forwarded.push(`upgrade ${path}`);
    const to = new URL(await target);
    const upstream = connect(Number(to.port), to.hostname, () => {
      const lines = [`${req.method} ${path} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${prefix}/`,
    forwarded,
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
