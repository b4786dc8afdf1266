import type { Page } from 'playwright-core';

/** Records the page's CSP violations (directive and what was blocked) before any of its scripts run. */
export const recordViolations = (page: Page) =>
  page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { violations: string[] }).violations = seen;
    document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
  });

/** The violations recorded so far (`recordViolations` first). */
export const violations = (page: Page): Promise<string[]> => page.evaluate(() => (window as unknown as { violations: string[] }).violations);
