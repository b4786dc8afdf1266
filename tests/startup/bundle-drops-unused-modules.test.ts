import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { BUNDLE_DIR, BUNDLED_COMMANDS, DROPPABLE_PACKAGE_DIRS, MODULES_WITH_SIDE_EFFECTS } from '../../scripts/build-bundles.mjs';

/**
 * The bundles leave out fedtune's compiled modules they use nothing of (scripts/build-bundles.mjs,
 * unusedModulesDroppedPlugin): safe only for modules that do nothing when loaded. Every bundled module that
 * does — a top-level statement other than a declaration or an import/export, or a bare `import 'x'` — must be
 * in MODULES_WITH_SIDE_EFFECTS, which are kept whenever imported.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Whether a node assigns to something reached through `globalThis` (a read is harmless). */
function writesGlobal(node: ts.Node): boolean {
  if (ts.isBinaryExpression(node) && node.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && node.operatorToken.kind <= ts.SyntaxKind.LastAssignment && /\bglobalThis\b/.test(node.left.getText())) return true;
  return ts.forEachChild(node, writesGlobal) ?? false;
}

/** The top-level statements of a module that act when it loads. */
function actsWhenLoaded(source: string): string[] {
  const file = ts.createSourceFile('m.js', source, ts.ScriptTarget.Latest, true);
  const acts: string[] = [];
  for (const st of file.statements) {
    if (ts.isImportDeclaration(st)) {
      if (!st.importClause) acts.push(st.getText());
      continue;
    }
    if (ts.isExportDeclaration(st) || ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st) || ts.isEmptyStatement(st)) continue;
    if (ts.isVariableStatement(st)) {
      // A declaration may still act: an initializer that writes to a global.
      if (writesGlobal(st)) acts.push(st.getText().slice(0, 80));
      continue;
    }
    acts.push(st.getText().slice(0, 80));
  }
  return acts;
}

describe('bundles leave out the compiled modules they do not use', () => {
  it('finds what a module does when loaded (the check below relies on it)', () => {
    expect(actsWhenLoaded("import { a } from './a.js';\nexport const x = z.object({});\nfunction f() {}\nclass C {}\nexport * from './b.js';")).toEqual([]);
    expect(actsWhenLoaded("import './register.js';")).toEqual(["import './register.js';"]);
    expect(actsWhenLoaded('registerKernel(config);')).toEqual(['registerKernel(config);']);
    expect(actsWhenLoaded("if (bigEndian) throw new Error('x');")).toHaveLength(1);
    expect(actsWhenLoaded('const store = globalThis[KEY] ??= new Map();')).toHaveLength(1);
    expect(actsWhenLoaded("const defer = typeof globalThis.setImmediate === 'function' ? (f) => globalThis.setImmediate(f) : setTimeout;")).toEqual([]);
  });

  it('every bundled fedtune module that acts when loaded is kept (MODULES_WITH_SIDE_EFFECTS), and each listed one does act (npm run build:js first)', () => {
    const bundled = new Set<string>();
    for (const command of Object.keys(BUNDLED_COMMANDS)) {
      const file = join(ROOT, BUNDLE_DIR, `${command}.inputs.json`);
      if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build:js (npm test does)`);
      for (const input of JSON.parse(readFileSync(file, 'utf8')) as string[]) if (DROPPABLE_PACKAGE_DIRS.some((d: string) => input.startsWith(`${d}/`))) bundled.add(input);
    }
    expect(bundled.size).toBeGreaterThan(100);
    const acting = [...bundled].filter((f) => actsWhenLoaded(readFileSync(join(ROOT, f), 'utf8')).length > 0).sort();
    expect(acting).toEqual([...MODULES_WITH_SIDE_EFFECTS].filter((f) => bundled.has(f)).sort());
    for (const f of MODULES_WITH_SIDE_EFFECTS) expect(actsWhenLoaded(readFileSync(join(ROOT, f), 'utf8')).length, f).toBeGreaterThan(0);
  });

  it('the client bundle no longer holds the report and audit schemas it never uses, and still holds the wire messages', () => {
    const client = readFileSync(join(ROOT, BUNDLE_DIR, 'client.cjs'), 'latin1');
    for (const unused of ['RunReport=', 'AuditEntry=', 'TextRobustnessReportSchema=']) expect(client.includes(unused), unused).toBe(false);
    for (const used of ['Welcome=', 'Hello=']) expect(client.includes(used), used).toBe(true);
  });
});
