import { oneLine, type Hello, type SiteLink } from '@fedtune/shared';
import { SortedSiteIds } from './sorted-site-ids.ts';

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

/**
 * One registered connection's state. A class (its accessor on the prototype, no closures per site): an idle
 * site costs the coordinator this object and its two map entries, however many sites join.
 */
class RegisteredSite implements SiteState {
  hasTopology = false;
  heldModelVersion?: number;
  status: SiteState['status'] = 'idle';
  lastSeen: number;
  readonly backend: string;
  readonly runtime: 'node' | 'browser';
  readonly numExamples: number;
  readonly siteId: string;
  #accepted: boolean;

  constructor(
    private readonly registry: SiteRegistry,
    readonly link: SiteLink,
    hello: Hello,
    readonly joinedAt: number,
    accepted: boolean,
  ) {
    this.siteId = hello.siteId;
    // Printed when the site joins (the console, the dashboard, the database): one line.
    this.backend = oneLine(hello.capabilities.backend, 64);
    this.runtime = hello.capabilities.runtime;
    this.numExamples = hello.capabilities.numExamples;
    this.lastSeen = joinedAt;
    this.#accepted = accepted;
  }

  get termsAccepted(): boolean {
    return this.#accepted;
  }

  set termsAccepted(value: boolean) {
    this.#accepted = value;
    this.registry.recount(this);
  }
}

/** The sites currently joined, by site id and by connection. */
export class SiteRegistry {
  private readonly bySite = new Map<string, SiteState>();
  private readonly byLink = new Map<SiteLink, SiteState>();
  /**
   * Ids of the registered sites whose terms are accepted, kept in canonical order as they join and leave:
   * `size` in O(1) and `ids()` without a sort, however many sites join (sorted-site-ids.ts).
   */
  private readonly joined = new SortedSiteIds();

  /** Registers a welcomed connection; `pending`: it joins once it accepts the run's terms (`accept`). */
  join(link: SiteLink, hello: Hello, pending = false): SiteState {
    const state = new RegisteredSite(this, link, hello, Date.now(), !pending);
    this.bySite.set(hello.siteId, state);
    this.byLink.set(link, state);
    this.recount(state);
    return state;
  }

  /** A state's terms were accepted or withdrawn: it counts as joined while it is the registered one for its name. */
  recount(state: SiteState): void {
    if (this.bySite.get(state.siteId) !== state) return;
    if (state.termsAccepted) this.joined.add(state.siteId);
    else this.joined.delete(state.siteId);
  }

  leave(link: SiteLink): SiteState | undefined {
    const state = this.byLink.get(link);
    if (!state) return undefined;
    this.byLink.delete(link);
    if (this.bySite.get(state.siteId) === state) {
      this.joined.delete(state.siteId);
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

  /** Joined site ids (terms accepted) in canonical (sorted) order: a fresh copy, kept sorted on join and leave. */
  ids(): string[] {
    return this.joined.toArray();
  }

  all(): SiteState[] {
    return this.ids().map((id) => this.bySite.get(id)!);
  }

  /** Joined sites (terms accepted). */
  get size(): number {
    return this.joined.size;
  }
}
