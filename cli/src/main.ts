import { loadCommands } from './commands/command-loaders.ts';
import { runProgram } from './run-program.ts';

// Only the subcommand this command line names is imported (cli/src/commands/command-loaders.ts).
await runProgram(() => loadCommands(process.argv.slice(2)));
