// README's library example runs verbatim: the ```ts block under "## Library" is written to a file next to a tsconfig
// that maps 'uol-rps' to src/index.ts, and run with tsx in a folder where data/ is the repository's sample photos.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { tmpDir } from './helpers/tmp.js';

const ROOT = path.resolve(import.meta.dirname, '..');

/** The first ```ts block after the heading. */
export function codeBlockAfter(markdown: string, heading: string, lang = 'ts'): string {
  const at = markdown.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README has no "${heading}"`);
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)\\n```').exec(markdown.slice(at));
  if (!m) throw new Error(`no \`\`\`${lang} block after "${heading}"`);
  return m[1]!;
}

describe("README's library example", function () {
  this.timeout(300_000);

  it('runs verbatim and writes the files it promises', () => {
    const code = codeBlockAfter(readFileSync(path.join(ROOT, 'README.md'), 'utf8'), '## Library');
    expect(code).to.match(/from 'uol-rps'/);
    const dir = tmpDir('uol-readme-');
    symlinkSync(path.join(ROOT, 'data'), path.join(dir, 'data'));
    writeFileSync(path.join(dir, 'example.ts'), code + '\n');
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', paths: { 'uol-rps': [path.join(ROOT, 'src', 'index.ts')] } } }));
    // tsx from this repository (the temp folder has no node_modules of its own).
    const tsx = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
    const out = execFileSync(process.execPath, ['--import', tsx, 'example.ts'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, TSX_TSCONFIG_PATH: path.join(dir, 'tsconfig.json') },
    });
    const lines = out.trim().split('\n');
    expect(lines[0]).to.match(/^cimg_parrot\.jpg \[/);
    for (const f of ['out/boxes.json', 'out/coco.json', 'out/predictor.json']) expect(existsSync(path.join(dir, f)), f).to.equal(true);
    expect(Number(lines[1])).to.be.within(0, 100);
    console.log(`      ${lines.join(' | ').slice(0, 200)}`);
  });
});
