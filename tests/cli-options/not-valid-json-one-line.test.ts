import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonSyntaxMessage, sitePolicyFromJson } from '@fedtune/shared';
import { readVocabulary } from '@fedtune/shared/node';
import { loadModelDir } from '@fedtune/coordinator';
import { readModelJsonMetadata } from '../../coordinator/src/model/model-json-metadata.ts';
import { parseRunConfigText } from '../../coordinator/src/config/run-config-file.ts';
import { readSweepRecord } from '../../cli/src/sweep/sweep-record.ts';
import { evaluateCommand } from '../../cli/src/commands/evaluate-command.ts';
import { tempDir } from '../helpers/federation.ts';

/**
 * Every "not valid JSON" error is one line: Node's JSON.parse message quotes the text it failed on, newlines and
 * all (`evaluate --model DIR` with a model.json that is not JSON printed the file's first lines).
 */

const dir = tempDir('fedtune-json-one-line-');
/** Text that is not JSON, with newlines (and an escape a terminal would act on) where Node quotes it. */
const broken = 'hello\n  world\n  \u001b[31m{\n}\n';

function brokenDir(name: string, file: string): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, file), broken);
  return d;
}

const oneLine = { message: expect.not.stringMatching(/[\n\r\u001b]/) };

describe('"not valid JSON" errors are one line', () => {
  it('jsonSyntaxMessage: control characters become spaces, clipped', () => {
    let cause: unknown;
    try {
      JSON.parse(broken);
    } catch (err) {
      cause = err;
    }
    expect((cause as Error).message).toContain('\n');
    expect(jsonSyntaxMessage(cause)).not.toMatch(/[\n\u001b]/);
    expect(jsonSyntaxMessage(cause)).toMatch(/is not valid JSON/);
    expect(jsonSyntaxMessage(new Error('x'.repeat(500))).length).toBeLessThan(260);
  });

  it('fedtune evaluate --model DIR whose model.json is not JSON: one config line naming the file', async () => {
    const model = brokenDir('model', 'model.json');
    writeFileSync(join(model, 'weights.bin'), new Uint8Array(4));
    const run = evaluateCommand().exitOverride().parseAsync(['--model', model, '--data', 'digits-holdout'], { from: 'user' });
    await expect(run).rejects.toMatchObject({ code: 'config', message: expect.stringContaining(`${join(model, 'model.json')} is not valid JSON: `) });
    await expect(evaluateCommand().exitOverride().parseAsync(['--model', model, '--data', 'digits-holdout'], { from: 'user' })).rejects.toMatchObject(oneLine);
    expect(() => readModelJsonMetadata(model)).toThrow(expect.objectContaining(oneLine));
    await expect(loadModelDir(model)).rejects.toMatchObject({ code: 'config', ...oneLine });
  });

  it('the vocabulary, a site policy, a run config file and a sweep record', () => {
    const vocab = brokenDir('vocab', 'vocab.json');
    expect(() => readVocabulary(vocab)).toThrow(expect.objectContaining({ code: 'config', ...oneLine }));
    expect(() => sitePolicyFromJson(broken, 'policy.json')).toThrow(expect.objectContaining({ code: 'config', ...oneLine }));
    expect(() => parseRunConfigText(broken, 'run.json', 'json')).toThrow(expect.objectContaining({ code: 'config', ...oneLine }));
    const sweep = brokenDir('sweep', 'sweep.json');
    expect(() => readSweepRecord(sweep)).toThrow(expect.objectContaining({ code: 'config', ...oneLine }));
  });
});
