export * from './load-site-data.ts';
export * from './run-node-site.ts';
