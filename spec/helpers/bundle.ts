// esbuild bundles for the browser, with a check that nothing of Node's reaches them (the platform-neutral core,
// docs/architecture.md): used by spec/core-bundle.spec.ts and the browser parity specs.
import { builtinModules } from 'node:module';
import * as esbuild from 'esbuild';

/** Packages that only work in Node (native code, files, processes). */
export const NODE_ONLY_PACKAGES = ['sharp', 'jimp', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', 'yauzl', 'tinyglobby', 'image-size', 'cli-progress', 'yargs'];

/** Project modules of the Node layer (repository paths; `node/` sub-folders are matched separately). */
const NODE_LAYER_MODULES = [/^src\/engine\/(native|backend)\.ts$/, /^src\/(data|io|weights|report|pipeline|classify|cli|bench|reproduce)\//, /^src\/util\/(fs|safe-read|journal|run-owner)\.ts$/, /^src\/index\.ts$/, /\/node\//];

const BUILTINS = new Set(builtinModules);

/** The result of {@link bundleForBrowser}. */
export interface BrowserBundle {
  /** The ESM bundle (empty when the build failed). */
  code: string;
  /** Every Node import found, as `importer -> import` lines (empty: none), plus esbuild's errors. */
  problems: string[];
  /** Repository files in the bundle. */
  projectFiles: string[];
}

const isBuiltin = (p: string): boolean => p.startsWith('node:') || BUILTINS.has(p) || BUILTINS.has(p.split('/')[0]!);
const packageOf = (p: string): string | undefined => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(p);
  return m?.[1];
};

/**
 * Bundles `entry` (a repository path, or `{ contents }` resolved from the repository root) for the browser platform and
 * lists what of Node it reaches: a built-in imported from a project file, a Node-only package anywhere, a project
 * module of the Node layer. A package's own browser mapping of a built-in (its package.json `browser` field, e.g.
 * tfjs-core's Node platform file) is the package's affair and not listed.
 */
export async function bundleForBrowser(entry: string | { contents: string }, opts: { minify?: boolean } = {}): Promise<BrowserBundle> {
  const problems: string[] = [];
  let result: esbuild.BuildResult<{ metafile: true; write: false }>;
  try {
    result = await esbuild.build({
      ...(typeof entry === 'string' ? { entryPoints: [entry] } : { stdin: { contents: entry.contents, resolveDir: process.cwd(), sourcefile: 'probe.ts', loader: 'ts' } }),
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      write: false,
      metafile: true,
      minify: opts.minify ?? false,
      logLevel: 'silent',
      // A bundle for pages: `process.env.NODE_ENV` is what tfjs and others read to pick production paths.
      define: { 'process.env.NODE_ENV': '"production"' },
    });
  } catch (e) {
    const errors = (e as { errors?: esbuild.Message[] }).errors ?? [];
    for (const m of errors) problems.push(`${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`);
    if (!errors.length) problems.push(String(e));
    return { code: '', problems, projectFiles: [] };
  }
  const inputs = result.metafile.inputs;
  const projectFiles = Object.keys(inputs).filter((f) => !f.includes('node_modules') && !f.startsWith('(disabled)') && f !== 'probe.ts');
  for (const [file, info] of Object.entries(inputs)) {
    const pkg = packageOf(file);
    if (pkg && NODE_ONLY_PACKAGES.includes(pkg)) problems.push(`bundle contains the Node-only package ${pkg} (${file})`);
    if (file.endsWith('.node')) problems.push(`bundle contains a native addon (${file})`);
    const ours = !file.includes('node_modules');
    if (ours && NODE_LAYER_MODULES.some((r) => r.test(file))) problems.push(`bundle contains the Node-layer module ${file}`);
    for (const imp of info.imports) {
      const orig = imp.original ?? imp.path;
      if (ours && (imp.external || imp.path.startsWith('(disabled)') || isBuiltin(orig))) problems.push(`${file} -> ${orig}`);
    }
  }
  return { code: result.outputFiles[0]?.text ?? '', problems, projectFiles };
}
