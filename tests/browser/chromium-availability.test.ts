import { describe, expect, it } from 'vitest';
import { browserTestMode } from './chromium.ts';

// The browser tests skip (with a warning) only where Chromium is missing locally; in CI they must run.
describe('browser test gate', () => {
  it('runs when Chromium is present, locally and in CI', () => {
    expect(browserTestMode({}, true)).toBe('run');
    expect(browserTestMode({ CI: 'true' }, true)).toBe('run');
  });

  it('skips locally without Chromium', () => {
    expect(browserTestMode({}, false)).toBe('skip');
  });

  it('fails in CI without Chromium instead of skipping', () => {
    expect(browserTestMode({ CI: 'true' }, false)).toBe('fail');
    expect(browserTestMode({ CI: '1' }, false)).toBe('fail');
  });
});
