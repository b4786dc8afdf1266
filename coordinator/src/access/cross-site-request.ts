import { clipText } from '@fedtune/shared';

/** The request headers a browser sets itself, which no page can forge. */
export interface BrowserHeaders {
  host?: string;
  origin?: string;
  'sec-fetch-site'?: string;
}

/**
 * Why a request comes from a web page other than the coordinator's own (the dashboard), or undefined. Such a
 * page, open in the operator's browser, must not drive the control plane: a cross-site POST with no body is a
 * "simple" request, which the browser sends without asking the coordinator first (no CORS preflight). Browsers
 * say where a request comes from with `Sec-Fetch-Site` (cross-site, same-site: another port of the same host
 * too) and, on every POST and cross-origin request, `Origin`; curl and scripts send neither.
 */
export function crossSiteRequest(headers: BrowserHeaders): string | undefined {
  const fetchSite = headers['sec-fetch-site'];
  if (fetchSite === 'cross-site' || fetchSite === 'same-site') return `Sec-Fetch-Site: ${fetchSite}`;
  const origin = headers.origin;
  if (origin === undefined) return undefined;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return `Origin ${clipText(origin, 80)}`;
  }
  return originHost !== '' && originHost === headers.host?.toLowerCase() ? undefined : `Origin ${clipText(origin, 80)}`;
}
