import type { Command } from 'commander';

/**
 * Every `fedtune` subcommand, in help order, each imported only when a command line needs it: `fedtune
 * client` loads the client's module graph alone — no coordinator server, fastify, SQLite or simulation
 * (docs/performance.md#fast-start).
 */
export const COMMAND_LOADERS: Readonly<Record<string, () => Promise<Command>>> = Object.freeze({
  simulate: async () => (await import('./simulate-command.ts')).simulateCommand(),
  sweep: async () => (await import('./sweep-command.ts')).sweepCommand(),
  'dp-epsilon': async () => (await import('./dp-epsilon-command.ts')).dpEpsilonCommand(),
  coordinator: async () => (await import('./coordinator-command.ts')).coordinatorCommand(),
  client: async () => (await import('./client-command.ts')).clientCommand(),
  worker: async () => (await import('./worker-command.ts')).workerCommand(),
  sites: async () => (await import('./sites-command.ts')).sitesCommand(),
  'admin-token': async () => (await import('./admin-token-command.ts')).adminTokenCommand(),
  pretrain: async () => (await import('./pretrain-command.ts')).pretrainCommand(),
  partition: async () => (await import('./partition-command.ts')).partitionCommand(),
  evaluate: async () => (await import('./evaluate-command.ts')).evaluateCommand(),
  audit: async () => (await import('./audit-command.ts')).auditCommand(),
});

/**
 * The subcommands a command line (the arguments after `fedtune`) needs: the one it names (`client …`,
 * `help client`), or all of them when it names none (`--help`, `--version`, no arguments, or a name
 * commander answers with "unknown command" and a suggestion).
 */
export function commandsFor(args: readonly string[]): string[] {
  const first = args.findIndex((a) => !a.startsWith('-'));
  const name = args[first] === 'help' ? args[first + 1] : args[first];
  return name !== undefined && Object.hasOwn(COMMAND_LOADERS, name) ? [name] : Object.keys(COMMAND_LOADERS);
}

/** The commands `args` needs, built (their modules imported) in help order. */
export async function loadCommands(args: readonly string[]): Promise<Command[]> {
  return Promise.all(commandsFor(args).map((name) => COMMAND_LOADERS[name]()));
}
