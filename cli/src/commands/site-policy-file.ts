import { parse } from 'yaml';
import { clipText, FedtuneError, sitePolicyFrom, type SitePolicy } from '@fedtune/shared';
import { readInputText } from '@fedtune/shared/node';

/** Largest site policy file read (a real one is a few hundred bytes). */
export const MAX_SITE_POLICY_BYTES = 1024 * 1024;

/** `fedtune client --policy FILE`: a YAML or JSON site policy (docs/site-policy.md); a bad one is one line naming the file and the field. */
export function loadSitePolicyFile(path: string): SitePolicy {
  let text: string;
  try {
    text = readInputText(path, { what: 'site policy', code: 'config', missingCode: 'not_found', maxBytes: MAX_SITE_POLICY_BYTES });
  } catch (err) {
    // A pipe, a directory, a file too large: already one config line naming it.
    if ((err as FedtuneError).code !== 'not_found') throw err;
    throw new FedtuneError('config', clipText(`cannot read the site policy ${path}: ENOENT (no such file)`, 600), { cause: err });
  }
  let document: unknown;
  try {
    document = parse(text);
  } catch (err) {
    throw new FedtuneError('config', clipText(`${path}: not valid YAML or JSON (${(err as Error).message.split('\n')[0]})`, 600));
  }
  return sitePolicyFrom(document, path);
}
