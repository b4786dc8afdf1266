// tfjs-backend-wasm's Emscripten module adds process listeners that rethrow every uncaught exception and
// rejection: fatal (exit code 7) past the process's own handlers. fedtune removes them whichever way the backend
// starts (shared/src/wasm-kernels/wasm-backend-factory.ts). A test runner's worker that met a stray rejection
// after loading wasm died unreported ("Worker exited unexpectedly") instead of naming the error.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { dropProcessHandlersAddedBy, dropProcessHandlersOfBackend, FATAL_ERROR_EVENTS, WITHOUT_PROCESS_HANDLERS } from '../../shared/src/wasm-kernels/index.ts';
import { selectNodeBackend } from '../../shared/src/node/select-backend.ts';

/** `process` as a plain emitter: its typed overloads take one event name at a time. */
const events: NodeJS.EventEmitter = process;
const FIXTURE = join(import.meta.dirname, 'fixtures', 'stray-error-after-wasm.mts');

function run(how: string, stray: 'rejection' | 'exception') {
  return spawnSync(process.execPath, ['--import', 'tsx', FIXTURE, how, stray], { encoding: 'utf8', timeout: 60_000, cwd: join(import.meta.dirname, '..', '..') });
}

describe('a process that started tfjs-backend-wasm through fedtune survives a stray error its own handler takes', () => {
  it.each([
    ['select', 'rejection'],
    ['set', 'exception'],
    ['implicit', 'rejection'],
    ['implicit', 'exception'],
  ] as const)('started by %s, a stray %s: no listener added, the handler sees it, the process lives on', (how, stray) => {
    const r = run(how, stray);
    expect(r.stdout, r.stderr).toContain('backend wasm; listeners added 0');
    expect(r.stdout).toContain(`handled: a stray ${stray}`);
    expect(r.stdout).toContain('alive');
    expect(r.status, r.stderr).toBe(0);
  });

  it('the control: tfjs-backend-wasm started as tfjs ships it adds two listeners, and the same stray rejection kills the process (exit 7)', () => {
    const r = run('stock', 'rejection');
    expect(r.stdout, r.stderr).toContain('backend wasm; listeners added 2');
    expect(r.stdout).not.toContain('alive');
    expect(r.status).toBe(7);
  });
});

describe('in this process', () => {
  it('selectNodeBackend leaves the process listeners as they were; the factory is replaced once, at the same priority', async () => {
    const before = FATAL_ERROR_EVENTS.map((e) => events.listeners(e));
    await selectNodeBackend('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(FATAL_ERROR_EVENTS.map((e) => events.listeners(e))).toEqual(before);
    expect(dropProcessHandlersOfBackend('wasm'), 'already replaced, and started').toBe(false);
    const registries = tf.engine() as unknown as { registryFactory: Record<string, { priority: number; factory: unknown }> };
    expect(registries.registryFactory.wasm.priority).toBe(2);
    // The mark a second copy of the module (a bundle, a worker) reads, under its global name.
    expect((registries.registryFactory.wasm.factory as Record<symbol, unknown>)[Symbol.for('fedtune.backendFactoryWithoutProcessHandlers')]).toBe(true);
    expect(WITHOUT_PROCESS_HANDLERS).toBe(Symbol.for('fedtune.backendFactoryWithoutProcessHandlers'));
  });
});

describe('dropProcessHandlersOfBackend, on a backend of its own whose start adds both listeners', () => {
  const registries = () => tf.engine() as unknown as { registry: Record<string, unknown>; registryFactory: Record<string, { priority: number; factory: () => unknown } | undefined> };
  let added: Array<() => void> = [];
  const register = (name: string, priority: number) => {
    tf.registerBackend(
      name,
      () => {
        const listeners = [() => undefined, () => undefined];
        events.on('uncaughtException', listeners[0]);
        events.on('unhandledRejection', listeners[1]);
        added.push(...listeners);
        return { started: name } as unknown as tf.KernelBackend;
      },
      priority,
    );
  };
  afterEach(() => {
    for (const l of added) for (const e of FATAL_ERROR_EVENTS) events.off(e, l);
    added = [];
  });

  it('none registered under the name: nothing replaced', () => {
    expect(dropProcessHandlersOfBackend('no-such-backend')).toBe(false);
  });

  it('replaces the factory once, at its priority; the backend then starts without leaving a listener', async () => {
    const name = 'listener-adding-1';
    register(name, 7);
    const stock = registries().registryFactory[name]!.factory;
    expect(dropProcessHandlersOfBackend(name)).toBe(true);
    const entry = registries().registryFactory[name]!;
    expect(entry.factory).not.toBe(stock);
    expect(entry.priority).toBe(7);
    expect(dropProcessHandlersOfBackend(name), 'already replaced').toBe(false);
    expect(registries().registryFactory[name]!.factory).toBe(entry.factory);
    const before = FATAL_ERROR_EVENTS.map((e) => events.listeners(e).length);
    // The factory as tfjs calls it when the backend starts: the stock one's backend comes back.
    expect(await (entry.factory() as Promise<unknown>)).toEqual({ started: name });
    expect(added).toHaveLength(2);
    expect(FATAL_ERROR_EVENTS.map((e) => events.listeners(e).length)).toEqual(before);
    tf.removeBackend(name);
  });

  it('a backend that has started already: too late, nothing replaced', async () => {
    const name = 'listener-adding-2';
    register(name, 1);
    const stock = registries().registryFactory[name]!.factory;
    registries().registry[name] = {}; // as tfjs records a started backend
    try {
      expect(dropProcessHandlersOfBackend(name)).toBe(false);
      expect(registries().registryFactory[name]!.factory).toBe(stock);
    } finally {
      delete registries().registry[name];
      tf.removeBackend(name);
    }
  });
});

describe('dropProcessHandlersAddedBy', () => {
  const mine = () => undefined;
  it.each(FATAL_ERROR_EVENTS)('removes the %s listeners the start added, keeps the ones there before, returns its result', async (event) => {
    events.on(event, mine);
    const added = [() => undefined, () => undefined];
    try {
      const result = await dropProcessHandlersAddedBy(async () => {
        for (const l of added) events.on(event, l);
        return 42;
      });
      expect(result).toBe(42);
      const now = events.listeners(event);
      expect(now).toContain(mine);
      for (const l of added) expect(now).not.toContain(l);
    } finally {
      events.off(event, mine);
      for (const l of added) events.off(event, l);
    }
  });

  it('removes them when the start fails too, and passes its error on', async () => {
    const added = () => undefined;
    try {
      await expect(
        dropProcessHandlersAddedBy(async () => {
          process.on('unhandledRejection', added);
          throw new Error('the backend did not start');
        }),
      ).rejects.toThrow('the backend did not start');
      expect(process.listeners('unhandledRejection')).not.toContain(added);
    } finally {
      process.off('unhandledRejection', added);
    }
  });

  it('leaves listeners of other events alone', async () => {
    const onExit = () => undefined;
    try {
      await dropProcessHandlersAddedBy(async () => void process.on('beforeExit', onExit));
      expect(process.listeners('beforeExit')).toContain(onExit);
    } finally {
      process.off('beforeExit', onExit);
    }
  });

  it('without a Node process (a browser), only runs the start', async () => {
    const saved = globalThis.process;
    const added = () => undefined;
    let listenersAfter: unknown[] = [];
    try {
      // The start registers through the saved process object while the global is absent, as nothing in a browser could.
      (globalThis as { process?: unknown }).process = undefined;
      const result = await dropProcessHandlersAddedBy(async () => {
        saved.on('uncaughtException', added);
        return 'ran';
      });
      (globalThis as { process?: unknown }).process = saved;
      listenersAfter = saved.listeners('uncaughtException');
      expect(result).toBe('ran');
      expect(listenersAfter).toContain(added);
    } finally {
      (globalThis as { process?: unknown }).process = saved;
      saved.off('uncaughtException', added);
    }
  });
});
