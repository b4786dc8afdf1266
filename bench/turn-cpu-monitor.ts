import { closeSync, openSync, readSync } from 'node:fs';

/**
 * The main thread's CPU time in each long turn of the event loop, for bench/load.ts: a 2 ms interval timer reads
 * this thread's CPU clock (Linux /proc/thread-self/schedstat, nanoseconds on a CPU) at every tick, and a gap
 * between ticks longer than `minGapMs` is a turn that held the loop: its wall time and the CPU the thread spent
 * in it. Wall time waiting for a CPU (two cores shared with the sites' process, V8's helpers and the health
 * poller) is the machine's; the CPU is the coordinator's own work in that turn, which the load around it does not
 * inflate. The clock advances at context switches and at the scheduler's tick (4 ms here) on a thread that runs
 * without pause, so a turn's CPU is known to ±4 ms: enough for turns of tens of ms, and the only per-thread clock
 * Node 20 has (process.cpuUsage counts every thread and costs 0.1–1 ms a call here). Where /proc is missing,
 * `available` is false and nothing is recorded.
 */
export class TurnCpuMonitor {
  /** [start, end] in epoch ms, wall ms and main-thread CPU ms of every turn longer than minGapMs. */
  readonly turns: Array<{ at: number; end: number; wallMs: number; cpuMs: number }> = [];
  readonly available: boolean;
  private readonly fd: number | undefined;
  private readonly buf = Buffer.alloc(128);
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly minGapMs = 10) {
    let fd: number | undefined;
    try {
      fd = openSync('/proc/thread-self/schedstat', 'r');
    } catch {
      fd = undefined;
    }
    this.fd = fd;
    this.available = fd !== undefined;
  }

  private cpuMs(): number {
    const n = readSync(this.fd!, this.buf, 0, this.buf.length, 0);
    return Number(this.buf.toString('latin1', 0, n).split(' ')[0]) / 1e6;
  }

  start(): void {
    if (!this.available || this.timer) return;
    let wall = performance.timeOrigin + performance.now();
    let cpu = this.cpuMs();
    this.timer = setInterval(() => {
      const nowWall = performance.timeOrigin + performance.now();
      const nowCpu = this.cpuMs();
      if (nowWall - wall > this.minGapMs) this.turns.push({ at: wall, end: nowWall, wallMs: nowWall - wall, cpuMs: nowCpu - cpu });
      wall = nowWall;
      cpu = nowCpu;
    }, 2);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.fd !== undefined) closeSync(this.fd);
  }

  /**
   * The longest turn's main-thread CPU ms within each window [start, end] (epoch ms), less what `excluded` says
   * of the turn (ms of it that are not the code under test); 0 where no turn was long.
   */
  longestCpuIn(windows: ReadonlyArray<readonly [number, number]>, excluded: (turn: TurnCpuMonitor['turns'][number]) => number = () => 0): number[] {
    return windows.map(([a, b]) => this.turns.filter((t) => t.end >= a && t.at <= b).reduce((m, t) => Math.max(m, t.cpuMs - excluded(t)), 0));
  }
}
