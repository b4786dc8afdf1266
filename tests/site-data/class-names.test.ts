import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { readSiteData } from '@fedtune/client-node';
import { alignClassNames, alignLabels, alignSiteData, classesRefusal, countsInRunOrder, MAX_RUN_CLASSES, ModelTopology, RunClassNames, RunTerms, siteClassesOf, type Splits } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { runClassNamesOf } from '../../coordinator/src/run/run-class-names.ts';
import { classesAlignedLine } from '../../cli/src/commands/client-command.ts';
import { tempDir } from '../helpers/federation.ts';

const RUN = ['cat', 'dog', 'fox'];

function csv(dir: string, name: string, labels: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `label,a,b\n${labels.map((l, i) => `${l},${i},${i % 3}`).join('\n')}\n`);
  return path;
}

const splitsOf = (y: number[], numClasses: number): Splits => {
  const ds = { x: Float32Array.from(y), y: Int32Array.from(y), featureShape: [1], numClasses };
  return { train: ds, validation: ds, test: ds };
};

describe('class names: sites number their named labels by the run\'s classes', () => {
  it('two CSV sites, one missing a class: their own numberings differ, aligned to the run they agree', () => {
    const dir = tempDir();
    const full = readSiteData(csv(dir, 'full.csv', ['dog', 'cat', 'fox', 'dog']));
    const partial = readSiteData(csv(dir, 'partial.csv', ['fox', 'dog', 'dog']));
    // Per site, sorting numbers "dog" 1 on the full site and 0 on the partial one: the silent misalignment.
    expect(full.classNames).toEqual(['cat', 'dog', 'fox']);
    expect(partial.classNames).toEqual(['dog', 'fox']);
    expect([...partial.dataset!.y]).toEqual([1, 0, 0]);
    const a = alignClassNames(partial.classNames!, RUN, 'partial.csv');
    expect([...a.runIndexOf]).toEqual([1, 2]);
    expect(a.missing).toEqual(['cat']);
    expect([...alignLabels(partial.dataset!.y, a)]).toEqual([2, 1, 1]);
    const b = alignClassNames(full.classNames!, RUN, 'full.csv');
    expect([...alignLabels(full.dataset!.y, b)]).toEqual([1, 0, 2, 1]);
    expect(b.missing).toEqual([]);
    // The run's order wins even when it is not sorted.
    expect([...alignLabels(full.dataset!.y, alignClassNames(full.classNames!, ['fox', 'dog', 'cat'], 'full.csv'))]).toEqual([1, 2, 0, 1]);
  });

  it('a label the run does not know is refused in one line naming the file and the label, both clipped', () => {
    expect(() => alignClassNames(['cat', 'wolf'], RUN, 'site-3.csv')).toThrow('site-3.csv: label "wolf" is not a class of this run (its classes: cat, dog, fox)');
    try {
      alignClassNames(['x'.repeat(10_000)], RUN, `${'d/'.repeat(5_000)}s.csv`);
      expect.unreachable();
    } catch (err) {
      const message = (err as Error).message;
      expect((err as { code: string }).code).toBe('data');
      expect(message.length).toBeLessThan(600);
      expect(message).not.toContain('\n');
      expect(message).toContain('more characters');
    }
    const many = Array.from({ length: 40 }, (_, i) => `c${i}`);
    expect(() => alignClassNames(['zz'], many, 'f.csv')).toThrow(/its classes: c0, c1, .*c11, … \(40 in all\)\)$/);
    expect(() => alignClassNames(['zz'], many.slice(0, 12), 'f.csv')).toThrow(/its classes: c0, .*, c11\)$/);
    expect(classesRefusal({ names: ['cat', 'wolf'], source: 'a.csv' }, RUN)).toBe('a.csv: label "wolf" is not a class of this run (its classes: cat, dog, fox)');
    expect(classesRefusal({ names: ['cat'], source: 'a.csv' }, RUN)).toBeUndefined();
    expect(classesRefusal(undefined, RUN)).toBeUndefined();
    expect(classesRefusal({ names: ['wolf'], source: 'a.csv' }, undefined)).toBeUndefined();
    // Label cells are trimmed as the CSV loader trims them.
    expect([...alignClassNames([' dog '], RUN, 'a').runIndexOf]).toEqual([1]);
  });

  it('an index with no site class name is a data error, not a silent undefined', () => {
    const a = alignClassNames(['dog'], RUN, 'a');
    expect(() => alignLabels([0, 1], a)).toThrow(/label index 1 has no class name \(1 site classes\)/);
  });

  it('alignSiteData renumbers every split (and the texts) and takes the run\'s class count', () => {
    const text = { texts: ['a', 'b'], labels: Int32Array.from([0, 1]), classNames: ['dog', 'fox'] };
    const aligned = alignSiteData(splitsOf([0, 1, 1], 2), { train: text, validation: text, test: text }, { names: ['dog', 'fox'], source: 's' }, RUN);
    for (const split of ['train', 'validation', 'test'] as const) {
      expect([...aligned.data[split].y]).toEqual([1, 2, 2]);
      expect(aligned.data[split].numClasses).toBe(3);
      expect([...aligned.textData![split].labels]).toEqual([1, 2]);
      expect(aligned.textData![split].classNames).toEqual(RUN);
    }
    expect(aligned.missing).toEqual(['cat']);
    expect(alignSiteData(splitsOf([0], 2), undefined, { names: ['dog', 'fox'], source: 's' }, RUN).textData).toBeUndefined();
  });

  it('a shared summary\'s per-class counts go in the run\'s order; without both lists they stay as they are', () => {
    expect(countsInRunOrder([24, 18], { names: ['dog', 'fox'], source: 's' }, RUN)).toEqual([0, 24, 18]);
    expect(countsInRunOrder([5, 24, 18], { names: ['cat', 'dog', 'fox'], source: 's' }, ['fox', 'cat', 'dog'])).toEqual([18, 5, 24]);
    expect(countsInRunOrder([24, 18], undefined, RUN)).toEqual([24, 18]);
    expect(countsInRunOrder([24, 18], { names: ['dog', 'fox'], source: 's' }, undefined)).toEqual([24, 18]);
  });

  it.each([
    { names: undefined, want: undefined },
    { names: [] as string[], want: undefined },
    { names: ['0', '1', '10'], want: undefined },
    { names: [' 3', '7 '], want: undefined },
    { names: ['1', 'b'], want: { names: ['1', 'b'], source: 'f.csv' } },
    { names: ['ham', 'spam'], want: { names: ['ham', 'spam'], source: 'f.csv' } },
  ])('siteClassesOf($names): integer labels keep being class indices', ({ names, want }) => {
    expect(siteClassesOf(names, 'f.csv')).toEqual(want);
  });

  it('the schema bounds what a peer may send: 2..MAX classes, distinct, non-empty, at most 128 characters', () => {
    expect(RunClassNames.parse([' a', 'b'])).toEqual(['a', 'b']);
    for (const bad of [['a'], ['a', 'a'], ['a', ''], ['a', ' '], ['a', 'x'.repeat(129)], Array.from({ length: MAX_RUN_CLASSES + 1 }, (_, i) => `c${i}`), ['a', 3]]) {
      expect(RunClassNames.safeParse(bad).success, JSON.stringify(bad).slice(0, 60)).toBe(false);
    }
    expect(RunClassNames.safeParse(['a', 'x'.repeat(128)]).success).toBe(true);
    expect(RunClassNames.safeParse(Array.from({ length: MAX_RUN_CLASSES }, (_, i) => `c${i}`)).success).toBe(true);
    const model = { runId: 'r', modelVersion: 0, topology: {}, manifest: [] };
    expect(ModelTopology.parse({ ...model, classNames: RUN }).classNames).toEqual(RUN);
    expect(ModelTopology.safeParse({ ...model, classNames: ['a', 'a'] }).success).toBe(false);
    expect(RunTerms.shape.classNames.safeParse(['a', 'a']).success).toBe(false);
    expect(RunTerms.shape.classNames.safeParse(undefined).success).toBe(true);
  });

  it('the run takes --class-names, else the pretrained model\'s metadata, and refuses a count the model does not output', async () => {
    await selectNodeBackend();
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 3 })] });
    try {
      expect(runClassNamesOf(undefined, model)).toBeUndefined();
      expect(runClassNamesOf(RUN, model)).toEqual(RUN);
      expect(() => runClassNamesOf(['a', 'b'], model)).toThrow('classNames (--class-names) names 2 classes but the model outputs 3');
      model.setUserDefinedMetadata({ classNames: ['x', 'y', 'z'] });
      expect(runClassNamesOf(undefined, model)).toEqual(['x', 'y', 'z']);
      expect(runClassNamesOf(RUN, model)).toEqual(RUN);
      model.setUserDefinedMetadata({ classNames: ['x', 'y'] });
      expect(() => runClassNamesOf(undefined, model)).toThrow("the model's metadata classNames names 2 classes but the model outputs 3");
      model.setUserDefinedMetadata({ classNames: ['x', 'x', 'y'] });
      expect(runClassNamesOf(undefined, model)).toBeUndefined();
    } finally {
      model.dispose();
    }
  });

  it('the site tells its operator the run\'s order and warns about the classes it lacks', () => {
    expect(classesAlignedLine(RUN, [])).toBe("labels numbered by the run's classes: 0=cat, 1=dog, 2=fox");
    expect(classesAlignedLine(RUN, ['cat', 'fox'])).toBe("labels numbered by the run's classes: 0=cat, 1=dog, 2=fox; warning: this site has no example of cat, fox");
  });

  it('folder names are named labels too', () => {
    const dir = tempDir();
    for (const name of ['fox', 'dog']) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'a.txt'), `a ${name} text`);
    }
    const loaded = readSiteData(dir);
    expect(siteClassesOf(loaded.classNames, dir)).toEqual({ names: ['dog', 'fox'], source: dir });
  });
});
