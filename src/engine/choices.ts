/**
 * Backend choices, in a module with no TF.js import so that the CLI can declare its options without loading an engine.
 */

/**
 * `--backend` choices: auto picks tfjs-node-gpu (CUDA) → webgpu (TF.js's WebGPU backend on Dawn, npm `webgpu`: Vulkan,
 * no CUDA) → tfjs-node → wasm → cpu.
 */
export const BACKEND_CHOICES = ['auto', 'node-gpu', 'webgpu', 'node', 'wasm', 'cpu'] as const;
/** One of {@link BACKEND_CHOICES}. */
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
