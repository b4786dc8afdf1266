import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { clipText, FedtuneError, sitePolicyFrom, type SitePolicy } from '@fedtune/shared';

/** `fedtune client --policy FILE`: a YAML or JSON site policy (docs/site-policy.md); a bad one is one line naming the file and the field. */
export function loadSitePolicyFile(path: string): SitePolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FedtuneError('config', clipText(`cannot read the site policy ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 600));
  }
  let document: unknown;
  try {
    document = parse(text);
  } catch (err) {
    throw new FedtuneError('config', clipText(`${path}: not valid YAML or JSON (${(err as Error).message.split('\n')[0]})`, 600));
  }
  return sitePolicyFrom(document, path);
}
