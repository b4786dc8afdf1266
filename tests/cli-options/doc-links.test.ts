import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every link from README.md or docs/*.md to a section (`file.md#anchor`, `#anchor`) lands on a heading, with the
 * anchors GitHub makes: lower case, punctuation dropped, spaces to hyphens, a repeated heading numbered. A new
 * user following the README found four links that missed (headings that carried a command in parentheses).
 */
const ROOT = join(import.meta.dirname, '..', '..');
const files = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

function githubAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of readFileSync(join(ROOT, file), 'utf8').split('\n')) {
    const m = /^#+\s+(.*)/.exec(line);
    if (!m) continue;
    const base = githubAnchor(m[1]);
    const n = seen.get(base);
    seen.set(base, (n ?? -1) + 1);
    out.add(n === undefined ? base : `${base}-${n + 1}`);
  }
  return out;
}

describe('links into the docs land on a section', () => {
  it('githubAnchor makes the anchors GitHub makes', () => {
    expect(githubAnchor('Sites that do not answer')).toBe('sites-that-do-not-answer');
    expect(githubAnchor('Round 3: where the CPU goes (`bench:load`)')).toBe('round-3-where-the-cpu-goes-benchload');
    expect(githubAnchor('Fast start, round 2: node:crypto terms')).toBe('fast-start-round-2-nodecrypto-terms');
  });

  it('every file.md#anchor and #anchor in README.md and docs/*.md names a heading of its file', () => {
    const anchors = new Map(files.map((f) => [normalize(f), anchorsOf(f)]));
    const broken: string[] = [];
    for (const file of files) {
      readFileSync(join(ROOT, file), 'utf8').split('\n').forEach((line, i) => {
        for (const m of line.matchAll(/((?:docs\/|\.\.\/)?[\w\-./]*\.md)#([\p{L}\p{N}_\-]+)/gu)) {
          const target = [normalize(join(dirname(file), m[1])), normalize(m[1])].find((t) => anchors.has(t));
          if (target && !anchors.get(target)!.has(m[2])) broken.push(`${file}:${i + 1}: ${m[1]}#${m[2]}`);
        }
        for (const m of line.matchAll(/\]\(#([\p{L}\p{N}_\-]+)\)/gu)) if (!anchors.get(normalize(file))!.has(m[1])) broken.push(`${file}:${i + 1}: #${m[1]}`);
      });
    }
    expect(broken).toEqual([]);
    expect(relative(ROOT, join(ROOT, files[0]))).toBe('README.md');
  });
});
