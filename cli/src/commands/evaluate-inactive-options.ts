import type { Command } from 'commander';
import { FedtuneError } from '@fedtune/shared';
import { typedOnCommandLine } from './options.ts';

/** The flags typed on `command` among `flags`, as typed. */
const typed = (command: Command, flags: readonly string[]) => flags.filter((f) => typedOnCommandLine(command, f));

/** "--a", "--a and --b", "--a, --b and --c" */
const listed = (flags: readonly string[]) => (flags.length > 1 ? `${flags.slice(0, -1).join(', ')} and ${flags.at(-1)}` : flags[0]!);

/**
 * Refuses (FedtuneError 'config', one line) an attack's flag typed on `evaluate` while its attack is off ("none"):
 * it would do nothing, as the smoothing flags without --certify (`--adversarial-examples 0` is not refused: it says the same). `o` holds the parsed lists (false = none).
 */
export function refuseInactiveAttackOptions(command: Command, o: { fgsm: unknown; pgd: unknown; pgdL2: unknown; square: unknown; adversarialExamples: number }): void {
  const need = (flags: readonly string[], off: boolean, what: string) => {
    // `--adversarial-examples 0` says what every attack none does: no contradiction.
    const given = typed(command, flags).filter((f) => !(f === '--adversarial-examples' && o.adversarialExamples === 0));
    if (off && given.length) throw new FedtuneError('config', `${listed(given)} ${given.length > 1 ? 'need' : 'needs'} ${what}`);
  };
  const allOff = o.fgsm === false && o.pgd === false && o.pgdL2 === false && o.square === false;
  need(['--adversarial-examples', '--attack-loss', '--eps-units'], allOff, 'an attack: --fgsm, --pgd, --pgd-l2 or --square (every attack is none)');
  need(['--square-queries', '--square-p-init'], o.square === false, '--square');
  need(['--pgd-step-size'], o.pgd === false, '--pgd (PGD-L2 steps 2.5·ε/--pgd-steps)');
  need(['--pgd-steps'], o.pgd === false && o.pgdL2 === false, '--pgd or --pgd-l2');
}

/**
 * Refuses (FedtuneError 'config') the CSV-only flags of `evaluate` when `--data` is a built-in held-out set: they
 * would do nothing, as `client` refuses them on data that is not a CSV.
 */
export function refuseCsvFlagsOnBuiltinData(command: Command, data: string): void {
  const given = typed(command, ['--label-column', '--feature-columns', '--impute']);
  if (given.length) throw new FedtuneError('config', `${given[0]} reads a CSV: it has no effect on --data ${data}, a built-in held-out set`);
}
