import { afterEach, expect, it } from 'vitest';
import { canonicalHash } from '@fedtune/shared';
import { signed, siteAgainst, terms, until, type SiteRun } from './redteam-harness.ts';

const runs: SiteRun[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.close();
});

// The terms name the topology (its hash), so a coordinator can make it anything: a layer class name of 1 MB made
// a 'rejected' event (the site's log line "rejected by the coordinator: config — …") of 1 MB.
it('a topology with a 1 MB layer class name: what the site reports and logs of it stays bounded', async () => {
  const name = `Evil${'x'.repeat(1_000_000)}`;
  const topology = { class_name: 'Sequential', config: { name: 'm', layers: [{ class_name: name, config: { name: 'l', batch_input_shape: [null, 4] } }] } };
  const t = terms((x) => {
    x.model.topologyHash = canonicalHash(topology);
    x.model.parameters = 0;
  });
  const run = await siteAgainst(signed(t), (link) => {
    link.sendUnchecked('model', { runId: t.runId, modelVersion: 0, topology, manifest: [] });
  });
  runs.push(run);
  await until(() => run.events.some((e) => e.type === 'rejected' || e.type === 'failed'), 'the refusal');
  for (const e of run.events) {
    const text = JSON.stringify(e);
    expect(text.length, `${e.type}: ${text.slice(0, 200)}`).toBeLessThan(3_000);
  }
  for (const m of run.received) expect(JSON.stringify(m).length).toBeLessThan(3_000);
  // Still says why: the unknown layer, its name clipped.
  const rejected = run.events.find((e) => e.type === 'rejected');
  expect(rejected && 'reason' in rejected ? rejected.reason : '').toMatch(/^cannot build a model from the topology: Unknown layer: Evilx+… \(\d+ more characters\)$/);
}, 30_000);
