/**
 * The `fedtune` CLI as it started before issue 14 (bench/startup.ts's baseline): every subcommand's module
 * graph imported up front — coordinator, fastify, SQLite, simulation — and the TypeScript sources run
 * through tsx. Run: `node --import tsx bench/startup-eager-cli.ts <command> [options]`.
 */
import { COMMAND_LOADERS } from '../cli/src/commands/command-loaders.ts';

await Promise.all(Object.values(COMMAND_LOADERS).map((load) => load()));
await import('../cli/src/main.ts');
