import { describe, expect, it } from 'vitest';
// Imported from the files, not the package indexes: the mutation run (`npm run mutation -- site-report-validation`) loads these fast.
import {
  AUTO_CANDIDATES,
  PERSONALIZATION_GUARDS,
  PERSONALIZATION_MODES,
  PersonalizationSettings,
  SITE_ARMS,
  SiteReportInstruction,
  SiteReportResult,
  SiteReportTerms,
  SiteRobustnessSettings,
} from '../../shared/src/messages/site-report-schemas.ts';
import { parseClientMessage } from '../../shared/src/messages/parse-message.ts';
import { robustAccuracyOf, siteRobustEps, summarizeSiteReports, type SiteReportEntry } from '../../shared/src/report/site-report-section.ts';
import { deriveSeed } from '../../shared/src/random/seeded-random.ts';
import { localOnlyEpochs, SiteReportRound, siteReportInstruction, siteReportTerms, unaskedSiteReportField, wantsSiteReport, withHeadlineEps } from '../../coordinator/src/engine/site-report-round.ts';
import { RunConfig, type RunConfigInput } from '../../coordinator/src/engine/run-config.ts';

/**
 * What the coordinator accepts from a site's per-site report, exactly: every bound of SiteReportResult at
 * the value it allows and just past it, the instruction the coordinator builds, the collection round and the
 * worst-site summary. Fast (no federation): the mutation run's test file for these modules.
 */

const arm = { accuracy: 0.8, loss: 0.5, robust: { noiseMean: 0.7, corruptionMean: 0.6, pgd: [{ eps: 0.1, accuracy: 0.3 }] } };
const valid = { runId: 'r', round: 3, siteId: 'site-1', numExamples: 40, arms: { pretrained: arm, localOnly: arm, global: arm, personalized: arm }, adopted: true, durationMs: 12 };

type Patch = Record<string, unknown>;
const withGlobal = (patch: Patch) => ({ ...valid, arms: { ...valid.arms, global: { ...arm, ...patch } } });
const withRobust = (patch: Patch) => withGlobal({ robust: { ...arm.robust, ...patch } });
const pgdRow = (row: Patch) => withRobust({ pgd: [{ eps: 0.1, accuracy: 0.3, ...row }] });

function accepts(payload: unknown): boolean {
  return SiteReportResult.safeParse(payload).success;
}

describe('SiteReportResult: each bound, at the edge and just past it', () => {
  it('a full valid report parses to itself (nothing dropped), through parseClientMessage too', () => {
    expect(SiteReportResult.parse(valid)).toEqual(valid);
    expect(parseClientMessage('siteReportResult', valid)).toEqual(valid);
    const minimal = { runId: 'r', round: 0, siteId: 's', numExamples: 0, arms: { global: { accuracy: 0, loss: 0 } }, durationMs: 0 };
    expect(SiteReportResult.parse(minimal)).toEqual(minimal);
  });

  it.each<[string, unknown, boolean]>([
    ['accuracy 0', withGlobal({ accuracy: 0 }), true],
    ['accuracy 1', withGlobal({ accuracy: 1 }), true],
    ['accuracy -0.001', withGlobal({ accuracy: -0.001 }), false],
    ['accuracy 1.001', withGlobal({ accuracy: 1.001 }), false],
    ['accuracy NaN', withGlobal({ accuracy: NaN }), false],
    ['loss 0', withGlobal({ loss: 0 }), true],
    ['loss 1e6', withGlobal({ loss: 1e6 }), true],
    ['loss -1e-9', withGlobal({ loss: -1e-9 }), false],
    ['loss Infinity', withGlobal({ loss: Infinity }), false],
    ['no robust summary', withGlobal({ robust: undefined }), true],
    ['noise mean null', withRobust({ noiseMean: null }), true],
    ['noise mean 1', withRobust({ noiseMean: 1 }), true],
    ['noise mean 1.01', withRobust({ noiseMean: 1.01 }), false],
    ['noise mean -0.01', withRobust({ noiseMean: -0.01 }), false],
    ['noise mean missing', withRobust({ noiseMean: undefined }), false],
    ['corruption mean null', withRobust({ corruptionMean: null }), true],
    ['corruption mean 0', withRobust({ corruptionMean: 0 }), true],
    ['corruption mean 1.01', withRobust({ corruptionMean: 1.01 }), false],
    ['corruption mean -0.01', withRobust({ corruptionMean: -0.01 }), false],
    ['no PGD rows', withRobust({ pgd: [] }), true],
    ['four PGD rows', withRobust({ pgd: Array.from({ length: 4 }, () => ({ eps: 0.1, accuracy: 0.2 })) }), true],
    ['five PGD rows', withRobust({ pgd: Array.from({ length: 5 }, () => ({ eps: 0.1, accuracy: 0.2 })) }), false],
    ['ε 0', pgdRow({ eps: 0 }), true],
    ['ε 1', pgdRow({ eps: 1 }), true],
    ['ε 1.01', pgdRow({ eps: 1.01 }), false],
    ['ε -0.01', pgdRow({ eps: -0.01 }), false],
    ['PGD accuracy 1', pgdRow({ accuracy: 1 }), true],
    ['PGD accuracy 1.01', pgdRow({ accuracy: 1.01 }), false],
    ['PGD accuracy -0.01', pgdRow({ accuracy: -0.01 }), false],
    ['numExamples 1e9', { ...valid, numExamples: 1e9 }, true],
    ['numExamples 1e9 + 1', { ...valid, numExamples: 1e9 + 1 }, false],
    ['numExamples -1', { ...valid, numExamples: -1 }, false],
    ['numExamples 2.5', { ...valid, numExamples: 2.5 }, false],
    ['round -1', { ...valid, round: -1 }, false],
    ['round 1.5', { ...valid, round: 1.5 }, false],
    ['durationMs 86,400,000', { ...valid, durationMs: 86_400_000 }, true],
    ['durationMs 86,400,001', { ...valid, durationMs: 86_400_001 }, false],
    ['durationMs -1', { ...valid, durationMs: -1 }, false],
    ['run id of 128 characters', { ...valid, runId: 'r'.repeat(128) }, true],
    ['run id of 129 characters', { ...valid, runId: 'r'.repeat(129) }, false],
    ['empty run id', { ...valid, runId: '' }, false],
    ['site id a.b_c-D9', { ...valid, siteId: 'a.b_c-D9' }, true],
    ['site id of 128 characters', { ...valid, siteId: 's'.repeat(128) }, true],
    ['site id of 129 characters', { ...valid, siteId: 's'.repeat(129) }, false],
    ['empty site id', { ...valid, siteId: '' }, false],
    ['site id with a leading space', { ...valid, siteId: ' site' }, false],
    ['site id with a trailing space', { ...valid, siteId: 'site ' }, false],
    ['site id with a slash', { ...valid, siteId: 'a/b' }, false],
    ['no global arm', { ...valid, arms: { personalized: arm } }, false],
    ['adopted false', { ...valid, adopted: false }, true],
    ['adopted as a string', { ...valid, adopted: 'yes' }, false],
    ['comparisons: wins + losses = numExamples', { ...valid, comparisons: { localOnly: { wins: 25, losses: 15 }, global: { wins: 0, losses: 0 } } }, true],
    ['comparisons: wins + losses = numExamples + 1', { ...valid, comparisons: { localOnly: { wins: 26, losses: 15 } } }, false],
    ['comparisons: against global over numExamples', { ...valid, comparisons: { global: { wins: 0, losses: 41 } } }, false],
    ['comparisons: negative wins', { ...valid, comparisons: { global: { wins: -1, losses: 0 } } }, false],
    ['comparisons: fractional losses', { ...valid, comparisons: { global: { wins: 0, losses: 0.5 } } }, false],
    ['comparisons: wins missing', { ...valid, comparisons: { global: { losses: 1 } } }, false],
    ['comparisons: empty', { ...valid, comparisons: {} }, true],
  ])('%s → accepted: %s', (_name, payload, ok) => {
    expect(accepts(payload)).toBe(ok);
  });

  it.each(AUTO_CANDIDATES.map((c) => [c]))('accepts the auto choice %s and keeps it', (chosen) => {
    expect(SiteReportResult.parse({ ...valid, chosen }).chosen).toBe(chosen);
  });

  it('the auto candidates and the personalisation modes are exactly these', () => {
    expect([...AUTO_CANDIDATES]).toEqual(['global', 'head', 'full', 'mix-0.25', 'mix-0.5', 'mix-0.75', 'ditto', 'local-only', 'local-mix-0.5']);
    expect([...PERSONALIZATION_GUARDS]).toEqual(['pgd', 'fgsm', 'off']);
    expect([...PERSONALIZATION_MODES]).toEqual(['none', 'head', 'lp-ft', 'fedbn', 'ditto', 'auto']);
    expect([...SITE_ARMS]).toEqual(['pretrained', 'localOnly', 'global', 'personalized']);
    expect(accepts({ ...valid, chosen: '' })).toBe(false);
    expect(accepts({ ...valid, chosen: 'test-split' })).toBe(false);
  });

  it('refuses each arm that is not an arm metric; keeps each optional arm it accepts', () => {
    for (const name of ['pretrained', 'localOnly', 'personalized'] as const) {
      expect(accepts({ ...valid, arms: { ...valid.arms, [name]: { accuracy: 2, loss: 0 } } }), name).toBe(false);
      const { [name]: _dropped, ...rest } = valid.arms;
      expect(SiteReportResult.parse({ ...valid, arms: rest }).arms).toEqual(rest);
    }
  });

  it('a refused report is a malformed_payload naming the path', () => {
    let error: { code?: string; message?: string } | undefined;
    try {
      parseClientMessage('siteReportResult', withGlobal({ accuracy: 3 }));
    } catch (e) {
      error = e as { code?: string; message?: string };
    }
    expect(error?.code).toBe('malformed_payload');
    expect(error?.message).toContain('arms.global.accuracy');
  });
});

describe('SiteReportInstruction: what a site accepts from the coordinator', () => {
  const train = { epochs: 1, batchSize: 8, learningRate: 0.01, optimizer: 'adam' as const, trainable: 'all' as const, seed: 1 };
  const personalization = { mode: 'ditto' as const, epochs: 3, lambda: 0.5, learningRate: 0.02, validate: false };
  const robustness = { examples: 10, adversarialExamples: 0, noiseSigmas: [0, 1], corruptions: true, pgdEps: [0.05, 0.1, 0.2, 1], pgdSteps: 1000, seed: 0 };
  const instruction = { runId: 'r', round: 2, modelVersion: 2, weights: new Uint8Array([1, 2]), pretrained: new Uint8Array([3]), train, personalization, localOnlyEpochs: 100_000, robustness };

  it('a full instruction parses to itself', () => {
    expect(SiteReportInstruction.parse(instruction)).toEqual(instruction);
    expect(PersonalizationSettings.parse(personalization)).toEqual(personalization);
    expect(SiteRobustnessSettings.parse(robustness)).toEqual(robustness);
  });

  it.each(PERSONALIZATION_MODES.map((m) => [m]))('accepts the personalisation mode %s', (mode) => {
    expect(PersonalizationSettings.parse({ ...personalization, mode }).mode).toBe(mode);
  });

  it.each<[string, Patch, boolean]>([
    ['epochs 1', { epochs: 1 }, true],
    ['epochs 1000', { epochs: 1000 }, true],
    ['epochs 0', { epochs: 0 }, false],
    ['epochs 1001', { epochs: 1001 }, false],
    ['λ 0', { lambda: 0 }, true],
    ['λ 100', { lambda: 100 }, true],
    ['λ -0.1', { lambda: -0.1 }, false],
    ['λ 100.1', { lambda: 100.1 }, false],
    ['learning rate 10', { learningRate: 10 }, true],
    ['learning rate 10.1', { learningRate: 10.1 }, false],
    ['learning rate 0', { learningRate: 0 }, false],
    ['no learning rate', { learningRate: undefined }, true],
    ['an unknown mode', { mode: 'everything' }, false],
  ])('personalisation %s → accepted: %s', (_name, patch, ok) => {
    expect(PersonalizationSettings.safeParse({ ...personalization, ...patch }).success).toBe(ok);
  });

  it.each<[string, Patch, boolean]>([
    ['examples 1', { examples: 1 }, true],
    ['examples 100,000', { examples: 100_000 }, true],
    ['examples 0', { examples: 0 }, false],
    ['examples 100,001', { examples: 100_001 }, false],
    ['adversarial examples 100,000', { adversarialExamples: 100_000 }, true],
    ['adversarial examples 100,001', { adversarialExamples: 100_001 }, false],
    ['adversarial examples -1', { adversarialExamples: -1 }, false],
    ['four noise σ', { noiseSigmas: [0.1, 0.2, 0.3, 0.4] }, true],
    ['five noise σ', { noiseSigmas: [0.1, 0.2, 0.3, 0.4, 0.5] }, false],
    ['noise σ 1.1', { noiseSigmas: [1.1] }, false],
    ['noise σ -0.1', { noiseSigmas: [-0.1] }, false],
    ['five ε', { pgdEps: [0.1, 0.2, 0.3, 0.4, 0.5] }, false],
    ['ε 1.1', { pgdEps: [1.1] }, false],
    ['ε -0.1', { pgdEps: [-0.1] }, false],
    ['PGD steps 1', { pgdSteps: 1 }, true],
    ['PGD steps 0', { pgdSteps: 0 }, false],
    ['PGD steps 1001', { pgdSteps: 1001 }, false],
    ['seed -1', { seed: -1 }, false],
  ])('site robustness %s → accepted: %s', (_name, patch, ok) => {
    expect(SiteRobustnessSettings.safeParse({ ...robustness, ...patch }).success).toBe(ok);
  });

  it.each<[string, Patch, boolean]>([
    ['local-only epochs 1', { localOnlyEpochs: 1 }, true],
    ['local-only epochs 0', { localOnlyEpochs: 0 }, false],
    ['local-only epochs 100,001', { localOnlyEpochs: 100_001 }, false],
    ['model version -1', { modelVersion: -1 }, false],
    ['no pretrained model', { pretrained: undefined }, true],
  ])('instruction %s → accepted: %s', (_name, patch, ok) => {
    expect(SiteReportInstruction.safeParse({ ...instruction, ...patch }).success).toBe(ok);
  });
});

function config(input: Partial<RunConfigInput> = {}): RunConfig {
  return RunConfig.parse({ runId: 'run-7', seed: 9, rounds: 4, train: { epochs: 3, batchSize: 16, learningRate: 0.01, optimizer: 'sgd', trainable: 'all' }, ...input });
}

describe('the instruction the coordinator builds', () => {
  const train = { epochs: 3, batchSize: 16, learningRate: 0.01, optimizer: 'sgd' as const, trainable: 'all' as const };
  const weights = { global: new Uint8Array([1]), pretrained: new Uint8Array([2]) };

  it.each<[string, Partial<RunConfigInput>, boolean]>([
    ['no personalisation, no site robustness', {}, false],
    ['personalisation head', { personalization: { mode: 'head' } }, true],
    ['site robustness at the end', { siteRobustness: { when: 'final' } }, true],
    ['site robustness never', { siteRobustness: { when: 'never' } }, false],
  ])('wantsSiteReport: %s → %s', (_name, input, wanted) => {
    expect(wantsSiteReport(config(input))).toBe(wanted);
  });

  it('the local-only baseline trains rounds × local epochs, only when personalising with localOnly on', () => {
    expect(localOnlyEpochs(config({ personalization: { mode: 'head' } }))).toBe(12);
    expect(localOnlyEpochs(config({ personalization: { mode: 'head', localOnly: false } }))).toBeUndefined();
    expect(localOnlyEpochs(config())).toBeUndefined();
  });

  it('personalising with site robustness: every field, the site-specific seeds', () => {
    const c = config({ personalization: { mode: 'ditto', epochs: 2, lambda: 0.3, learningRate: 0.05, validate: false }, siteRobustness: { when: 'final', examples: 50, pgdEps: [0.1] } });
    const got = siteReportInstruction(c, 4, 'site-a', train, weights);
    expect(got).toEqual({
      runId: 'run-7',
      round: 4,
      modelVersion: 4,
      weights: weights.global,
      pretrained: weights.pretrained,
      train: { ...train, seed: deriveSeed(9, 'site-report', 'site-a') },
      personalization: { mode: 'ditto', epochs: 2, lambda: 0.3, learningRate: 0.05, validate: false, guard: 'pgd', guardEps: 0.05, selection: 'kfold', folds: 5, selectionMargin: 1 },
      localOnlyEpochs: 12,
      robustness: { examples: 50, adversarialExamples: 100, noiseSigmas: [0.1, 0.3], corruptions: true, pgdEps: [0.1], pgdSteps: 20, seed: deriveSeed(9, 'site-robustness') },
    });
    expect(SiteReportInstruction.safeParse(got).success).toBe(true);
    expect(siteReportInstruction(c, 4, 'site-b', train, weights).train.seed).not.toBe(got.train.seed);
  });

  it('no personalisation, no robustness, no pretrained weights: only what applies', () => {
    const got = siteReportInstruction(config({ siteRobustness: { when: 'never' } }), 1, 'site-a', train, { global: weights.global });
    expect(got).toEqual({ runId: 'run-7', round: 1, modelVersion: 1, weights: weights.global, train: { ...train, seed: deriveSeed(9, 'site-report', 'site-a') } });
  });

  it('personalising without a learning rate of its own leaves it out', () => {
    const got = siteReportInstruction(config({ personalization: { mode: 'head', localOnly: false } }), 1, 's', train, weights);
    expect(got.personalization).toStrictEqual({ mode: 'head', epochs: 5, lambda: 0.1, validate: true, guard: 'pgd', guardEps: 0.05, selection: 'kfold', folds: 5, selectionMargin: 1 });
    expect(got).not.toHaveProperty('localOnlyEpochs');
    expect(got).not.toHaveProperty('robustness');
  });
});

describe('SiteReportRound: collecting the answers', () => {
  const result = (siteId: string, accuracy: number, extra: Patch = {}) =>
    SiteReportResult.parse({ runId: 'run-7', round: 4, siteId, numExamples: 10, durationMs: 5, arms: { global: { accuracy, loss: 1 } }, ...extra });

  it('keeps the answers, sorted by site, with adopted and chosen when sent; lists the missing with why', async () => {
    // Every site answers or fails synchronously below; the short timeout only bounds a mutant that never finishes.
    const round = new SiteReportRound(4, ['b', 'a', 'c', 'd'], 3_000, { terms: siteReportTerms(config({ personalization: { mode: 'auto' }, siteRobustness: { when: 'final' } })), pretrainedSent: true });
    expect(round.expects('a')).toBe(true);
    expect(round.expects('z')).toBe(false);
    round.add('b', result('b', 0.5, { adopted: false, chosen: 'head' }));
    round.add('a', result('a', 0.7));
    round.add('a', result('a', 0.1)); // a second answer is ignored
    expect(round.expects('a')).toBe(false);
    round.fail('c', `failed: ${'x'.repeat(1000)}`);
    round.fail('a', 'too late: it answered');
    round.fail('d', 'disconnected');
    await round.done;
    const section = round.section(config({ personalization: { mode: 'auto' }, siteRobustness: { when: 'final' } }));
    expect(section.round).toBe(4);
    expect(section.mode).toBe('auto');
    expect(section.localOnlyEpochs).toBe(12);
    expect(section.robustness).toBe(true);
    expect(round.done).toBeInstanceOf(Promise);
    expect(section.sites).toStrictEqual([
      { siteId: 'a', numExamples: 10, durationMs: 5, arms: { global: { accuracy: 0.7, loss: 1 } } },
      { siteId: 'b', numExamples: 10, durationMs: 5, arms: { global: { accuracy: 0.5, loss: 1 } }, adopted: false, chosen: 'head' },
    ]);
    expect(section.missing.map((m) => m.siteId)).toEqual(['c', 'd']);
    expect(section.missing[0].reason.startsWith(`failed: ${'x'.repeat(292)}…`)).toBe(true);
    expect(section.missing[0].reason).toContain('(708 more characters)');
    expect(section.missing[1].reason).toBe('disconnected');
    expect(section.worst).toEqual({ global: { clean: { siteId: 'b', accuracy: 0.5 } } });
  });

  it("robustEps is the headline ε the sites were asked for: one site that leaves it out does not move it, it is listed instead", async () => {
    const pgd = (rows: Array<[number, number]>) => ({ robust: { noiseMean: null, corruptionMean: null, pgd: rows.map(([eps, accuracy]) => ({ eps, accuracy })) } });
    const withPgd = (siteId: string, rows: Array<[number, number]>) => result(siteId, 0.8, { arms: { global: { accuracy: 0.8, loss: 1, ...pgd(rows) } } });
    const asked = config({ siteRobustness: { when: 'final' }, robustness: { headlineEps: 0.06 } });
    const sectionOf = async (hostile: boolean) => {
      const round = new SiteReportRound(4, ['a', 'b', 'h'], 3_000, { terms: siteReportTerms(asked), pretrainedSent: true });
      round.add('a', withPgd('a', [[0.05, 0.6], [0.06, 0.5], [0.1, 0.3]]));
      round.add('b', withPgd('b', [[0.05, 0.7], [0.06, 0.4], [0.1, 0.35]]));
      round.add('h', withPgd('h', hostile ? [[0.05, 0.9], [0.1, 0.9]] : [[0.05, 0.9], [0.06, 0.9], [0.1, 0.9]]));
      await round.done;
      return round.section(asked);
    };
    const honest = await sectionOf(false);
    expect(honest.robustEps).toBe(0.06);
    expect(honest.worst.global).toEqual({ clean: { siteId: 'a', accuracy: 0.8 }, robust: { siteId: 'b', accuracy: 0.4 } });
    const hostile = await sectionOf(true);
    expect(hostile.robustEps).toBe(0.06);
    expect(hostile.worst.global).toEqual({ clean: { siteId: 'a', accuracy: 0.8 }, robust: { siteId: 'b', accuracy: 0.4 }, robustMissing: ['h'] });
    // Not asked (the sites' list at its cap without it): each arm's largest ε, nobody listed.
    const cappedConfig = config({ siteRobustness: { when: 'final', pgdEps: [0.01, 0.02, 0.03, 0.04] }, robustness: { headlineEps: 0.06 } });
    const round = new SiteReportRound(4, ['a'], 3_000, { terms: siteReportTerms(cappedConfig), pretrainedSent: true });
    round.add('a', withPgd('a', [[0.01, 0.6], [0.06, 0.5], [0.1, 0.3]]));
    await round.done;
    const capped = round.section(cappedConfig);
    expect(capped).not.toHaveProperty('robustEps');
    expect(capped.worst.global).toEqual({ clean: { siteId: 'a', accuracy: 0.8 }, robust: { siteId: 'a', accuracy: 0.3 } });
  });

  it("an arm or field the run did not ask for is refused (attacker review: a site's unasked arms decided run-wide counts)", () => {
    const none = siteReportTerms(config());
    const personal = siteReportTerms(config({ personalization: { mode: 'head' } }));
    const auto = siteReportTerms(config({ personalization: { mode: 'auto' } }));
    const noBaseline = siteReportTerms(config({ personalization: { mode: 'head', localOnly: false } }));
    const robust = siteReportTerms(config({ siteRobustness: { when: 'final' } }));
    const arm = { accuracy: 0.5, loss: 1 };
    const robustArm = { ...arm, robust: { noiseMean: null, corruptionMean: null, pgd: [] } };
    const paired = { wins: 1, losses: 1, ties: 1 };
    const cases: Array<[Patch, ReturnType<typeof siteReportTerms>, boolean, string | undefined]> = [
      [{}, none, true, undefined],
      [{ arms: { global: arm, pretrained: arm } }, none, true, undefined],
      [{ arms: { global: arm, pretrained: arm } }, none, false, 'arms.pretrained'],
      [{ arms: { global: arm, localOnly: arm } }, none, true, 'arms.localOnly'],
      [{ arms: { global: arm, localOnly: arm } }, personal, true, undefined],
      [{ arms: { global: arm, localOnly: arm } }, noBaseline, true, 'arms.localOnly'],
      [{ arms: { global: arm, personalized: arm } }, none, true, 'arms.personalized'],
      [{ arms: { global: arm, personalized: arm } }, personal, true, undefined],
      [{ adopted: true }, none, true, 'adopted'],
      [{ adopted: true }, personal, true, undefined],
      [{ chosen: 'ditto' }, personal, true, 'chosen'],
      [{ chosen: 'ditto' }, auto, true, undefined],
      [{ candidates: [] }, personal, true, 'candidates'],
      [{ candidates: [] }, auto, true, undefined],
      [{ comparisons: { global: paired } }, none, true, 'comparisons.global'],
      [{ comparisons: { global: paired } }, personal, true, undefined],
      [{ comparisons: { localOnly: paired } }, noBaseline, true, 'comparisons.localOnly'],
      [{ comparisons: { localOnly: paired } }, personal, true, undefined],
      [{ comparisons: { localOnly: paired } }, none, true, 'comparisons.localOnly'],
      [{ arms: { global: robustArm } }, none, true, 'arms.*.robust'],
      [{ arms: { global: arm, pretrained: robustArm } }, none, true, 'arms.*.robust'],
      [{ arms: { global: robustArm } }, robust, true, undefined],
    ];
    for (const [patch, terms, pretrainedSent, field] of cases) {
      expect([patch, unaskedSiteReportField(result('a', 0.5, patch), terms, pretrainedSent)]).toEqual([patch, field]);
    }
    // Through the round: refused with the field named, and nothing recorded.
    const round = new SiteReportRound(1, ['a'], 3_000, { terms: none, pretrainedSent: true });
    expect(() => round.add('a', result('a', 0.5, { chosen: 'ditto' }))).toThrow(expect.objectContaining({ code: 'malformed_payload', message: 'site report refused: chosen was not asked for by this run' }));
    expect(round.expects('a')).toBe(true);
    // A site not waited for: ignored, as before, not refused.
    expect(() => round.add('z', result('z', 0.5, { chosen: 'ditto' }))).not.toThrow();
  });

  it('a site with no answer before the timeout is missing with that reason; no baseline, no robustness', async () => {
    const round = new SiteReportRound(1, ['d', 'a', 'c', 'b'], 1);
    round.add('c', result('c', 0.8));
    round.add('b', result('b', 0.9));
    round.add('d', result('d', 0.7));
    await round.done;
    const section = round.section(config());
    expect(section.missing).toEqual([{ siteId: 'a', reason: 'no report before the round timeout' }]);
    expect(section.sites.map((s) => s.siteId)).toEqual(['b', 'c', 'd']);
    expect(section.robustness).toBe(false);
    expect(section.mode).toBe('none');
    expect(section).not.toHaveProperty('localOnlyEpochs');
    expect(section).not.toHaveProperty('counts');
  });
});

describe('robustAccuracyOf and summarizeSiteReports: exact worst sites and counts', () => {
  const a = (accuracy: number, pgd?: Array<[number, number]>) => ({ accuracy, loss: 0, ...(pgd ? { robust: { noiseMean: null, corruptionMean: null, pgd: pgd.map(([eps, acc]) => ({ eps, accuracy: acc })) } } : {}) });
  const site = (siteId: string, arms: SiteReportEntry['arms']): SiteReportEntry => ({ siteId, numExamples: 1, durationMs: 0, arms });

  it('robust accuracy is PGD at the largest ε, whatever the order; null without rows', () => {
    expect(robustAccuracyOf(a(0.9, [[0.05, 0.6], [0.2, 0.1], [0.1, 0.4]]))).toBe(0.1);
    expect(robustAccuracyOf(a(0.9, [[0.2, 0.1], [0.05, 0.6]]))).toBe(0.1);
    expect(robustAccuracyOf(a(0.9, []))).toBeNull();
    // Two rows at the largest ε (a site should not send that): the first counts.
    expect(robustAccuracyOf(a(0.9, [[0.1, 0.3], [0.1, 0.5]]))).toBe(0.3);
    expect(robustAccuracyOf(a(0.9))).toBeNull();
    expect(robustAccuracyOf(undefined)).toBeNull();
  });

  it('at a given ε (the headline ε of the task) when the arm measured it, else null (never another ε)', () => {
    const rows = a(0.9, [[0.05, 0.6], [0.06, 0.5], [0.1, 0.1]]);
    expect(robustAccuracyOf(rows, 0.06)).toBe(0.5);
    expect(robustAccuracyOf(rows, 0.06 + 1e-12)).toBe(0.5);
    expect(robustAccuracyOf(rows, 0.07)).toBeNull();
    expect(robustAccuracyOf(rows, undefined)).toBe(0.1);
    expect(robustAccuracyOf(a(0.9, []), 0.06)).toBeNull();
    expect(robustAccuracyOf(a(0.9), 0.06)).toBeNull();
    expect(robustAccuracyOf(undefined, 0.06)).toBeNull();
    // ε = 0 is an ε like any other (not "no ε").
    expect(robustAccuracyOf(a(0.9, [[0, 0.9], [0.1, 0.1]]), 0)).toBe(0.9);
  });

  it('withHeadlineEps: the headline ε added to the sites\' PGD list once, ascending; a list at its cap, or one that has it, as given', () => {
    expect(withHeadlineEps([0.1, 0.02], 0.06)).toEqual([0.02, 0.06, 0.1]);
    expect(withHeadlineEps([0.3, 0.2, 0.1], 0.06)).toEqual([0.06, 0.1, 0.2, 0.3]);
    // Already there (to float noise), anywhere in the list: not added again, the list as given.
    expect(withHeadlineEps([0.1, 0.06], 0.06)).toEqual([0.1, 0.06]);
    expect(withHeadlineEps([0.06 + 1e-12, 0.1], 0.06)).toEqual([0.06 + 1e-12, 0.1]);
    // At MAX_SITE_ROBUSTNESS_POINTS (4) without it: kept as given (3 points: it is added).
    expect(withHeadlineEps([0.4, 0.3, 0.2, 0.1], 0.06)).toEqual([0.4, 0.3, 0.2, 0.1]);
    expect(withHeadlineEps([], 0.06)).toEqual([0.06]);
    expect(withHeadlineEps([0.1], undefined)).toEqual([0.1]);
    // A copy, never the caller's array.
    const given = [0.1, 0.06];
    expect(withHeadlineEps(given, 0.06)).not.toBe(given);
  });

  it('siteRobustEps: the headline ε whenever the sites were asked to measure it, whatever they sent', () => {
    expect(siteRobustEps(0.06, [0.05, 0.06, 0.1])).toBe(0.06);
    expect(siteRobustEps(0.06, [0.06 + 1e-12])).toBe(0.06);
    // Not asked (the list at its cap without it, or no site robustness at all): each arm's largest ε.
    expect(siteRobustEps(0.06, [0.01, 0.02, 0.03, 0.04])).toBeUndefined();
    expect(siteRobustEps(0.06, [])).toBeUndefined();
    expect(siteRobustEps(0.06, undefined)).toBeUndefined();
    expect(siteRobustEps(undefined, [0.06])).toBeUndefined();
  });

  it('a site that left the headline ε out is left out of the robust figure and listed; the others are read at the headline ε', () => {
    const honest = [site('s1', { global: a(0.8, [[0.06, 0.5], [0.1, 0.2]]) }), site('s2', { global: a(0.8, [[0.06, 0.4], [0.1, 0.3]]) })];
    // Honest: every site measured it, nobody is left out.
    expect(summarizeSiteReports(honest, 0.06).worst.global).toEqual({ clean: { siteId: 's1', accuracy: 0.8 }, robust: { siteId: 's2', accuracy: 0.4 } });
    // s0 sends only a large ε (a low accuracy there), s3 no PGD rows at all: neither is the worst robust site, both are listed.
    const hostile = [site('s0', { global: a(0.9, [[0.5, 0]]) }), ...honest, site('s3', { global: a(0.9) })];
    expect(summarizeSiteReports(hostile, 0.06).worst.global).toEqual({ clean: { siteId: 's1', accuracy: 0.8 }, robust: { siteId: 's2', accuracy: 0.4 }, robustMissing: ['s0', 's3'] });
    // Per arm: s1's personalised arm lacks it, its global arm does not.
    const perArm = [site('s1', { global: a(0.8, [[0.06, 0.5]]), personalized: a(0.8, [[0.1, 0.5]]) }), site('s2', { global: a(0.7, [[0.06, 0.6]]), personalized: a(0.7, [[0.06, 0.6]]) })];
    expect(summarizeSiteReports(perArm, 0.06).worst).toEqual({
      global: { clean: { siteId: 's2', accuracy: 0.7 }, robust: { siteId: 's1', accuracy: 0.5 } },
      personalized: { clean: { siteId: 's2', accuracy: 0.7 }, robust: { siteId: 's2', accuracy: 0.6 }, robustMissing: ['s1'] },
    });
    // Nobody measured it: no robust figure, every site listed.
    expect(summarizeSiteReports([site('s0', { global: a(0.9, [[0.5, 0]]) })], 0.06).worst.global).toEqual({ clean: { siteId: 's0', accuracy: 0.9 }, robustMissing: ['s0'] });
    // Without robustEps (each arm's largest ε) nobody is listed.
    expect(summarizeSiteReports(hostile).worst.global).toEqual({ clean: { siteId: 's1', accuracy: 0.8 }, robust: { siteId: 's0', accuracy: 0 } });
  });

  it('the worst robust site at the headline ε can differ from the one at the largest ε', () => {
    const sites = [site('s1', { global: a(0.8, [[0.06, 0.3], [0.1, 0.2]]) }), site('s2', { global: a(0.8, [[0.06, 0.6], [0.1, 0.0]]) })];
    expect(summarizeSiteReports(sites).worst.global.robust).toEqual({ siteId: 's2', accuracy: 0 });
    expect(summarizeSiteReports(sites, 0.06).worst.global.robust).toEqual({ siteId: 's1', accuracy: 0.3 });
  });

  it('worst clean and robust site per arm, and the three win counts', () => {
    const sites = [
      site('s1', { global: a(0.8, [[0.1, 0.5]]), localOnly: a(0.9), personalized: a(0.85, [[0.1, 0.2]]) }),
      site('s2', { global: a(0.6, [[0.1, 0.7]]), localOnly: a(0.6), personalized: a(0.6, [[0.1, 0.6]]) }),
      site('s3', { global: a(0.7), localOnly: a(0.65), personalized: a(0.69) }),
      site('s4', { global: a(0.9) }),
    ];
    expect(summarizeSiteReports(sites)).toEqual({
      worst: {
        localOnly: { clean: { siteId: 's2', accuracy: 0.6 } },
        global: { clean: { siteId: 's2', accuracy: 0.6 }, robust: { siteId: 's1', accuracy: 0.5 } },
        personalized: { clean: { siteId: 's2', accuracy: 0.6 }, robust: { siteId: 's1', accuracy: 0.2 } },
      },
      // s1: 0.85 ≥ 0.8 and < 0.9; s2: 0.6 ≥ 0.6 both; s3: 0.69 < 0.7, ≥ 0.65. local-only > global: s1 only (s2 ties).
      counts: { sites: 4, personalizedAtLeastGlobal: 2, personalizedAtLeastLocalOnly: 2, localOnlyBeatsGlobal: 1 },
    });
  });

  it('ties keep the first site (by order); only the global arm: no counts', () => {
    const got = summarizeSiteReports([site('a', { global: a(0.5, [[0.1, 0.3]]) }), site('b', { global: a(0.5, [[0.1, 0.3]]) }), site('c', { global: a(0.7, [[0.1, 0.9]]) })]);
    expect(got).toEqual({ worst: { global: { clean: { siteId: 'a', accuracy: 0.5 }, robust: { siteId: 'a', accuracy: 0.3 } } } });
    // The worst robust site need not be the first nor the worst clean one.
    const later = summarizeSiteReports([site('a', { global: a(0.5, [[0.1, 0.3]]) }), site('b', { global: a(0.7, [[0.1, 0.1]]) })]);
    expect(later.worst.global).toEqual({ clean: { siteId: 'a', accuracy: 0.5 }, robust: { siteId: 'b', accuracy: 0.1 } });
  });

  it('counts with local-only but no personalised arm; personalised without local-only counts for neither local comparison', () => {
    expect(summarizeSiteReports([site('a', { global: a(0.5), localOnly: a(0.6) })]).counts).toEqual({ sites: 1, personalizedAtLeastGlobal: 0, personalizedAtLeastLocalOnly: 0, localOnlyBeatsGlobal: 1 });
    expect(summarizeSiteReports([site('a', { global: a(0.5), personalized: a(0.5) })]).counts).toEqual({ sites: 1, personalizedAtLeastGlobal: 1, personalizedAtLeastLocalOnly: 0, localOnlyBeatsGlobal: 0 });
    expect(summarizeSiteReports([])).toEqual({ worst: {} });
  });
});

describe('SiteReportTerms (what the run terms state of the report): each bound, at the edge and just past it', () => {
  const robustness = { examples: 200, adversarialExamples: 100, noiseSigmas: [0.1], corruptions: true, pgdEps: [0.06], pgdSteps: 10 };
  const personalization = { mode: 'ditto' as const, epochs: 3, lambda: 0.5, learningRate: 0.02, validate: false };
  const full = { personalization, localOnlyEpochs: 12, robustness };

  it('full terms parse to themselves (nothing dropped), and none at all to {}', () => {
    expect(SiteReportTerms.parse(full)).toEqual(full);
    expect(SiteReportTerms.parse({})).toEqual({});
  });

  it.each<[string, unknown, boolean]>([
    ['local-only epochs 1', { localOnlyEpochs: 1 }, true],
    ['local-only epochs 100,000', { localOnlyEpochs: 100_000 }, true],
    ['local-only epochs 0', { localOnlyEpochs: 0 }, false],
    ['local-only epochs 100,001', { localOnlyEpochs: 100_001 }, false],
    ['local-only epochs 1.5', { localOnlyEpochs: 1.5 }, false],
    // The terms state settings, never a seed (each site's own instruction carries one).
    ['robustness with a seed', { robustness: { ...robustness, seed: 1 } }, false],
    ['robustness with an unknown key', { robustness: { ...robustness, extra: 1 } }, false],
    ['personalisation with an unknown key', { personalization: { ...personalization, extra: 1 } }, false],
    ['an unknown key', { ...full, extra: 1 }, false],
  ])('%s → %s', (_name, terms, ok) => {
    expect(SiteReportTerms.safeParse(terms).success).toBe(ok);
  });

  it('SiteRobustnessSettings parses to itself (nothing dropped)', () => {
    const settings = { ...robustness, seed: 7 };
    expect(SiteRobustnessSettings.parse(settings)).toEqual(settings);
  });
});

describe('a report\'s candidates (mode auto): each bound, at the edge and just past it', () => {
  const candidate = { candidate: AUTO_CANDIDATES[0], accuracy: 0.5, loss: 0.7 };
  const withCandidates = (candidates: unknown[]) => ({ ...valid, chosen: AUTO_CANDIDATES[0], candidates });

  it('a candidate parses to itself; every candidate once is the most a report may list', () => {
    expect(SiteReportResult.parse(withCandidates([candidate])).candidates).toEqual([candidate]);
    expect(accepts(withCandidates(AUTO_CANDIDATES.map((c) => ({ ...candidate, candidate: c }))))).toBe(true);
    expect(accepts(withCandidates([...AUTO_CANDIDATES, AUTO_CANDIDATES[0]].map((c) => ({ ...candidate, candidate: c }))))).toBe(false);
    expect(accepts(withCandidates([]))).toBe(true);
  });

  it.each<[string, number, boolean]>([
    ['loss 0', 0, true],
    ['loss 1e6 (MAX_REPORTED_LOSS)', 1e6, true],
    ['loss -1e-9', -1e-9, false],
    ['loss just past 1e6', 1e6 * (1 + 1e-12), false],
  ])('a candidate\'s %s → %s', (_name, loss, ok) => {
    expect(accepts(withCandidates([{ ...candidate, loss }]))).toBe(ok);
  });

  it('wins and losses more than the test examples: refused with a message naming both counts', () => {
    const r = SiteReportResult.safeParse({ ...valid, numExamples: 10, comparisons: { global: { wins: 6, losses: 5 } } });
    expect(r.success).toBe(false);
    expect(r.error?.issues).toEqual([expect.objectContaining({ code: 'custom', path: ['comparisons', 'global'], message: '6 wins and 5 losses are more than the 10 test examples' })]);
    expect(accepts({ ...valid, numExamples: 10, comparisons: { global: { wins: 5, losses: 5 }, localOnly: { wins: 10, losses: 0 } } })).toBe(true);
  });
});
