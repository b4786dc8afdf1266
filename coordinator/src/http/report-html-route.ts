import type { FastifyInstance } from 'fastify';
import { clipText, FedtuneError, RunReport } from '@fedtune/shared';
import { renderReportHtml, type ReportWithRobustness } from '../report/report-html.ts';
import type { RunStore } from '../run/run-store.ts';
import { errorResponses } from './api-schemas.ts';

/**
 * What report.html may load when served: nothing but its own inline styles (no scripts, no fetches). Defence
 * in depth: every string in it is escaped already.
 */
export const REPORT_HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * GET /api/runs/:id/report.html: a run's report page, rendered from its report.json by the code serving it
 * (so a run from an older version shows today's sections). Admin-only, like the report it shows.
 */
export function registerReportHtmlRoute(api: FastifyInstance, store: RunStore): void {
  api.get<{ Params: { id: string } }>('/api/runs/:id/report.html', {
    config: { admin: true },
    schema: {
      summary: "a run's report as a self-contained HTML page (docs/report.md)",
      tags: ['runs'],
      params: { type: 'object', properties: { id: { type: 'string', pattern: '^[A-Za-z0-9._-]+$', maxLength: 128 } }, required: ['id'] },
      response: { 200: { description: 'report.html', content: { 'text/html': { schema: { type: 'string' } } } }, ...errorResponses(404), 500: { ...errorResponses()[500], description: "a report.json that does not read as a report (code persistence), naming where" } },
    },
  }, async (request, reply) => {
    const report = store.read(request.params.id) as unknown;
    const parsed = RunReport.safeParse(report);
    if (parsed.success && parsed.data.rounds.length === 0) throw new FedtuneError('not_found', `run ${request.params.id} has no report yet (no round has finished)`);
    if (!parsed.success) {
      // Not "no report yet" for a report that exists: say where it does not read (e.g. one written by an older version).
      const issue = parsed.error.issues[0];
      throw new FedtuneError('persistence', clipText(`run ${request.params.id}'s report.json cannot be shown: ${issue.path.join('.') || '(report)'}: ${issue.message}`));
    }
    void reply.type('text/html; charset=utf-8').header('content-security-policy', REPORT_HTML_CSP).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache');
    return renderReportHtml(report as ReportWithRobustness);
  });
}
