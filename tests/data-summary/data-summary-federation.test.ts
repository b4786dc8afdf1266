import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { EngineEvent } from '@fedtune/coordinator';
import { dataSummaryCounts, type ClientConnector } from '@fedtune/shared';
import { startTestFederation } from '../helpers/federation.ts';

/** A connector whose links record the event names the site sends (the wire, as socket.io carries it). */
function recording(connector: ClientConnector, sent: string[]): ClientConnector {
  return {
    connect: async () => {
      const link = await connector.connect();
      const send = link.send.bind(link);
      link.send = ((event: string, payload: unknown) => {
        sent.push(event);
        (send as (e: string, p: unknown) => void)(event, payload);
      }) as typeof link.send;
      return link;
    },
  };
}

const indexOf = (siteId: string) => Number(siteId.split('-')[1]);
const summaryOf = (k: number) => dataSummaryCounts({ examples: 30 + k, labelCounts: [10, 20 + k], duplicatesDropped: k, missingImputed: 2 * k, constantFeatures: 1, featureNames: ['age', 'city'] });

// 20 real sites over socket.io: the 10 even ones agree to share (the SiteClient's `dataSummary`, what
// --share-data-summary passes), site-2 also allows feature names by policy. The coordinator records each
// once in report.json and report.html, with totals; the others send no such message at all.
it('sites that agree send their data summary once; the coordinator records it per site with totals (20 sites, socket.io)', { timeout: 240_000 }, async () => {
  const sent = new Map<string, string[]>();
  const events: EngineEvent[] = [];
  const sharing = (siteId: string) => indexOf(siteId) % 2 === 0;
  const fed = await startTestFederation({
    sites: 20,
    rounds: 1,
    transport: 'socket',
    maxSiteExamples: 40,
    holdoutExamples: 100,
    onEvent: (e) => events.push(e),
    policies: { 'site-2': { data: { shareSummary: true, shareFeatureNames: true } } },
    wrapConnector: (siteId, connector) => {
      const log: string[] = [];
      sent.set(siteId, log);
      return recording(connector, log);
    },
    siteOptions: (siteId) => (sharing(siteId) ? { dataSummary: summaryOf(indexOf(siteId)) } : {}),
  });
  try {
    const report = await fed.coordinator.done;
    expect(report.status).toBe('complete');
    for (const [siteId, log] of sent) expect(log.filter((e) => e === 'dataSummary')).toHaveLength(sharing(siteId) ? 1 : 0);
    const d = report.dataSummaries!;
    const shared = [...sent.keys()].filter(sharing);
    expect(d.total).toEqual({
      sites: 10,
      examples: shared.reduce((a, s) => a + 30 + indexOf(s), 0),
      duplicatesDropped: shared.reduce((a, s) => a + indexOf(s), 0),
      missingImputed: shared.reduce((a, s) => a + 2 * indexOf(s), 0),
      constantFeatures: 10,
      labelCounts: [100, shared.reduce((a, s) => a + 20 + indexOf(s), 0)],
    });
    expect(d.sites.map((s) => s.siteId).sort()).toEqual(shared.sort());
    // Feature names only where the policy allows them.
    expect(d.sites.filter((s) => s.featureNames).map((s) => [s.siteId, s.featureNames])).toEqual([['site-2', ['age', 'city']]]);
    expect(events.filter((e) => e.type === 'data-summary')).toHaveLength(10);
    const onDisk = JSON.parse(readFileSync(join(fed.coordinator.runDir, 'report.json'), 'utf8'));
    expect(onDisk.dataSummaries).toEqual(d);
    const html = readFileSync(join(fed.coordinator.runDir, 'report.html'), 'utf8');
    expect(html).toContain('id="data-summaries"');
    expect(html).toContain(`<td>all 10</td><td>${d.total.examples}</td>`);
  } finally {
    await fed.coordinator.close();
  }
});

it('by default a site sends no data summary, and the report has none (socket.io)', { timeout: 120_000 }, async () => {
  const sent: string[] = [];
  const fed = await startTestFederation({
    sites: 2,
    rounds: 1,
    transport: 'socket',
    maxSiteExamples: 40,
    holdoutExamples: 100,
    wrapConnector: (_siteId, connector) => recording(connector, sent),
  });
  try {
    const report = await fed.coordinator.done;
    expect(report.status).toBe('complete');
    expect(sent).toContain('acceptTerms');
    expect(sent).toContain('fitResult');
    expect(sent).not.toContain('dataSummary');
    expect(report.dataSummaries).toBeUndefined();
    expect(readFileSync(join(fed.coordinator.runDir, 'report.html'), 'utf8')).not.toContain('Data summaries');
  } finally {
    await fed.coordinator.close();
  }
});
