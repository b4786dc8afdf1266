export * from './backend/select-browser-backend.ts';
export * from './data/load-csv-file.ts';
export * from './data/load-image-folder.ts';
export * from './data/summarize.ts';
export * from './join-link.ts';
export * from './site-session.ts';
export * from './privacy/local-storage-privacy-ledger.ts';
