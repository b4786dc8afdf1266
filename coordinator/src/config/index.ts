// `@fedtune/coordinator/config`: the run configuration alone — its schema and defaults, config files and
// how layers merge — for what needs the run's settings without the coordinator's server (the CLI's flags,
// `fedtune client`): it loads zod, yaml and @fedtune/shared, never fastify, socket.io or SQLite.
export * from '../engine/run-config.ts';
export * from './run-config-file.ts';
export { DpConfig } from '../engine/dp-aggregation.ts';
export * from './inactive-run-config.ts';
