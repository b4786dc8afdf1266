export * from './load-site-data.ts';
export * from './run-node-site.ts';
export * from './parallel/parallel-options.ts';
export * from './parallel/parallel-trainer.ts';
export * from './parallel/shard-speedup.ts';
export * from './fit-pool/fit-pool-options.ts';
export * from './fit-pool/fit-pool.ts';
export * from './site-audit-log.ts';
