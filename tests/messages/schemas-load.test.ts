import { describe, expect, it } from 'vitest';

// The wire protocol's schemas are built when their modules load: a schema that cannot be built (a discriminated
// union whose option lost its discriminator, an omit of a key the shape no longer has) throws there, and every
// test file importing it fails to load — zero tests run, none fail. Imported here dynamically, such a module is
// one failing test, so a broken schema is a failure wherever these tests run (mutation testing included).
const MODULES = [
  '../../shared/src/messages/schemas.ts',
  '../../shared/src/messages/run-terms.ts',
  '../../shared/src/messages/parse-message.ts',
  '../../shared/src/messages/model-ref.ts',
  '../../shared/src/messages/model-text-section.ts',
  '../../shared/src/messages/site-report-schemas.ts',
];

describe('the message schema modules load', () => {
  it.each(MODULES)('%s', async (path) => {
    const module = (await import(path)) as Record<string, unknown>;
    expect(Object.keys(module).length).toBeGreaterThan(0);
  });

  it('the learning-rate schedule parses both kinds with their defaults', async () => {
    const { LearningRateSchedule } = await import('../../shared/src/messages/schemas.ts');
    expect(LearningRateSchedule.parse({ kind: 'cosine' })).toEqual({ kind: 'cosine', finalFactor: 0.1 });
    expect(LearningRateSchedule.parse({ kind: 'step', every: 3 })).toEqual({ kind: 'step', every: 3, factor: 0.5 });
  });
});
