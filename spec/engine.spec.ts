// Engine selection and `uol info`.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { runCli } from './helpers/cli.js';
import { initEngine } from '../src/engine/backend.js';

describe('engine', () => {
  it('uol info --json reports the active backend and why the others were skipped', async () => {
    const r = await runCli(['info', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const j = JSON.parse(r.stdout) as { backend: string; attempts: { name: string; active: boolean; reason: string }[]; versions: Record<string, string>; native: { reason: string } };
    expect(j.backend).to.equal(tf.getBackend());
    expect(j.versions['@tensorflow/tfjs-core']).to.equal('4.22.0');
    expect(j.native.reason.length).to.be.above(0);
    const active = j.attempts.filter((a) => a.active);
    expect(active).to.have.length(1);
  });

  it('auto selection skips the tfjs-node packages with a reason when they are not installed', async () => {
    // Resets to auto in a child process so this process keeps its backend.
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', "import('./src/engine/backend.ts').then(async m => { const e = await m.initEngine({ backend: 'auto' }); console.log(JSON.stringify(e.attempts)); })"], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const attempts = JSON.parse(r.stdout.trim().split('\n').pop()!) as { name: string; active: boolean; reason: string }[];
    expect(attempts.map((a) => a.name).slice(0, 3)).to.deep.equal(['node-gpu', 'webgpu', 'node']);
    const active = attempts.find((a) => a.active)!;
    expect(['node-gpu', 'webgpu', 'node', 'wasm', 'cpu']).to.include(active.name);
    for (const a of attempts.filter((x) => !x.active)) expect(a.reason).to.match(/not loadable|failed|not available|Vulkan|adapter|software renderer/);
  });

  it('a forced backend that cannot load is a usage error (exit 2)', async () => {
    let missing = false;
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      missing = true;
    }
    if (!missing) return;
    const r = await runCli(['info', '--backend', 'node']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/backend "node" is not available/);
    expect(tf.getBackend()).to.be.oneOf(['wasm', 'cpu']);
    await initEngine({ backend: (process.env.UOL_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm' });
  });

  it('webgpu (Dawn, npm webgpu): starts where an adapter is found, else fails with a one-line reason', function () {
    this.timeout(60_000);
    // A child process: on a machine with a GPU this really switches backend.
    const code = "import('./src/engine/backend.ts').then(m => m.initEngine({ backend: 'webgpu' })).then(e => console.log('OK ' + e.backend), e => console.log('ERR ' + e.constructor.name + ': ' + e.message))";
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { encoding: 'utf8' });
    const out = r.stdout.trim().split('\n').pop()!;
    if (out.startsWith('OK')) {
      expect(out).to.equal('OK webgpu');
      return;
    }
    expect(out).to.match(/^ERR UsageError: backend "webgpu" is not available \(webgpu: (no Vulkan loader|Dawn \(npm webgpu\) found no WebGPU adapter|the optional package webgpu)/);
    expect(out.split('\n')).to.have.length(1);
  });

  it('uol info says what tfjs-node-gpu needs when it is skipped (CUDA 11.2, cuDNN 8.1, libtensorflow 2.9.1, how to check)', async () => {
    const r = await runCli(['info']);
    expect(r.code, r.stderr).to.equal(0);
    if (!/skipped node-gpu/.test(r.stdout)) return; // tfjs-node-gpu runs here: nothing to explain
    for (const want of ['libtensorflow 2.9.1', 'CUDA 11.2', 'cuDNN 8.1', 'nvidia-smi', 'libcudnn.so.8', 'npm rebuild @tensorflow/tfjs-node-gpu', '--backend webgpu']) {
      expect(r.stdout).to.include(want);
    }
  });
});
