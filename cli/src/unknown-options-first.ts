import type { Command } from 'commander';

/**
 * Makes `command` (and its subcommands) name an unknown option before a missing required one. Commander checks
 * the required options first, so `fedtune client --sever URL …` said "required option '--server <url>' not
 * specified" and never mentioned the typo; now it says "unknown option '--sever' (Did you mean --server?)".
 * Commander leaves the unparsed options in `command.args` when it checks.
 */
/** The two methods of Command this relies on (in commander's code, left out of its typings). */
interface CommandErrors {
  missingMandatoryOptionValue(option: unknown): never;
  unknownOption(flag: string): never;
}

export function unknownOptionsFirst(command: Command): void {
  const errors = command as unknown as CommandErrors;
  const missing = errors.missingMandatoryOptionValue.bind(command);
  errors.missingMandatoryOptionValue = (option) => {
    const unknown = command.args.find((arg) => arg.startsWith('-') && arg !== '-');
    if (unknown !== undefined) errors.unknownOption(unknown);
    return missing(option);
  };
  for (const sub of command.commands) unknownOptionsFirst(sub);
}
