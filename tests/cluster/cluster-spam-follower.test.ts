import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinSpam } from '@fedtune/shared/node';
import { tempDir } from '../helpers/federation.ts';
import { fedtune, fedtuneCoordinator } from '../helpers/fedtune-cli.ts';
import { clusterDescribeMode, startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const BLOCK_CORPUS = join(import.meta.dirname, '..', 'helpers', 'block-spam-corpus.cjs');

/** A site's text folder (ham/ and spam/ .txt e-mails from the spam pool). */
function writeTextFolder(dir: string, perClass = 8): string {
  const { pool } = builtinSpam();
  const site = join(dir, 'site-1');
  for (const [cls, name] of pool.classNames.entries()) {
    mkdirSync(join(site, name), { recursive: true });
    pool.texts.filter((_, i) => pool.labels[i] === cls).slice(0, perClass).forEach((text, i) => writeFileSync(join(site, name, `${i}.txt`), text));
  }
  return site;
}

function waitFor(lines: string[], pattern: RegExp, what: string, ms = 120_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (lines.some((l) => pattern.test(l))) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() - started > ms) {
        clearInterval(timer);
        reject(new Error(`no ${what} within ${ms} ms; lines: ${lines.slice(-10).join(' | ')}`));
      }
    }, 50);
  });
}

describe.runIf(clusterDescribeMode() === 'run')('a --task spam follower never reads the spam holdout (real node processes, real Redis)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it('without the SpamAssassin corpus a follower starts and relays a text site; it fails (one clear line, status 1) only when asked to lead', async () => {
    const dir = tempDir('fedtune-cluster-spam-');
    const common = ['--task', 'spam', '--port', '0', '--host', '127.0.0.1', '--out', join(dir, 'runs'), '--run-id', 'spam-cluster', '--rounds', '1', '--min-sites', '2', '--robustness', 'never', '--federated-eval', 'never', '--round-timeout', '60'];
    const leaderLines: string[] = [];
    const leader = fedtuneCoordinator(['--cluster', redis.url, '--node-id', 'node-1', ...common], { onLine: (l) => leaderLines.push(l) });
    const followerLines: string[] = [];
    let follower: ReturnType<typeof fedtuneCoordinator> | undefined;
    let site: ReturnType<typeof fedtune> | undefined;
    try {
      expect(await leader.url).toBeTruthy();
      await waitFor(leaderLines, /node node-1 leads run spam-cluster/, 'leadership of node-1');
      // The follower starts once node-1 leads, with the corpus out of its reach.
      follower = fedtuneCoordinator(['--cluster', redis.url, '--node-id', 'node-2', ...common], {
        env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${BLOCK_CORPUS}`.trim() },
        onLine: (l) => followerLines.push(l),
      });
      const followerUrl = await follower.url;
      expect(followerUrl, followerLines.join('\n')).toBeTruthy();
      // One text site joins through the follower: the leader sees it (relayed), and waits for a second.
      site = fedtune(['client', '--server', followerUrl!, '--site', 'mail-1', '--data', writeTextFolder(dir), '--privacy-ledger', join(dir, 'ledger.jsonl')]);
      const siteExit = site.done.then((e) => `site exited ${e.code}: ${e.stderr.slice(-300)}; follower: ${followerLines.slice(-8).join(' | ')}`);
      await Promise.race([waitFor(leaderLines, /site joined: mail-1/, 'relayed join of mail-1'), siteExit.then((why) => Promise.reject(new Error(why)))]);
      expect(followerLines.join('\n')).not.toMatch(/could not lead|datasets-spam-assassin/);

      // The leader dies: the follower takes the lease, needs the holdout and cannot read it.
      leader.kill();
      const exit = await follower.done;
      expect(exit.code).toBe(1);
      expect(exit.stdout).toMatch(/node node-2 took the leader lease/);
      const failure = exit.stdout.split('\n').filter((l) => /could not lead the run/.test(l));
      expect(failure).toEqual([expect.stringMatching(/^node node-2 could not lead the run: the spam task needs the npm package @stdlib\/datasets-spam-assassin/)]);
      expect(exit.stdout + exit.stderr).not.toMatch(/\n\s+at /);
    } finally {
      for (const n of [leader, follower, site]) n?.kill();
    }
  }, 300_000);
});
