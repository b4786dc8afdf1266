import { describe, expect, it } from 'vitest';
import { learningRateFactor, LearningRateSchedule, MIN_SCHEDULED_LEARNING_RATE, scheduledTrain, TrainConfig, type ClientConnector, type CoordinatorLink, type TrainSettings } from '@fedtune/shared';
import { learningRateScheduleOption } from '../../cli/src/commands/run-config-flags.ts';
import { startTestFederation } from '../helpers/federation.ts';

const train: TrainSettings = { epochs: 1, batchSize: 16, learningRate: 0.01, optimizer: 'sgd', trainable: 'all' };
const cosine = (finalFactor: number) => LearningRateSchedule.parse({ kind: 'cosine', finalFactor });
const step = (every: number, factor: number) => LearningRateSchedule.parse({ kind: 'step', every, factor });

describe('learningRateFactor', () => {
  it.each([
    // cosine to 0.1 over 5 rounds: 0.1 + 0.9·(1 + cos(π(r−1)/4))/2
    [cosine(0.1), 1, 5, 1],
    [cosine(0.1), 2, 5, 0.1 + (0.9 * (1 + Math.SQRT1_2)) / 2],
    [cosine(0.1), 3, 5, 0.55],
    [cosine(0.1), 4, 5, 0.1 + (0.9 * (1 - Math.SQRT1_2)) / 2],
    [cosine(0.1), 5, 5, 0.1],
    [cosine(0.25), 2, 3, 0.625],
    [cosine(0.25), 3, 3, 0.25],
    // clamped to [1, rounds]; a one-round run keeps its rate
    [cosine(0.1), 0, 5, 1],
    [cosine(0.1), 9, 5, 0.1],
    [cosine(0.1), 1, 1, 1],
    [cosine(0.1), 3, 0, 1],
    // × factor every `every` rounds
    [step(3, 0.5), 1, 10, 1],
    [step(3, 0.5), 3, 10, 1],
    [step(3, 0.5), 4, 10, 0.5],
    [step(3, 0.5), 6, 10, 0.5],
    [step(3, 0.5), 7, 10, 0.25],
    [step(3, 0.5), 10, 10, 0.125],
    [step(3, 0.5), 12, 10, 0.125],
    [step(1, 0.1), 2, 10, 0.1],
  ])('%o: round %i of %i → %f', (schedule, round, rounds, want) => {
    expect(learningRateFactor(schedule, round, rounds)).toBeCloseTo(want, 12);
  });
});

describe('scheduledTrain', () => {
  it('scales the learning rate and drops the schedule, so a site trains at the rate it receives', () => {
    const out = scheduledTrain({ ...train, learningRateSchedule: cosine(0.1) }, 5, 5);
    expect(out.learningRate).toBeCloseTo(0.001, 15);
    expect('learningRateSchedule' in out).toBe(false);
    expect(out).toEqual({ ...train, learningRate: out.learningRate });
  });

  it('leaves a config without a schedule as it is (same object)', () => {
    expect(scheduledTrain(train, 3, 5)).toBe(train);
  });

  it('never sends a rate below MIN_SCHEDULED_LEARNING_RATE (the schema refuses 0)', () => {
    const out = scheduledTrain({ ...train, learningRateSchedule: step(1, 0.001) }, 1000, 1000);
    expect(out.learningRate).toBe(MIN_SCHEDULED_LEARNING_RATE);
    expect(TrainConfig.safeParse({ ...out, seed: 0 }).success).toBe(true);
  });
});

describe('LearningRateSchedule schema', () => {
  it('supplies the defaults: cosine down to 0.1, step × 0.5', () => {
    expect(LearningRateSchedule.parse({ kind: 'cosine' })).toEqual({ kind: 'cosine', finalFactor: 0.1 });
    expect(LearningRateSchedule.parse({ kind: 'step', every: 4 })).toEqual({ kind: 'step', every: 4, factor: 0.5 });
  });

  it.each([
    ['a final factor of 0', { kind: 'cosine', finalFactor: 0 }],
    ['a final factor above 1', { kind: 'cosine', finalFactor: 1.5 }],
    ['a non-finite final factor', { kind: 'cosine', finalFactor: Number.NaN }],
    ['a step of 0 rounds', { kind: 'step', every: 0 }],
    ['a fractional step', { kind: 'step', every: 1.5 }],
    ['a step without its length', { kind: 'step' }],
    ['a step factor of 0', { kind: 'step', every: 2, factor: 0 }],
    ['a step factor above 1', { kind: 'step', every: 2, factor: 2 }],
    ['an unknown kind', { kind: 'exponential' }],
  ])('refuses %s', (_, schedule) => {
    expect(TrainConfig.safeParse({ ...train, seed: 0, learningRateSchedule: schedule }).success).toBe(false);
  });
});

describe('--lr-schedule', () => {
  it.each([
    ['cosine', { kind: 'cosine' }],
    ['cosine:0.05', { kind: 'cosine', finalFactor: 0.05 }],
    ['step:5', { kind: 'step', every: 5 }],
    ['step:4:0.3', { kind: 'step', every: 4, factor: 0.3 }],
  ])('%s → %o', (value, want) => {
    expect(learningRateScheduleOption(value)).toEqual(want);
  });

  it.each(['', 'linear', 'cosine:0', 'cosine:2', 'cosine:x', 'step', 'step:0', 'step:2.5', 'step:3:0', 'step:3:1.5', 'cosine:0.1:3'])('refuses "%s" with one line naming the forms', (value) => {
    expect(() => learningRateScheduleOption(value)).toThrow(/^lr-schedule takes cosine\[:FINAL\].*step:EVERY\[:FACTOR\]/);
  });
});

describe('the learning-rate schedule in a run (socket.io)', () => {
  it('the coordinator sends each round its learning rate, and no schedule', async () => {
    const received: Array<{ siteId: string; round: number; config: Record<string, unknown> }> = [];
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 3,
      rounds: 3,
      transport: 'socket',
      maxSiteExamples: 40,
      holdoutExamples: 100,
      config: { federatedEvaluation: 'never', train: { ...train, learningRate: 0.02, learningRateSchedule: { kind: 'cosine', finalFactor: 0.25 } } },
      wrapConnector: (siteId, inner): ClientConnector => ({
        connect: async () => {
          const link: CoordinatorLink = await inner.connect();
          const onMessage = link.onMessage.bind(link);
          link.onMessage = (handler) =>
            onMessage((m) => {
              if (m.event === 'fit') received.push({ siteId, round: m.payload.round, config: m.payload.config as Record<string, unknown> });
              handler(m);
            });
          return link;
        },
      }),
    });
    const report = await coordinator.done;
    const sites = await Promise.all(siteRuns);
    await coordinator.close();
    expect(report.status, report.aborted).toBe('complete');
    expect(sites.map((s) => [s.completed, s.roundsTrained])).toEqual([[true, 3], [true, 3], [true, 3]]);
    expect(received).toHaveLength(9);
    const byRound = (round: number) => received.filter((r) => r.round === round).map((r) => r.config.learningRate as number);
    expect(byRound(1)).toEqual([0.02, 0.02, 0.02]);
    for (const lr of byRound(2)) expect(lr).toBeCloseTo(0.0125, 12);
    for (const lr of byRound(3)) expect(lr).toBeCloseTo(0.005, 12);
    expect(received.every((r) => !('learningRateSchedule' in r.config))).toBe(true);
  }, 300_000);
});
