import type { z } from 'zod';
import { FedtuneError } from '../errors.ts';
import { clipText } from '../text/clip-text.ts';
import { jsonSyntaxMessage } from '../text/json-syntax-message.ts';
import { SitePolicy } from './site-policy.ts';

/**
 * A site policy from an already-parsed document (YAML or JSON, a browser's ?policy= parameter), validated by
 * the SitePolicy schema. A bad one is one clear line naming where it came from and the field:
 * `site-policy.yaml: training.maxRounds: expected a number …` (FedtuneError 'config').
 */
export function sitePolicyFrom(document: unknown, source: string): SitePolicy {
  const parsed = SitePolicy.safeParse(document ?? {});
  if (parsed.success) return parsed.data;
  throw new FedtuneError('config', clipText(`${source}: ${describeIssues(parsed.error)}`, 600));
}

/** A site policy from JSON text (the browser site's textarea or URL parameter). */
export function sitePolicyFromJson(text: string, source: string): SitePolicy {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new FedtuneError('config', clipText(`${source}: not valid JSON (${jsonSyntaxMessage(err)})`, 600));
  }
  return sitePolicyFrom(document, source);
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(policy)'}: ${i.message}`)
    .join('; ');
}
