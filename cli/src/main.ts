import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { describeError } from './ui/describe-error.ts';
import { clientCommand } from './commands/client-command.ts';
import { coordinatorCommand } from './commands/coordinator-command.ts';
import { partitionCommand } from './commands/partition-command.ts';
import { pretrainCommand } from './commands/pretrain-command.ts';
import { simulateCommand } from './commands/simulate-command.ts';
import { dpEpsilonCommand } from './commands/dp-epsilon-command.ts';
import { evaluateCommand } from './commands/evaluate-command.ts';
import { sitesCommand } from './commands/sites-command.ts';
import { adminTokenCommand } from './commands/admin-token-command.ts';
import { sweepCommand } from './commands/sweep-command.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('fedtune')
  .description('federated fine-tuning of TensorFlow.js models')
  .version(version, '-V, --version', 'print the version')
  .addCommand(simulateCommand())
  .addCommand(sweepCommand())
  .addCommand(dpEpsilonCommand())
  .addCommand(coordinatorCommand())
  .addCommand(clientCommand())
  .addCommand(sitesCommand())
  .addCommand(adminTokenCommand())
  .addCommand(pretrainCommand())
  .addCommand(partitionCommand())
  .addCommand(evaluateCommand());

/** Prints one clear line for any error (the stack only with FEDTUNE_DEBUG=1) and sets a failing exit code. */
function fail(err: unknown): void {
  console.error(`fedtune: ${describeError(err)}`);
  if (process.env.FEDTUNE_DEBUG) console.error(err);
  process.exitCode = 1;
}

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
  await program.parseAsync(process.argv);
} catch (err) {
  fail(err);
}
// The wasm runtime keeps no handles open, but socket.io timers can linger a moment: exit explicitly.
setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
