/** One step of `npm run build`: what it is built from, what it writes, when it was last built, how to build it. */
export interface BuildStep {
  name: string;
  /** Files and directories (scanned recursively, skipping dist/ and node_modules/) the step is built from. */
  inputs: string[];
  /** Files a finished build leaves; a missing one makes the step stale. */
  outputs: string[];
  /** A JSON file whose `builtAt` is the time the step's last build started. */
  stamp: string;
  /** Builds the step; false when it failed. */
  run: () => boolean;
}
/** The newest input under `path` (a file or a directory); undefined when nothing is there. */
export declare function newestInput(path: string): { mtimeMs: number; path: string } | undefined;
/** The build steps of the repository at `root`, in order. */
export declare function buildSteps(root: string): BuildStep[];
/** Why `step` must be built (a short reason naming the file), or undefined when its output is current. */
export declare function staleReason(root: string, step: BuildStep): string | undefined;
/** Builds what is stale (everything with `force`), step by step; returns false when a step failed (and stops there). */
export declare function build(root: string, options?: { force?: boolean; log?: (line: string) => void; steps?: BuildStep[] }): boolean;
/** Runs `fn` holding the checkout's build lock (`.build-lock`); a second build waits for the first, a lock of a process that is gone is taken over. */
export declare function withBuildLock<T>(root: string, log: (line: string) => void, fn: () => T, options?: { pollMs?: number }): T;
