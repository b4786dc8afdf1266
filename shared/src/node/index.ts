export * from './select-backend.ts';
export * from './load-digits.ts';
export * from './read-csv-dataset.ts';
export * from './write-csv-dataset.ts';
export * from './write-file-atomic.ts';
export * from './builtin-digits.ts';
export * from './spawn-module-worker.ts';
