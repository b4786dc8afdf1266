// The V8 flags every `fedtune` process runs with: the bin's shebang line passes them (`#!/usr/bin/env -S node
// …`; tests/startup/bin-node-flags.test.ts checks the two agree), and tools that start the bin with
// `node <flags> cli/bin/fedtune.mjs` (benchmarks, profiling) add them so they measure what ships.
//
// --single-threaded-gc: V8 collects garbage on the main thread instead of on four helper threads (parallel
// scavenge, concurrent marking and sweeping, parallel compaction). Measured on the coordinator (docs/cluster.md
// "Garbage collection"): with the helpers, V8 ran about four times as many full collections for the same
// allocation (marking raced ahead on the helpers and every cycle restarted at a low heap), and they cost a
// cluster leader a third of its CPU; on the main thread, the leader's CPU per round fell by a quarter, the
// single coordinator's by ~15 % per update, a `fedtune simulate`'s by ~4 % at the same wall time. V8 cannot
// change these flags once it runs (v8.setFlagsFromString aborts the process at the next collection), hence
// the shebang.
export const FEDTUNE_NODE_FLAGS = ['--single-threaded-gc'];
