#!/usr/bin/env node
// `npm run cluster:local -- [--nodes 3] [--base-port 8080] [--redis-port 6380] [coordinator flags…]`:
// a local coordinator cluster (docs/cluster.md): its own redis-server (no persistence) and N
// `fedtune coordinator --cluster` nodes on ports base-port…, sharing the runs directory runs-cluster/.
// Ends when the cluster's run ends (or on Ctrl-C), and stops the Redis it started.
// The nodes share a fresh cluster secret (HMAC on every inter-node message, docs/cluster.md#trust-and-deployment),
// written to runs-cluster/cluster.secret (mode 600) — unless the flags name one (--cluster-secret-file).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
function take(flag, fallback) {
  const i = args.indexOf(flag);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  args.splice(i, 2);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    console.error(`cluster-local: ${flag} takes a whole number, got "${String(args[i + 1] ?? '')}"`);
    process.exit(2);
  }
  return value;
}
const nodes = take('--nodes', 3);
const basePort = take('--base-port', 8080);
const redisPort = take('--redis-port', 6380);
if (nodes > 16) {
  console.error('cluster-local: at most 16 nodes');
  process.exit(2);
}
if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.error('cluster-local: redis-server is not installed (Debian/Ubuntu: apt-get install redis-server)');
  process.exit(1);
}
const fedtune = join(import.meta.dirname, '..', 'node_modules', '.bin', 'fedtune');
const children = [];
const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
children.push(redis);
await new Promise((resolve, reject) => {
  let out = '';
  redis.stdout.on('data', (d) => {
    out += d;
    if (/Ready to accept connections/.test(out)) resolve();
  });
  redis.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out.slice(-300)}`)));
}).catch((err) => {
  console.error(`cluster-local: ${err.message}`);
  process.exit(1);
});
redis.stdout.resume();
const redisUrl = `redis://127.0.0.1:${redisPort}`;
console.log(`cluster-local: Redis on ${redisUrl}`);
if (!args.some((a) => a === '--cluster-secret-file' || a.startsWith('--cluster-secret-file='))) {
  const secretFile = join('runs-cluster', 'cluster.secret');
  mkdirSync('runs-cluster', { recursive: true });
  writeFileSync(secretFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  args.push('--cluster-secret-file', secretFile);
  console.log(`cluster-local: the nodes share a fresh cluster secret (${secretFile}, mode 600)`);
}

function startNode(k) {
  const id = `node-${k}`;
  const child = spawn(fedtune, ['coordinator', '--cluster', redisUrl, '--node-id', id, '--port', String(basePort + k - 1), '--out', 'runs-cluster', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let listening;
  const ready = new Promise((r) => (listening = r));
  for (const [stream, out] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
    let rest = '';
    stream.on('data', (d) => {
      const lines = (rest + d).split('\n');
      rest = lines.pop();
      for (const line of lines) {
        out.write(`[${id}] ${line}\n`);
        if (/listening on http/.test(line)) listening();
      }
    });
  }
  child.once('exit', () => listening());
  return { child, ready, exited: new Promise((r) => child.once('exit', (code) => r(code))) };
}

const stop = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

// The first node starts alone: it creates the coordinator identity of the shared runs directory and takes the lease.
const started = [startNode(1)];
await started[0].ready;
for (let k = 2; k <= nodes; k++) started.push(startNode(k));
await Promise.all(started.map((n) => n.ready));
const urls = Array.from({ length: nodes }, (_, i) => `http://127.0.0.1:${basePort + i}`).join(',');
console.log(`cluster-local: ${nodes} nodes up; join with: npx fedtune client --server ${urls} --site NAME --data digits:1/2`);
const codes = await Promise.all(started.map((n) => n.exited));
redis.kill('SIGTERM');
process.exit(codes.every((c) => c === 0) ? 0 : 1);
