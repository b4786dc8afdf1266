import { describe, expect, it } from 'vitest';
import { redisTestMode } from '../helpers/redis-server.ts';

// The cluster tests skip (with a warning) only where redis-server is missing locally; in CI they must run.
describe('cluster test gate', () => {
  it('runs when redis-server is present, locally and in CI', () => {
    expect(redisTestMode({}, true)).toBe('run');
    expect(redisTestMode({ CI: 'true' }, true)).toBe('run');
  });

  it('skips locally without redis-server, and fails in CI instead of skipping', () => {
    expect(redisTestMode({}, false)).toBe('skip');
    expect(redisTestMode({ CI: 'true' }, false)).toBe('fail');
    expect(redisTestMode({ CI: '1' }, false)).toBe('fail');
  });
});
