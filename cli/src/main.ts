import { Command, InvalidArgumentError } from 'commander';
import { isFedtuneError } from '@fedtune/shared';
import { clientCommand } from './commands/client-command.ts';
import { coordinatorCommand } from './commands/coordinator-command.ts';
import { partitionCommand } from './commands/partition-command.ts';
import { pretrainCommand } from './commands/pretrain-command.ts';
import { simulateCommand } from './commands/simulate-command.ts';
import { dpEpsilonCommand } from './commands/dp-epsilon-command.ts';
import { evaluateCommand } from './commands/evaluate-command.ts';
import { sitesCommand } from './commands/sites-command.ts';
import { adminTokenCommand } from './commands/admin-token-command.ts';

const program = new Command('fedtune')
  .description('federated fine-tuning of TensorFlow.js models')
  .addCommand(simulateCommand())
  .addCommand(dpEpsilonCommand())
  .addCommand(coordinatorCommand())
  .addCommand(clientCommand())
  .addCommand(sitesCommand())
  .addCommand(adminTokenCommand())
  .addCommand(pretrainCommand())
  .addCommand(partitionCommand())
  .addCommand(evaluateCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (isFedtuneError(err)) {
    console.error(`fedtune: ${err.code}: ${err.message}`);
  } else if (err instanceof InvalidArgumentError) {
    console.error(`fedtune: ${err.message}`);
  } else {
    console.error(err);
  }
  process.exitCode = 1;
}
// The wasm runtime keeps no handles open, but socket.io timers can linger a moment: exit explicitly.
setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
