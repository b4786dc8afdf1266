import { joinLinkServerParam, parseJoinLinkServer } from '@fedtune/shared';

/**
 * The browser site's Content-Security-Policy (`/site/*`), as strict as the page allows:
 * - scripts and styles only its own files (vite emits no inline script or style); `'wasm-unsafe-eval'` because the
 *   tfjs wasm backend compiles its WebAssembly (fetched from /site/tfjs-wasm/);
 * - connect-src: this coordinator ('self', its websocket included) and, when the page's own link names another
 *   origin (`?server=`, join-link-server.ts), that origin over http(s) and ws(s). The page connects there only
 *   once the user confirms (join-server-choice.ts); an injected script could reach nothing else;
 * - images only its own and data: (the line charts are inline SVG); nothing framed, no plugins, no forms, no base.
 * No worker-src: without cross-origin isolation the wasm backend runs no threads, and nothing else starts a worker
 * (default-src 'none' then forbids them).
 */
export function siteCsp(search: string): string {
  const connect = ["'self'", ...linkServerSources(search)];
  return [
    "default-src 'none'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${connect.join(' ')}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The sources for a link's other coordinator: its origin over http(s) and ws(s); none without a valid ?server=. */
function linkServerSources(search: string): string[] {
  const param = joinLinkServerParam(search);
  // Stryker disable next-line ConditionalExpression: equivalent: a shortcut; parsing no text throws, and a link that does not parse adds nothing.
  if (param === undefined) return [];
  let origin: string;
  try {
    origin = parseJoinLinkServer(param).origin;
  } catch {
    return [];
  }
  // http://… → ws://…, https://… → wss://… (an origin parseJoinLinkServer gave starts with one of them).
  const ws = `ws${origin.slice('http'.length)}`;
  return [origin, ws];
}
