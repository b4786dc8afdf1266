import type { Command } from 'commander';

/** Parses `argv` with a fresh `command` exactly as the CLI would, without running its action. */
export async function parseOnly(command: Command, argv: string[]): Promise<Command> {
  command.exitOverride();
  command.action(() => {});
  await command.parseAsync(argv, { from: 'user' });
  return command;
}

/** The long flags of a command's options (what a user can type). */
export function longFlags(command: Command): string[] {
  return command.options.map((o) => o.long!).filter(Boolean);
}
