import type { Command } from 'commander';

/** Parses `argv` with a fresh `command` exactly as the CLI would, without running its action. */
export async function parseOnly(command: Command, argv: string[]): Promise<Command> {
  command.exitOverride();
  command.action(() => {});
  await command.parseAsync(argv, { from: 'user' });
  return command;
}

