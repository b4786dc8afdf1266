import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { describeError } from './ui/describe-error.ts';
import { unknownOptionsFirst } from './unknown-options-first.ts';

/** Prints one clear line for any error (the stack only with FEDTUNE_DEBUG=1) and sets a failing exit code. */
function fail(err: unknown): void {
  console.error(`fedtune: ${describeError(err)}`);
  if (process.env.FEDTUNE_DEBUG) console.error(err);
  process.exitCode = 1;
}

/**
 * Runs the `fedtune` program on process.argv with the subcommands `loadCommands` builds: the lazy
 * subcommand loader (cli/src/main.ts) or one bundled subcommand (scripts/build-bundles.mjs). Every error
 * ends as one line on stderr and a failing exit code.
 */
export async function runProgram(loadCommands: () => Promise<Command[]>): Promise<void> {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  // `fedtune dp-epsilon | head -1`: a closed pipe ends the output, not the process with a trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    });
  }
  process.on('unhandledRejection', (err) => {
    fail(err);
    process.exit(1);
  });
  process.on('uncaughtException', (err) => {
    fail(err);
    process.exit(1);
  });
  try {
    const program = new Command('fedtune')
      .description('federated fine-tuning of TensorFlow.js models')
      .version(version, '-V, --version', 'print the version');
    for (const command of await loadCommands()) program.addCommand(command);
    unknownOptionsFirst(program);
    await program.parseAsync(process.argv);
  } catch (err) {
    fail(err);
  }
  // The wasm runtime keeps no handles open, but socket.io timers can linger a moment: exit explicitly.
  setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
}
