import { describe, expect, it } from 'vitest';
import { runEndLine } from '../../cli/src/commands/client-command.ts';

describe("fedtune client's last line when the coordinator ends the run", () => {
  it('complete: rounds, rounds trained here, the global accuracy', () => {
    expect(runEndLine('r1', { runId: 'r1', rounds: 5, final: { accuracy: 0.812, loss: 0.5 } }, 4)).toBe('run r1 complete after 5 rounds (4 trained here); global accuracy 81.2%');
  });

  it('aborted by the coordinator: never "complete", with its reason on one bounded line', () => {
    const line = runEndLine('r1', { runId: 'r1', rounds: 251, aborted: 'stopped' }, 251);
    expect(line).toBe('run r1 stopped by the coordinator after 251 rounds (stopped; 251 trained here)');
    expect(line).not.toMatch(/complete/);
    const hostile = runEndLine('r1', { runId: 'r1', rounds: 3, aborted: `evil\n\u001b[31mred${'x'.repeat(5000)}` }, 1);
    expect(hostile).not.toMatch(/[\n\u001b]/);
    expect(hostile.length).toBeLessThan(300);
  });
});
