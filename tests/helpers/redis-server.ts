import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** Whether the cluster tests run: 'run' with redis-server, 'skip' without it locally, 'fail' without it under CI. */
export function redisTestMode(env: NodeJS.ProcessEnv = process.env, present = redisServerPresent()): 'run' | 'skip' | 'fail' {
  if (present) return 'run';
  return env.CI ? 'fail' : 'skip';
}

export function redisServerPresent(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A free TCP port on loopback (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  port: number;
  url: string;
  child: ChildProcess;
  /** SIGKILLs the server and waits for it to exit. */
  kill(): Promise<void>;
}

/** Spawns `redis-server` on `port` (a free one by default) with no persistence; resolves once it accepts connections. */
export async function startRedisServer(port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort());
  const child = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out.slice(-500)}`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${out.slice(-500)}`));
    });
  });
  child.stdout!.resume();
  // A test worker that dies (or exits without its afterAll) leaves no redis-server behind.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    child,
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

/** `describe` for cluster tests: skipped with a message locally without redis-server; under CI a missing redis-server fails. */
export function clusterDescribeMode(): 'run' | 'skip' {
  const mode = redisTestMode();
  if (mode === 'fail') throw new Error('redis-server is not installed, and CI must run the cluster tests (.ci/run installs it)');
  if (mode === 'skip') console.warn('cluster tests skipped: redis-server is not installed (apt-get install redis-server)');
  return mode;
}
