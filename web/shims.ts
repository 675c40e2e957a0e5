// Globals some core modules still reach for, injected into the browser bundle by tools/build-web.mjs: `Buffer` (base64
// of predictor arrays, from the `buffer` package that nsfwjs depends on) and an empty `process.env` (settings are
// defaults in the page).
import { Buffer as BufferPolyfill } from 'buffer';

const g = globalThis as unknown as { Buffer?: unknown; process?: { env: Record<string, string | undefined> } };
export const Buffer = (g.Buffer as typeof BufferPolyfill | undefined) ?? BufferPolyfill;
export const process = g.process ?? { env: {}, platform: 'browser', versions: {}, cwd: () => '/' };
