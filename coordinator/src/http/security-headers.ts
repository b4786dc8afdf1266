import type { FastifyInstance } from 'fastify';

/**
 * What the dashboard (`/`, `/dashboard/*`) may load: its own scripts, styles and API, nothing inline but styles.
 * Inline styles stay allowed for report.html, which the dashboard opens as a blob: (a blob: document inherits the
 * policy of the page that made it; report.html styles itself inline and runs no script).
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Every other page (the browser site at /site/, the Swagger UI at /docs): may not be framed, nor change its base
 * URL or embed plugins. What they load is left to them: the browser site connects to whichever coordinator its
 * link names and compiles WebAssembly.
 */
export const PAGE_CSP = "frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/**
 * Headers on every response: no content sniffing (a JSON body or a model file is never read as a page or a
 * script), no framing (clickjacking: X-Frame-Options for browsers without frame-ancestors), and a CSP on HTML
 * that has none of its own (report.html and the dashboard set theirs). Register on the root app, before the routes.
 */
export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('x-frame-options', 'DENY');
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('text/html') && !reply.hasHeader('content-security-policy')) void reply.header('content-security-policy', PAGE_CSP);
    return payload;
  });
}

/** The same headers for a response written by hand (a hijacked reply: the server-sent event stream). */
export const RAW_SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY' } as const;
