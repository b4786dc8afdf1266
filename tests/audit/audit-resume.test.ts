import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyAuditChain } from '@fedtune/shared';
import { builtinDigitsSites, writeCsvDataset } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';
import { fedtune } from '../helpers/fedtune-cli.ts';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

describe('the audit log of a coordinator killed with SIGKILL and resumed', () => {
  it('refuses to continue a tampered chain (file left as it was), then continues the intact one whose last line a crash cut short (moved aside, recorded): one chain, and the sites\' own logs (--audit-log) match', async () => {
    const dir = tempDir('fedtune-audit-resume-');
    const data = builtinDigitsSites({ sites: 2, partition: { kind: 'iid' }, seed: 5 });
    for (const [k, name] of ['site-1', 'site-2'].entries()) await writeCsvDataset(join(dir, `${name}.csv`), head(data[k], 120));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const runs = join(dir, 'runs');
    const runId = 'audited';
    const coordinator = ['coordinator', '--port', String(port), '--host', '127.0.0.1', '--out', runs];
    let killed = false;
    const first = fedtune([...coordinator, '--run-id', runId, '--rounds', '3', '--min-sites', '2', '--seed', '5', '--federated-eval', 'never'], (line, child) => {
      if (!killed && /^\s+1\s+\d/.test(line)) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    const sites = ['site-1', 'site-2'].map((name) => fedtune(['client', '--server', url, '--site', name, '--data', join(dir, `${name}.csv`), '--audit-log', join(dir, `${name}.audit.jsonl`)]).done);
    expect((await first.done).signal).toBe('SIGKILL');
    const path = join(runs, runId, 'audit.jsonl');
    const before = readFileSync(path, 'utf8');
    const intact = verifyAuditChain(before);
    expect(intact.ok).toBe(true);

    // A chain broken while the coordinator was down: the resume stops with one clear line and rewrites nothing.
    const lines = before.split('\n');
    const tampered = [...lines.slice(0, 1), ...lines.slice(2)].join('\n');
    writeFileSync(path, tampered);
    const refused = await fedtune([...coordinator, '--resume', runId]).done;
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split("\n"), refused.stderr).toHaveLength(1);
    expect(refused.stderr).toContain(`the run's audit log ${path} is broken, so its chain cannot be continued: audit log broken at line 2 (seq 2): seq 2 where 1 was expected`);
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(path, 'utf8')).toBe(tampered);

    // The intact chain is continued — after a crash had cut its last line short (a batch written, not fsync'd, when
    // the power went): the tail is moved aside and the recovery recorded, not a refusal (every failover would stop).
    const torn = '{"seq":' + String(intact.ok ? intact.count : 0) + ',"at":"2026-';
    writeFileSync(path, before + torn);
    const resumed = await fedtune([...coordinator, '--resume', runId]).done;
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(resumed.stdout + resumed.stderr).toContain(`the audit log's last line was cut short by a crash (${torn.length} bytes after seq ${intact.ok ? intact.count - 1 : -1}): moved aside to audit.jsonl.torn-${intact.ok ? intact.count : 0}, and recorded in the log`);
    expect(readFileSync(join(runs, runId, `audit.jsonl.torn-${intact.ok ? intact.count : 0}`), 'utf8')).toBe(torn);
    for (const s of await Promise.all(sites)) expect(s.code, s.stdout + s.stderr).toBe(0);
    const after = readFileSync(path, 'utf8');
    expect(after.startsWith(before)).toBe(true);
    const chain = verifyAuditChain(after);
    expect(chain.ok).toBe(true);
    if (!chain.ok || !intact.ok) return;
    const starts = chain.good.filter((e) => e.type === 'run-start');
    expect(starts.map((e) => e.data.resumedAfterRound)).toEqual([undefined, 1]);
    const recovery = chain.good[intact.count];
    expect(recovery).toMatchObject({ type: 'recovery', prev: intact.head, data: { reason: 'torn-tail', action: 'moved-aside', bytes: torn.length } });
    expect(starts[1].prev).toBe(recovery.hash);
    expect(chain.good.filter((e) => e.type === 'model').map((e) => e.data.round)).toEqual([1, 2, 3]);
    expect(chain.good.at(-1)).toMatchObject({ type: 'complete', data: { status: 'complete', rounds: 3 } });

    const verified = await fedtune(['audit', 'verify', path, '--site-log', join(dir, 'site-1.audit.jsonl'), '--site-log', join(dir, 'site-2.audit.jsonl'), '--head', intact.head]).done;
    // 3 rounds × 2 sites, plus the update of a site that had already sent round 2 when the coordinator was killed
    // (it sends round 2 again after the resume: both are in its log and in the chain), at most one per site.
    const m = /^OK: (\d+) entries, head ([0-9a-f]+), run (\S+); 2 site logs match \((\d+) updates\)$/.exec(verified.stdout.trim());
    expect(m, verified.stdout).not.toBeNull();
    expect([Number(m![1]), m![2], m![3]]).toEqual([chain.count, chain.head, runId]);
    expect(Number(m![4])).toBeGreaterThanOrEqual(6);
    expect(Number(m![4])).toBeLessThanOrEqual(8);
    expect(verified.code).toBe(0);
  }, 300_000);
});
