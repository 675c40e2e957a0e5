// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

// The platform-neutral core (src/core.ts and the modules it reaches; docs/architecture.md, "Platform-neutral core and
// the Node layer"): no Node built-in, native or Node-only package, and no project module of the Node layer (type-only
// imports excepted: they vanish at compile time). spec/core-bundle.spec.ts checks the same by bundling src/core.ts for
// the browser.
const CORE_FILES = [
  'src/core.ts',
  'src/backbones/*.ts',
  'src/rps/*.ts',
  'src/localize/**/*.ts',
  'src/evaluate/*.ts',
  'src/engine/fused.ts',
  'src/engine/native-state.ts',
  'src/engine/choices.ts',
  'src/util/{base64,errors,progress,random,settings,text}.ts',
];
const NODE_PACKAGES = ['sharp', 'jimp', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu', 'yauzl', 'tinyglobby', 'image-size', 'cli-progress', 'yargs'];
const NODE_MESSAGE = 'the platform-neutral core must not import Node built-ins or Node-only packages: put file/OS access in a node/ module';
const NODE_LAYER = ['**/node/*', '**/engine/native.js', '**/engine/backend.js', '**/util/fs.js', '**/util/safe-read.js', '**/util/journal.js', '**/util/run-owner.js', '**/data/*', '**/io/*', '**/weights/*', '**/report/*', '**/pipeline/*', '**/classify/*', '**/cli/*', '**/bench/*', '**/reproduce/*', '**/index.js'];

export default tseslint.config(
  { ignores: ['dist/**', 'dist-web/**', 'node_modules/**', 'native/build/**', 'converted-models/**', 'coverage/**', 'scratch/**', 'bench-results/**', '**/*.py'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error'],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // Only the CLI and tools print; library code reports through callbacks.
    files: ['src/cli/**/*.ts', 'tools/**/*.ts', 'spec/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: CORE_FILES,
    ignores: ['src/**/node/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          // Exact names (built-ins such as `util` would otherwise match the project's util/ folder as patterns).
          paths: [...builtinModules, ...NODE_PACKAGES].map((name) => ({ name, message: NODE_MESSAGE })),
          patterns: [
            { group: ['node:*', '@tensorflow/tfjs-node*'], message: NODE_MESSAGE },
            { group: NODE_LAYER, allowTypeImports: true, message: 'the platform-neutral core must not import the Node layer (node/ modules, engine start, native addon, files, images): pass data in, or move the I/O to a node/ module' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly' } },
  },
);
