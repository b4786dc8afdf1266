export * from './embedding-split.ts';
export * from './candidate-table.ts';
export * from './word-substitution-attack.ts';
export * from './text-attack-report.ts';
export * from './evaluate-text-attack.ts';
export * from './greedy-substitution-attack.ts';
