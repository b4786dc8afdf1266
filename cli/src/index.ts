export * from './simulation/run-simulation.ts';
