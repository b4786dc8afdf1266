import { describe, expect, it } from 'vitest';
import { SiteRegistry } from '@fedtune/coordinator';
import { PROTOCOL_VERSION, type Hello, type SiteLink } from '@fedtune/shared';

function hello(siteId: string): Hello {
  return { protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: 'cpu', runtime: 'node', numExamples: 10 } };
}

function link(id: string): SiteLink {
  return { id, closed: false } as unknown as SiteLink;
}

/** What `size` must be: joined sites (terms accepted) that hold their name. */
function counted(registry: SiteRegistry): number {
  return registry.ids().length;
}

describe('SiteRegistry.size: joined sites counted as they join and leave (O(1) per read)', () => {
  it('counts a site when its terms are accepted, not before, and not twice', () => {
    const r = new SiteRegistry();
    const a = r.join(link('a'), hello('a'), true);
    expect(r.size).toBe(0);
    a.termsAccepted = true;
    expect(r.size).toBe(1);
    a.termsAccepted = true;
    expect(r.size).toBe(1);
    a.termsAccepted = false;
    expect(r.size).toBe(0);
    a.termsAccepted = true;
    r.join(link('b'), hello('b'));
    expect(r.size).toBe(2);
    expect(r.size).toBe(counted(r));
  });

  it('uncounts a joined site that leaves, and ignores a pending one that leaves or a second leave', () => {
    const r = new SiteRegistry();
    const la = link('a');
    const lb = link('b');
    r.join(la, hello('a'));
    r.join(lb, hello('b'), true);
    expect(r.size).toBe(1);
    r.leave(lb);
    expect(r.size).toBe(1);
    r.leave(la);
    expect(r.size).toBe(0);
    r.leave(la);
    expect(r.size).toBe(0);
  });

  it('counts a site once when a new connection takes its name, however the old one leaves afterwards', () => {
    const r = new SiteRegistry();
    const old = link('old');
    const oldState = r.join(old, hello('a'));
    const fresh = link('new');
    r.join(fresh, hello('a'));
    expect(r.size).toBe(1);
    // The replaced connection's state no longer counts: changing it or closing it changes nothing.
    oldState.termsAccepted = false;
    expect(r.size).toBe(1);
    r.leave(old);
    expect(r.size).toBe(1);
    expect(r.get('a')?.link).toBe(fresh);
    r.leave(fresh);
    expect(r.size).toBe(0);
  });

  it('a pending connection that takes the name of a joined site uncounts it until it accepts', () => {
    const r = new SiteRegistry();
    r.join(link('1'), hello('a'));
    const pending = r.join(link('2'), hello('a'), true);
    expect(r.size).toBe(0);
    pending.termsAccepted = true;
    expect(r.size).toBe(1);
  });

  it('stays equal to the joined ids through 3,000 joins, acceptances and leaves', () => {
    const r = new SiteRegistry();
    const links = Array.from({ length: 1000 }, (_, i) => link(`l${i}`));
    const states = links.map((l, i) => r.join(l, hello(`s${i % 700}`), i % 3 === 0));
    for (let i = 0; i < 1000; i += 2) states[i].termsAccepted = true;
    for (let i = 0; i < 1000; i += 5) r.leave(links[i]);
    expect(r.size).toBe(counted(r));
    expect(r.size).toBeGreaterThan(0);
  });
});
