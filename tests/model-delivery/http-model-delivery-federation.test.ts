import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunReport, SiteEvent } from '@fedtune/shared';
import { startTestFederation, tempDir } from '../helpers/federation.ts';

/**
 * modelDelivery 'http' over real socket.io and HTTP: 20 sites fetch every model version from
 * GET /api/v1/models/:version/weights instead of receiving it in the instruction. Same seed, same final
 * weights as socket delivery; far fewer bytes down the sockets; a tampered body is refused by the site.
 */
const SITES = 20;

async function run(modelDelivery: 'socket' | 'http'): Promise<{ report: RunReport; weights: Buffer; requests: number }> {
  let requests = 0;
  const { coordinator, siteRuns } = await startTestFederation({
    sites: SITES,
    rounds: 2,
    seed: 3,
    transport: 'socket',
    runsDir: tempDir(),
    maxSiteExamples: 40,
    holdoutExamples: 100,
    config: { runId: 'delivery', modelDelivery, federatedEvaluation: 'final' },
    siteOptions: () => ({
      modelFetch: (url, init) => {
        requests++;
        return fetch(url, init);
      },
    }),
  });
  const report = await coordinator.done;
  await Promise.all(siteRuns);
  await coordinator.close();
  return { report, weights: readFileSync(join(coordinator.runDir, report.final!.modelDir, 'weights.bin')), requests };
}

describe('model delivery over HTTP', () => {
  it('is refused on the in-memory transport (no HTTP server to fetch from)', async () => {
    await expect(startTestFederation({ sites: 1, rounds: 1, transport: 'memory', config: { modelDelivery: 'http' } })).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('socket transport') });
  });

  it('20 sites over socket.io: the same final weights as socket delivery, the model bytes off the sockets', async () => {
    const socket = await run('socket');
    const http = await run('http');
    expect(http.report.status).toBe('complete');
    expect(socket.requests).toBe(0);
    // Every fit (2 rounds × 20) and every final evaluation (20) fetched its version.
    expect(http.requests).toBe(SITES * 2 + SITES);
    for (const r of http.report.rounds) expect(r.accepted).toHaveLength(SITES);
    expect(http.weights.equals(socket.weights)).toBe(true);
    expect(http.report.final!.accuracy).toBe(socket.report.final!.accuracy);
    const modelBytes = socket.weights.byteLength; // ≈ the encoded model
    for (const [k, r] of http.report.rounds.entries()) {
      const s = socket.report.rounds[k];
      // Socket delivery sends the model to every selected site; http sends a ~150-byte reference.
      expect(s.bytesDown - r.bytesDown).toBeGreaterThan(SITES * modelBytes * 0.9);
      expect(r.bytesDown).toBeLessThan(s.bytesDown * 0.1);
      expect(r.bytesUp).toBe(s.bytesUp);
    }
  }, 300_000);

  it('a site refuses a body that does not hash to the instruction\'s sha-256 (model_integrity), the others go on', async () => {
    const failures: Array<{ siteId: string; code: string }> = [];
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 3,
      rounds: 1,
      seed: 4,
      transport: 'socket',
      maxSiteExamples: 40,
      holdoutExamples: 100,
      config: { runId: 'tampered', modelDelivery: 'http', federatedEvaluation: 'never', quorum: 0.5 },
      siteOptions: (siteId) =>
        siteId === 'site-2'
          ? {
              // A cache or proxy in the way that alters one byte and keeps the headers (ETag, length).
              modelFetch: async (url, init) => {
                const real = await fetch(url, init);
                const body = new Uint8Array(await real.arrayBuffer());
                body[body.length - 1] ^= 0x01;
                return new Response(body, { status: real.status, headers: real.headers });
              },
            }
          : {},
      onSiteEvent: (siteId, e: SiteEvent) => {
        if (e.type === 'failed') failures.push({ siteId, code: e.code });
      },
    });
    const report = await coordinator.done;
    await Promise.all(siteRuns);
    await coordinator.close();
    expect(failures).toEqual([{ siteId: 'site-2', code: 'model_integrity' }]);
    expect(report.status).toBe('complete');
    expect(report.rounds[0].accepted.map((a) => a.siteId)).toEqual(['site-1', 'site-3']);
    expect(report.rounds[0].failed.map((f) => f.siteId)).toEqual(['site-2']);
    expect(report.rounds[0].failed[0].reason).toContain('model_integrity');
  }, 300_000);
});
