export * from './attack.ts';
export * from './collusion.ts';
export * from './registry.ts';
export * from './backdoor.ts';
export * from './alie.ts';
