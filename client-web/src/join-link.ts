import { FedtuneError, SitePolicy, sitePolicyFromJson } from '@fedtune/shared';

/** The fields a join link (`/site/?server=…&site=…&token=…&backend=…`) can prefill. */
export interface JoinLink {
  server: string;
  site?: string;
  token?: string;
  backend?: string;
  /** The site's policy as JSON text (`&policy=` + encodeURIComponent(JSON)); parsed with `browserSitePolicy`. */
  policy?: string;
}

/**
 * The join link without its secret (`token`), for the address bar: a token left there stays in the browser's
 * history and goes wherever the address is copied. Undefined when the link holds none (nothing to rewrite).
 */
export function joinLinkWithoutToken(href: string): string | undefined {
  const url = new URL(href);
  if (!url.searchParams.has('token')) return undefined;
  url.searchParams.delete('token');
  return url.href;
}

/** Reads a join link; the coordinator defaults to the origin that served the page. */
export function parseJoinLink(href: string): JoinLink {
  const url = new URL(href);
  const q = url.searchParams;
  const opt = (k: string) => q.get(k)?.trim() || undefined;
  return { server: opt('server') ?? url.origin, site: opt('site'), token: opt('token'), backend: opt('backend'), ...(opt('policy') ? { policy: opt('policy') } : {}) };
}

/**
 * The protections of the default policy that `policy` lowers, one phrase each (none: it only tightens). A join
 * link comes from whoever invites the site — usually the coordinator the policy guards against — so a link may
 * add limits but not take the defaults' away: turning model inspection off or to a warning, allowing a finding,
 * more activations per example, metrics over fewer examples, sharing the data summary or its feature names.
 */
export function loweredProtections(policy: SitePolicy): string[] {
  const defaults = SitePolicy.parse({});
  const lowered: string[] = [];
  if (policy.model.inspection.action !== defaults.model.inspection.action) lowered.push(`model inspection set to '${policy.model.inspection.action}'`);
  if (policy.model.inspection.allow.length > 0) lowered.push(`model inspection findings allowed (${policy.model.inspection.allow.length})`);
  if (policy.model.maxActivationsPerExample > defaults.model.maxActivationsPerExample) lowered.push(`model.maxActivationsPerExample raised to ${policy.model.maxActivationsPerExample}`);
  if (policy.privacy.minExamplesPerMetric < defaults.privacy.minExamplesPerMetric) lowered.push(`privacy.minExamplesPerMetric lowered to ${policy.privacy.minExamplesPerMetric}`);
  if (policy.data.shareSummary) lowered.push('data.shareSummary on');
  if (policy.data.shareFeatureNames) lowered.push('data.shareFeatureNames on');
  return lowered;
}

/**
 * The browser site's policy (docs/site-policy.md): the same SitePolicy object as `fedtune client --policy`,
 * as JSON (the join link's ?policy= parameter). None: the default policy. A bad one, or one that lowers a
 * default protection (loweredProtections), throws one clear line.
 */
export function browserSitePolicy(text: string | undefined): SitePolicy | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const policy = sitePolicyFromJson(text, 'the site policy (?policy=)');
  const lowered = loweredProtections(policy);
  if (lowered.length > 0) {
    throw new FedtuneError('config', `the site policy (?policy=) would lower this site's protections: ${lowered.join('; ')}. A join link can only add limits (it comes from whoever invites the site); join without ?policy= or with one that only tightens`);
  }
  return policy;
}
