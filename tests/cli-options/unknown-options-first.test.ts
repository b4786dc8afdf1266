import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { unknownOptionsFirst } from '../../cli/src/unknown-options-first.ts';
import { fedtune } from '../helpers/fedtune-cli.ts';

/** A typo'd flag is named before a required option it leaves missing (a new user's `fedtune client --sever …`). */
function parse(argv: string[]): string {
  const program = new Command('p').exitOverride().configureOutput({ writeErr: () => {} });
  program.addCommand(new Command('client').exitOverride().configureOutput({ writeErr: () => {} }).requiredOption('--server <url>').option('--site <id>').action(() => {}));
  unknownOptionsFirst(program);
  try {
    program.parse(argv, { from: 'user' });
    return 'ok';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('unknown options before missing required ones', () => {
  it.each([
    [['client', '--sever', 'http://x', '--site', 's'], "error: unknown option '--sever'\n(Did you mean --server?)"],
    [['client', '--site', 's', '--bogus'], "error: unknown option '--bogus'"],
    [['client', '--server', 'http://x', '--site', 's'], 'ok'],
    [['client', '--server', 'http://x', '--sitte', 's'], "error: unknown option '--sitte'\n(Did you mean --site?)"],
  ])('%j → %s', (argv, message) => {
    expect(parse(argv)).toBe(message);
  });

  it('the real fedtune client: --server and --site are needed to join, not to check the data (--check-only)', { timeout: 60_000 }, async () => {
    const noServer = await fedtune(['client', '--site', 's1', '--data', 'digits:1/2']).done;
    expect(noServer.code).toBe(1);
    expect(noServer.stderr).toContain("required option '--server <url>' not specified");
    const noSite = await fedtune(['client', '--server', 'http://127.0.0.1:9', '--data', 'digits:1/2']).done;
    expect(noSite.code).toBe(1);
    expect(noSite.stderr).toContain("required option '--site <name>' not specified");
    const check = await fedtune(['client', '--data', 'digits:1/2', '--check-only']).done;
    expect(check.code, check.stderr).toBe(0);
    expect(check.stderr).not.toMatch(/required option/);
  });

  it('the real fedtune client names the typo', { timeout: 60_000 }, async () => {
    const exit = await fedtune(['client', '--sever', 'http://127.0.0.1:9', '--site', 's1', '--data', 'digits:1/2']).done;
    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/^error: unknown option '--sever'\n\(Did you mean --server\?\)/);
  });
});
