// The folder import graph of src/ (static imports, re-exports and `import(…)` alike, types included) has no cycle:
// the enforcement of docs/architecture.md's layers. Reads the sources as text; it runs nothing.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const SRC = 'src';

/**
 * Folder edges still allowed while a known debt is open (docs/architecture.md). An entry that no longer exists fails
 * the spec, so that it is removed here when its debt is paid.
 */
const KNOWN_DEBTS: readonly string[] = [];

/** Every `.ts` file under `dir`, relative to src/, `/`-separated. */
function sources(dir = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(SRC, dir), { withFileTypes: true })) {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...sources(rel));
    else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** Module specifiers of one source: `import … from 'x'`, `export … from 'x'`, `import 'x'`, `import('x')`. */
function specifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  for (const m of code.matchAll(/\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    out.push((m[1] ?? m[2] ?? m[3])!);
  }
  return out;
}

/** The folder of a file relative to src/ (`''` for src/index.ts and src/version.ts). */
function folderOf(rel: string): string {
  const i = rel.indexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

/** Folder → folders it imports, with one file that does it per edge. */
function folderGraph(): Map<string, Map<string, string>> {
  const g = new Map<string, Map<string, string>>();
  for (const rel of sources()) {
    const from = folderOf(rel);
    if (!from) continue; // src/index.ts imports everything; src/version.ts nothing.
    for (const s of specifiers(readFileSync(path.join(SRC, rel), 'utf8'))) {
      if (!s.startsWith('.')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(rel), s));
      if (target.startsWith('..')) continue;
      const to = folderOf(target);
      if (!to || to === from) continue;
      if (!g.has(from)) g.set(from, new Map());
      if (!g.get(from)!.has(to)) g.get(from)!.set(to, rel);
    }
  }
  return g;
}

/** Strongly connected components with more than one folder (Tarjan). */
function cycles(g: Map<string, Map<string, string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let n = 0;
  const nodes = new Set([...g.keys(), ...[...g.values()].flatMap((m) => [...m.keys()])]);
  const visit = (v: string): void => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const v of [...nodes].sort()) if (!index.has(v)) visit(v);
  return out;
}

describe('folder imports (docs/architecture.md)', () => {
  it('finds static, type, re-export and dynamic imports', () => {
    const text = `import * as a from './a.js';\nimport type { B } from '../b/b.js';\nexport { c } from "./c.js";\nimport './d.js';\nconst e = await import('../e/e.js');\n// import { no } from './comment.js';\n/* import('./block.js') */\nimport {\n  f,\n  g,\n} from './fg.js';`;
    expect(specifiers(text)).to.deep.equal(['./a.js', '../b/b.js', './c.js', './d.js', '../e/e.js', './fg.js']);
  });

  it('no import cycle between folders of src/', () => {
    const g = folderGraph();
    for (const debt of KNOWN_DEBTS) {
      const [from, to] = debt.split(' → ') as [string, string];
      expect(g.get(from)?.has(to), `known debt "${debt}" is paid: remove it from KNOWN_DEBTS`).to.equal(true);
      g.get(from)!.delete(to);
    }
    const found = cycles(g).map((c) => {
      const edges = c.flatMap((a) => c.filter((b) => g.get(a)?.has(b)).map((b) => `${a} → ${b} (${g.get(a)!.get(b)})`));
      return `${c.join(' ↔ ')}: ${edges.join('; ')}`;
    });
    expect(found, found.join('\n')).to.deep.equal([]);
  });
});
