import type { FastifyInstance } from 'fastify';
import { siteCsp } from './site-csp.ts';

/**
 * What the dashboard (`/`, `/dashboard/*`) may load: its own scripts, styles and API, nothing inline but styles.
 * Inline styles stay allowed for report.html, which the dashboard opens as a blob: (a blob: document inherits the
 * policy of the page that made it; report.html styles itself inline and runs no script).
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The Swagger UI at /docs: its bundle, styles and icons from /docs/static, the OpenAPI document and "try it out"
 * from this coordinator, nothing else (no inline script: the UI starts from swagger-initializer.js; no validator
 * badge: validatorUrl is null). Styles: its stylesheets and the <style> element the bundle adds as it starts
 * (inline: swagger-ui writes it at run time; a style cannot run script).
 */
export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Every other page (a static or error page without its own): may not be framed, nor change its base URL or embed
 * plugins. The browser site (/site/) sets its own (site-csp.ts).
 */
export const PAGE_CSP = "frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/**
 * The CSP for an HTML response that set none, by the route that answered (`/site/*`, `/docs/…`: the routed
 * path, so `/%73ite/` gets the site's too; undefined for the not-found handler) and the request's query: the
 * browser site's (site-csp.ts: it depends on the page's ?server=), the Swagger UI's, PAGE_CSP elsewhere.
 */
export function defaultPageCsp(route: string | undefined, requestUrl: string): string {
  if (route === '/site/*') {
    const q = requestUrl.indexOf('?');
    // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent: without a '?' any text of one character (what slice(-1) gives) has no server= either
    return siteCsp(q < 0 ? '' : requestUrl.slice(q));
  }
  if (route === '/docs' || route?.startsWith('/docs/')) return DOCS_CSP;
  return PAGE_CSP;
}

/**
 * Headers on every response: no content sniffing (a JSON body or a model file is never read as a page or a
 * script), no framing (clickjacking: X-Frame-Options for browsers without frame-ancestors), and a CSP on HTML
 * that has none of its own (report.html, the dashboard and the browser site set theirs; defaultPageCsp). Register on the root app, before the routes.
 */
export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('x-frame-options', 'DENY');
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('text/html') && !reply.hasHeader('content-security-policy')) void reply.header('content-security-policy', defaultPageCsp(request.routeOptions.url, request.url));
    return payload;
  });
}

/** The same headers for a response written by hand (a hijacked reply: the server-sent event stream). */
export const RAW_SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY' } as const;
