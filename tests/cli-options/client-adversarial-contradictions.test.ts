import { describe, expect, it, vi } from 'vitest';
import type { runNodeSite } from '@fedtune/client-node';
import { clientCommand } from '../../cli/src/commands/client-command.ts';

type SiteOptions = Parameters<typeof runNodeSite>[0];

/** `fedtune client ARGV` with runNodeSite recorded (nothing is joined): the site's options, or the refusal at start. */
async function client(argv: string[]): Promise<SiteOptions> {
  let site: SiteOptions | undefined;
  const command = clientCommand({
    runNodeSite: (async (o: SiteOptions) => {
      site = o;
      return { completed: true, runId: 'recorded', roundsTrained: 0, complete: { rounds: 1 } };
    }) as unknown as typeof runNodeSite,
  });
  command.exitOverride();
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await command.parseAsync(['--server', 'http://127.0.0.1:1', '--site', 'site-1', '--data', 'digits:1/4', ...argv], { from: 'user' });
  } finally {
    log.mockRestore();
  }
  return site!;
}

describe("a site's adversarial flags that contradict each other are refused at start, before joining", () => {
  it('--trades-beta with --adv-method fgsm or pgd: one line naming --trades-beta', async () => {
    for (const method of ['fgsm', 'pgd']) {
      await expect(client(['--adv-method', method, '--trades-beta', '2'])).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(/^--trades-beta has no effect here: .*TRADES.*--adv-method trades/) });
    }
  });
  it('--adv-attack-loss with --adv-method trades: one line naming --adv-attack-loss', async () => {
    await expect(client(['--adv-method', 'trades', '--adv-attack-loss', 'margin'])).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(/^--adv-attack-loss has no effect here: /) });
  });
  it('the same flags with a method they fit, or without a method (the coordinator may have it), are accepted', async () => {
    expect((await client(['--adv-method', 'trades', '--trades-beta', '2'])).adversarial).toEqual({ method: 'trades', beta: 2 });
    expect((await client(['--trades-beta', '2'])).adversarial).toEqual({ beta: 2 });
    expect((await client(['--adv-method', 'pgd', '--adv-attack-loss', 'margin'])).adversarial).toEqual({ method: 'pgd', attackLoss: 'margin' });
  });
});
