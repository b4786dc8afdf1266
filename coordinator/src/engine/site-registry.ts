import type { Hello, SiteLink } from '@fedtune/shared';

export interface SiteState {
  siteId: string;
  link: SiteLink;
  backend: string;
  runtime: 'node' | 'browser';
  numExamples: number;
  joinedAt: number;
  lastSeen: number;
  /** Whether this connection has received the model topology (sent once per connection). */
  hasTopology: boolean;
  /**
   * The global model version this connection holds (it said so after evaluating the version it was sent):
   * instructions for it carry no weights. Undefined: it holds none we know of.
   */
  heldModelVersion?: number;
  /** Last status the site reported in a heartbeat. */
  status: 'idle' | 'training' | 'evaluating';
  /** Whether the site accepted the run's terms: only then is it joined (counted, selected, listed). */
  termsAccepted: boolean;
}

/** The sites currently joined, by site id and by connection. */
export class SiteRegistry {
  private readonly bySite = new Map<string, SiteState>();
  private readonly byLink = new Map<SiteLink, SiteState>();
  /** Registered sites whose terms are accepted: `size` in O(1), however many sites join (a join wakes the engine's wait, which reads it). */
  private joined = 0;

  /** Registers a welcomed connection; `pending`: it joins once it accepts the run's terms (`accept`). */
  join(link: SiteLink, hello: Hello, pending = false): SiteState {
    const now = Date.now();
    // termsAccepted counts in `size` while the state is the registered one for its name.
    let accepted = !pending;
    const count = (state: SiteState, delta: number) => {
      if (this.bySite.get(state.siteId) === state) this.joined += delta;
    };
    const state: SiteState = {
      siteId: hello.siteId,
      link,
      backend: hello.capabilities.backend,
      runtime: hello.capabilities.runtime,
      numExamples: hello.capabilities.numExamples,
      joinedAt: now,
      lastSeen: now,
      hasTopology: false,
      status: 'idle',
      get termsAccepted() {
        return accepted;
      },
      set termsAccepted(value: boolean) {
        if (value !== accepted) count(state, value ? 1 : -1);
        accepted = value;
      },
    };
    const replaced = this.bySite.get(hello.siteId);
    if (replaced?.termsAccepted) this.joined--;
    this.bySite.set(hello.siteId, state);
    if (accepted) this.joined++;
    this.byLink.set(link, state);
    return state;
  }

  leave(link: SiteLink): SiteState | undefined {
    const state = this.byLink.get(link);
    if (!state) return undefined;
    this.byLink.delete(link);
    if (this.bySite.get(state.siteId) === state) {
      if (state.termsAccepted) this.joined--;
      this.bySite.delete(state.siteId);
    }
    return state;
  }

  ofLink(link: SiteLink): SiteState | undefined {
    return this.byLink.get(link);
  }

  get(siteId: string): SiteState | undefined {
    return this.bySite.get(siteId);
  }

  has(siteId: string): boolean {
    return this.bySite.has(siteId);
  }

  /** Joined site ids (terms accepted) in canonical (sorted) order. */
  ids(): string[] {
    return [...this.bySite.values()].filter((s) => s.termsAccepted).map((s) => s.siteId).sort();
  }

  all(): SiteState[] {
    return this.ids().map((id) => this.bySite.get(id)!);
  }

  /** Joined sites (terms accepted). */
  get size(): number {
    return this.joined;
  }
}
