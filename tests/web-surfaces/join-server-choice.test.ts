import { describe, expect, it } from 'vitest';
import { MAX_JOIN_SERVER_CHARS, parseJoinLinkServer } from '@fedtune/shared';
import { joinServerChoice } from '../../client-web/src/join-server-choice.ts';

// Audit: the browser site connected to whatever ?server= its link named. It now connects to its own origin by
// default; another origin is only asked for (the page shows it and waits for a click: tests/browser/site-csp.test.ts).

describe('joinServerChoice', () => {
  const page = 'https://coord.example/site/';
  it.each([
    [page, { kind: 'own', server: 'https://coord.example' }],
    [`${page}?server=${encodeURIComponent('https://coord.example')}`, { kind: 'own', server: 'https://coord.example' }],
    [`${page}?server=${encodeURIComponent('https://coord.example/fedtune/?x=1#y')}`, { kind: 'own', server: 'https://coord.example/fedtune' }],
    [`${page}?server=${encodeURIComponent('https://evil.example/p')}`, { kind: 'ask', requested: { url: 'https://evil.example/p', origin: 'https://evil.example' }, own: 'https://coord.example' }],
    // Another port or scheme is another origin.
    [`${page}?server=${encodeURIComponent('http://coord.example')}`, { kind: 'ask', requested: { url: 'http://coord.example', origin: 'http://coord.example' }, own: 'https://coord.example' }],
  ])('%s', (href, expected) => expect(joinServerChoice(href)).toEqual(expected));

  it.each(['not a url', 'javascript:alert(1)', 'ftp://x.example', 'https://user:pw@evil.example', 'https://a;b.example', '<img src=x onerror=alert(1)>', `https://${'a'.repeat(MAX_JOIN_SERVER_CHARS)}.example`])(
    'malformed %s: one line that does not quote it, and the own origin',
    (server) => {
      const choice = joinServerChoice(`${page}?server=${encodeURIComponent(server)}`);
      expect(choice).toMatchObject({ kind: 'invalid', own: 'https://coord.example' });
      const message = (choice as { message: string }).message;
      expect(message).not.toContain('\n');
      expect(message).not.toContain(server.slice(0, 12));
      expect(message.length).toBeLessThan(200);
    },
  );

  it('an internationalised host is shown as punycode (no look-alike letters)', () => {
    expect(parseJoinLinkServer('https://bücher.example').origin).toBe('https://xn--bcher-kva.example');
  });
});
