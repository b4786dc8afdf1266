/**
 * A coordinator's base URL may carry a path prefix: nodes behind a reverse proxy that serves them under
 * `https://proxy.example/fedtune/` (docs/operations.md#behind-a-reverse-proxy-under-a-path). Everything a
 * site reaches on the coordinator — socket.io and the HTTP API (model bytes, terms) — is under that prefix.
 */

/** The path prefix of a base URL, without a trailing slash: '' for none (`http://host:8080`, `http://host:8080/`). */
export function serverPathPrefix(server: string): string {
  return new URL(server).pathname.replace(/\/+$/, '');
}

/**
 * An absolute API path (`/api/v1/models/3/weights`) on the coordinator at `server`, under its path prefix:
 * `urlUnderServer('https://proxy.example/fedtune/', '/api/v1/terms')` is `https://proxy.example/fedtune/api/v1/terms`.
 * The result is always on the server's origin (a path is never taken as another host).
 */
export function urlUnderServer(server: string, path: string): string {
  const base = new URL(server);
  const rest = path.startsWith('/') ? path : `/${path}`;
  return `${base.origin}${serverPathPrefix(server)}${rest}`;
}

/**
 * Where socket.io-client connects for a coordinator at `url`: the origin, and the engine path under the URL's
 * path prefix (`<prefix>/socket.io`). socket.io-client would otherwise take the URL's path as a namespace and
 * ask `/socket.io/` at the proxy's root. An explicit `path` is kept as given.
 */
export function socketIoEndpoint(url: string, path?: string): { url: string; path: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not an absolute URL (a browser page's relative one): socket.io resolves it against the page.
    return { url, path: path ?? '/socket.io' };
  }
  return { url: parsed.origin, path: path ?? `${serverPathPrefix(url)}/socket.io` };
}
