import { describe, expect, it } from 'vitest';
import { runEndLine, siteEndLine } from '../../cli/src/commands/client-command.ts';

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

describe("fedtune client's last line when it stops before the run ends", () => {
  it('never joined (the coordinator unreachable): says so, not "connection closed before the run completed"', () => {
    expect(siteEndLine({ completed: false, roundsTrained: 0, reason: 'cannot connect to http://127.0.0.1:1: websocket error (connect ECONNREFUSED 127.0.0.1:1)' })).toEqual({
      ok: false,
      line: 'gave up without joining a run: cannot connect to http://127.0.0.1:1: websocket error (connect ECONNREFUSED 127.0.0.1:1)',
    });
  });

  it('joined, then cut off: the connection closed before the run completed', () => {
    expect(siteEndLine({ completed: false, runId: 'r1', roundsTrained: 2, reason: 'transport close' })).toEqual({ ok: false, line: 'connection closed before the run completed: transport close' });
  });

  it('left by itself (its data does not fit the run\'s model): the reason is the line, not a closed connection', () => {
    const reason = "left the run: this site's data does not fit the run's model (two's data has 2 features per example (shape [2]) but the model expects 784)";
    expect(siteEndLine({ completed: false, runId: 'r1', roundsTrained: 0, reason })).toEqual({ ok: false, line: reason });
  });

  it('the run ended: complete (ok) or stopped by the coordinator', () => {
    expect(siteEndLine({ completed: true, runId: 'r1', roundsTrained: 1, complete: { runId: 'r1', rounds: 1 } })).toEqual({ ok: true, line: 'run r1 complete after 1 rounds (1 trained here)' });
    expect(siteEndLine({ completed: true, runId: 'r1', roundsTrained: 1, complete: { runId: 'r1', rounds: 1, aborted: 'stopped' } }).line).toMatch(/^run r1 stopped by the coordinator/);
  });
});
