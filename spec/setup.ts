// Mocha root hooks: start the engine once (wasm unless UOL_BACKEND says otherwise) before any test.
import { initEngine } from '../src/engine/backend.js';

// The one-time "build the native addon" tip (cli/context.ts) is for users; in-process CLI runs keep stderr to themselves.
process.env.UOL_NO_HINTS ??= '1';

export const mochaHooks = {
  async beforeAll(): Promise<void> {
    await initEngine({ backend: (process.env.UOL_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm' });
  },
};
