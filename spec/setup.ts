// Mocha root hooks: start the engine once (wasm unless UOL_BACKEND says otherwise) before any test.
import { initEngine } from '../src/engine/backend.js';

export const mochaHooks = {
  async beforeAll(): Promise<void> {
    await initEngine({ backend: (process.env.UOL_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm' });
  },
};
