import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRunConfigFile, mergeRunConfig, parseRunConfigText, runConfigDefaults } from '@fedtune/coordinator';
import { tempDir } from './helpers.ts';

function file(name: string, text: string): string {
  const path = join(tempDir(), name);
  writeFileSync(path, text);
  return path;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect((err as { code?: string }).code).toBe('config');
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('run configuration files', () => {
  it('loads YAML and JSON; defaults < file < flags, nested train merged field by field', () => {
    const yamlPath = file('run.yaml', ['runId: from-file', 'rounds: 5', 'strategy: fedavgm', 'strategyOptions:', '  beta: 0.9', 'train:', '  epochs: 3', '  optimizer: sgd', ''].join('\n'));
    const jsonPath = file('run.json', JSON.stringify({ runId: 'from-file', rounds: 5, strategy: 'fedavgm', strategyOptions: { beta: 0.9 }, train: { epochs: 3, optimizer: 'sgd' } }));
    for (const path of [yamlPath, jsonPath]) {
      const loaded = loadRunConfigFile(path);
      const config = mergeRunConfig(loaded, { rounds: 7, train: { learningRate: 0.01 }, seed: undefined });
      expect(config).toEqual({
        ...runConfigDefaults(),
        runId: 'from-file',
        rounds: 7,
        strategy: 'fedavgm',
        strategyOptions: { beta: 0.9 },
        train: { ...runConfigDefaults().train, epochs: 3, optimizer: 'sgd', learningRate: 0.01 },
      });
    }
    expect(mergeRunConfig(undefined, { runId: 'only-flags' })).toEqual({ ...runConfigDefaults(), runId: 'only-flags' });
    expect(mergeRunConfig(parseRunConfigText('', 'empty.yaml'), { runId: 'x' }).rounds).toBe(10);
  });

  it('a wrong type names the file, line, field path and problem', () => {
    const path = file('run.yaml', ['runId: r', 'rounds: five', 'train:', '  epochs: 0', '  trainable: some', ''].join('\n'));
    const message = errorOf(() => loadRunConfigFile(path));
    expect(message).toContain(`${path}:2:9: rounds: expected number, received string (got "five")`);
    expect(message).toContain(`${path}:4:11: train.epochs: Too small: expected number to be >=1 (got 0)`);
    expect(message).toContain(`${path}:5:14: train.trainable: expected one of: "all" | "head" | number (got "some")`);
  });

  it('unknown fields are refused with a suggestion, together with the other problems', () => {
    const message = errorOf(() => loadRunConfigFile(file('run.json', JSON.stringify({ runId: 'r', round: 3, train: { epoch: 2 }, seed: -1 }))));
    expect(message).toMatch(/run\.json: seed: Too small/);
    expect(message).toMatch(/run\.json: round: unknown field \(did you mean "rounds"\?\)/);
    expect(message).toMatch(/run\.json: train\.epoch: unknown field \(did you mean "epochs"\?\)/);
  });

  it('syntax errors, a non-mapping and a missing file are reported against the file', () => {
    expect(errorOf(() => loadRunConfigFile(file('bad.json', '{\n  "rounds": 3,\n}')))).toMatch(/bad\.json:3:1: not valid JSON/);
    expect(errorOf(() => loadRunConfigFile(file('bad.yaml', 'rounds: 3\nrounds: 4\n')))).toMatch(/bad\.yaml: not valid YAML: Map keys must be unique at line 2/);
    expect(errorOf(() => loadRunConfigFile(file('list.yaml', '- 1\n- 2\n')))).toMatch(/list\.yaml: a run configuration must be a mapping of fields \(got a list\)/);
    expect(errorOf(() => loadRunConfigFile('/nonexistent/run.yaml'))).toBe('/nonexistent/run.yaml: cannot read the run configuration: no such file');
  });

  it('merge errors say whether the bad value came from the command line or the file, and what is missing', () => {
    const loaded = loadRunConfigFile(file('run.yaml', 'rounds: 3\nfraction: 0.5\n'));
    const missing = errorOf(() => mergeRunConfig(loaded, {}, { flagNames: { runId: '--run-id' } }));
    expect(missing).toContain('runId: required (set "runId" in the config file or pass --run-id)');
    const flagged = errorOf(() => mergeRunConfig(loaded, { runId: 'r', quorum: 2 }, { flagNames: { quorum: '--quorum' } }));
    expect(flagged).toContain('command line --quorum: quorum: Too big: expected number to be <=1 (got 2)');
    // A bad value from a plain object (no file) is attributed to the config.
    expect(errorOf(() => mergeRunConfig({ runId: 'r', minSites: -1 }, {}))).toContain('config: minSites:');
  });
});
