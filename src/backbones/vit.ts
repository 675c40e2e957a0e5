/**
 * Vision Transformer with DINO / DINOv2 semantics, as tf ops.
 *
 * - Patch embedding: `Conv2d(3, C, p, stride p)` → tokens in row-major patch order; CLS token prepended; position
 *   embeddings added (interpolated with PyTorch-exact bicubic for other grids); DINOv2 registers inserted after.
 * - Pre-norm blocks: `x + attn(norm1(x))`, `x + mlp(norm2(x))` (DINOv2: each branch times LayerScale γ); LayerNorm eps
 *   1e-6, qkv bias, exact (erf) GELU, attention scale `head_dim^-0.5`.
 * - Feature: final-normed patch tokens (CLS and registers dropped), ReLU'd, on the patch grid `[B, H/p, W/p, C]`.
 *
 * Layout for wasm: tokens stay 2-D `[B·N, C]`; every linear layer is one `[B·N,in] @ [in,out]` matmul with weights
 * transposed at load. The attention scale is folded into the q columns of the qkv weights at load (exact for the
 * power-of-two scales of head_dim 64). Attention runs either per (image, head) as 2-D matmuls — the XNNPACK fast path
 * on plain wasm — or as batched 3-D matmuls (better when a native BatchMatMul kernel or tfjs-node is active); the
 * stages (qkv, attention, proj, mlp) are separate methods so kernels can be swapped or profiled one at a time.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../util/errors.js';
import type { BackboneIdentity, FeatureExtractor } from './types.js';
import { bicubicAntialiasMatrix, bicubicMatrix, resampleGrid, weight, type WeightMap } from './ops.js';
import { fusedAttention, fusedLayerNorm, fusedLinear, fusedTransformerKernels, hasKernel } from '../engine/fused.js';
import { holdOnce, nativeStatus } from '../engine/native-state.js';

/** How position embeddings are resized to another patch grid. */
export type PosInterpolation =
  /** DINO and DINOv2 without registers: bicubic, `scale_factor=(g+0.1)/M`, no antialias. */
  | 'bicubic-offset'
  /** DINOv2 with registers: bicubic to `size=(gh,gw)` with `antialias=True`. */
  | 'bicubic-antialias';

/** ViT hyper-parameters. */
export interface VitConfig {
  /** Token width C. */
  embedDim: number;
  /** Number of blocks. */
  depth: number;
  /** Attention heads (C must be divisible). */
  heads: number;
  /** Patch size p. */
  patch: number;
  /** MLP hidden = mlpRatio · C. */
  mlpRatio: number;
  /** Side M of the stored position-embedding grid (pos_embed has 1 + M² rows). */
  posGrid: number;
  /** Register tokens (DINOv2 "reg" models), 0 otherwise. */
  numRegisters: number;
  /** DINOv2 LayerScale (`ls1.gamma`, `ls2.gamma`). */
  layerScale: boolean;
  /** Position-embedding interpolation rule. */
  posInterpolation: PosInterpolation;
  /** LayerNorm epsilon (1e-6 for DINO/DINOv2). */
  eps: number;
}

/**
 * Attention implementation: `per-head` 2-D matmuls, `batched` 3-D matmuls, `fused` the native attention kernel
 * (src/engine/fused.ts; per-head or batched by backend whenever it is not registered), or `auto` (chosen at
 * construction: fused when the native transformer kernels are registered).
 */
export type AttentionMode = 'per-head' | 'batched' | 'fused' | 'auto';

interface Block {
  n1g: tf.Tensor1D;
  n1b: tf.Tensor1D;
  qkvW: tf.Tensor2D;
  qkvB: tf.Tensor1D;
  projW: tf.Tensor2D;
  projB: tf.Tensor1D;
  n2g: tf.Tensor1D;
  n2b: tf.Tensor1D;
  fc1W: tf.Tensor2D;
  fc1B: tf.Tensor1D;
  fc2W: tf.Tensor2D;
  fc2B: tf.Tensor1D;
  ls1?: tf.Tensor1D;
  ls2?: tf.Tensor1D;
}

/** Expected PyTorch keys and shapes of a ViT with `cfg` (what a checkpoint must contain). */
export function vitExpectedShapes(cfg: VitConfig): { key: string; shape: number[]; optional?: boolean; unused?: boolean }[] {
  const C = cfg.embedDim;
  const Hd = Math.round(C * cfg.mlpRatio);
  const p = cfg.patch;
  const out: { key: string; shape: number[]; optional?: boolean; unused?: boolean }[] = [
    { key: 'cls_token', shape: [1, 1, C] },
    { key: 'pos_embed', shape: [1, 1 + cfg.posGrid * cfg.posGrid, C] },
    { key: 'patch_embed.proj.weight', shape: [C, 3, p, p] },
    { key: 'patch_embed.proj.bias', shape: [C] },
  ];
  if (cfg.numRegisters > 0) out.push({ key: 'register_tokens', shape: [1, cfg.numRegisters, C] });
  if (cfg.layerScale) out.push({ key: 'mask_token', shape: [1, C], optional: true, unused: true });
  for (let i = 0; i < cfg.depth; i++) {
    const b = `blocks.${i}.`;
    out.push(
      { key: `${b}norm1.weight`, shape: [C] },
      { key: `${b}norm1.bias`, shape: [C] },
      { key: `${b}attn.qkv.weight`, shape: [3 * C, C] },
      { key: `${b}attn.qkv.bias`, shape: [3 * C] },
      { key: `${b}attn.proj.weight`, shape: [C, C] },
      { key: `${b}attn.proj.bias`, shape: [C] },
      { key: `${b}norm2.weight`, shape: [C] },
      { key: `${b}norm2.bias`, shape: [C] },
      { key: `${b}mlp.fc1.weight`, shape: [Hd, C] },
      { key: `${b}mlp.fc1.bias`, shape: [Hd] },
      { key: `${b}mlp.fc2.weight`, shape: [C, Hd] },
      { key: `${b}mlp.fc2.bias`, shape: [C] },
    );
    if (cfg.layerScale) out.push({ key: `${b}ls1.gamma`, shape: [C] }, { key: `${b}ls2.gamma`, shape: [C] });
  }
  out.push({ key: 'norm.weight', shape: [C] }, { key: 'norm.bias', shape: [C] });
  return out;
}

/** Options of {@link VisionTransformer}. */
export interface VitOptions {
  attention?: AttentionMode;
}

/**
 * Picks the attention mode for the active backend: fused when the native transformer kernels are registered,
 * per-head on plain wasm, batched elsewhere.
 */
export function defaultAttentionMode(nativeBatchMatMul: boolean): Exclude<AttentionMode, 'auto'> {
  if (fusedTransformerKernels()) return 'fused';
  return tf.getBackend() === 'wasm' && !nativeBatchMatMul ? 'per-head' : 'batched';
}

/** A DINO / DINOv2 ViT feature extractor. Weights in TF layout (see backbones/layout.ts). */
export class VisionTransformer implements FeatureExtractor {
  readonly identity: BackboneIdentity;
  /** Attention implementation in use. */
  readonly attention: Exclude<AttentionMode, 'auto'>;
  private readonly patchW: tf.Tensor4D;
  private readonly patchB: tf.Tensor1D;
  private readonly clsPos: tf.Tensor3D; // cls_token + pos_embed[0]  [1,1,C]
  private readonly posPatch: tf.Tensor2D; // [M², C]
  private readonly registers?: tf.Tensor3D; // [1,R,C]
  private readonly blocks: Block[] = [];
  private readonly normG: tf.Tensor1D;
  private readonly normB: tf.Tensor1D;
  private disposed = false;

  constructor(
    readonly config: VitConfig,
    weights: WeightMap,
    identity: Omit<BackboneIdentity, 'channels' | 'stride' | 'featureLayer'>,
    opts: VitOptions & { nativeBatchMatMul?: boolean } = {},
  ) {
    const C = config.embedDim;
    if (C % config.heads !== 0) throw new UsageError(`embedDim ${C} is not divisible by heads ${config.heads}`);
    this.identity = { ...identity, featureLayer: 'norm:patch-tokens+relu', channels: C, stride: config.patch };
    this.attention = !opts.attention || opts.attention === 'auto' ? defaultAttentionMode(!!opts.nativeBatchMatMul) : opts.attention;
    const t1 = (k: string): tf.Tensor1D => tf.tensor1d(weight(weights, k).data);
    const t2 = (k: string): tf.Tensor2D => {
      const w = weight(weights, k);
      return tf.tensor2d(w.data, w.shape as [number, number]);
    };
    const scale = Math.pow(C / config.heads, -0.5);
    const pe = weight(weights, 'patch_embed.proj.weight');
    this.patchW = tf.tensor4d(pe.data, pe.shape as [number, number, number, number]);
    this.patchB = t1('patch_embed.proj.bias');
    const pos = weight(weights, 'pos_embed').data;
    const cls = weight(weights, 'cls_token').data;
    const clsPos = new Float32Array(C);
    for (let c = 0; c < C; c++) clsPos[c] = cls[c]! + pos[c]!;
    this.clsPos = tf.tensor3d(clsPos, [1, 1, C]);
    this.posPatch = tf.tensor2d(pos.subarray(C), [config.posGrid * config.posGrid, C]);
    if (config.numRegisters > 0) this.registers = tf.tensor3d(weight(weights, 'register_tokens').data, [1, config.numRegisters, C]);
    for (let i = 0; i < config.depth; i++) {
      const b = `blocks.${i}.`;
      // Fold the attention scale into the q columns (first C outputs) of qkv.
      const qw = weight(weights, `${b}attn.qkv.weight`);
      const qkvW = Float32Array.from(qw.data);
      for (let r = 0; r < C; r++) for (let c = 0; c < C; c++) qkvW[r * 3 * C + c]! *= scale;
      const qkvB = Float32Array.from(weight(weights, `${b}attn.qkv.bias`).data);
      for (let c = 0; c < C; c++) qkvB[c]! *= scale;
      const blk: Block = {
        n1g: t1(`${b}norm1.weight`),
        n1b: t1(`${b}norm1.bias`),
        qkvW: tf.tensor2d(qkvW, [C, 3 * C]),
        qkvB: tf.tensor1d(qkvB),
        projW: t2(`${b}attn.proj.weight`),
        projB: t1(`${b}attn.proj.bias`),
        n2g: t1(`${b}norm2.weight`),
        n2b: t1(`${b}norm2.bias`),
        fc1W: t2(`${b}mlp.fc1.weight`),
        fc1B: t1(`${b}mlp.fc1.bias`),
        fc2W: t2(`${b}mlp.fc2.weight`),
        fc2B: t1(`${b}mlp.fc2.bias`),
      };
      if (config.layerScale) {
        blk.ls1 = t1(`${b}ls1.gamma`);
        blk.ls2 = t1(`${b}ls2.gamma`);
      }
      this.blocks.push(blk);
      // Weights held once: the native kernels keep these packed in place (no second copy; src/engine/native-kernels.ts).
      holdOnce([blk.qkvW, blk.projW, blk.fc1W, blk.fc2W]);
    }
    this.normG = t1('norm.weight');
    this.normB = t1('norm.bias');
  }

  /** Position embeddings of the patch tokens for a `gh×gw` grid from an `H×W` input: `[gh·gw, C]`. */
  positionEmbeddings(gh: number, gw: number, H: number, W: number): tf.Tensor2D {
    const M = this.config.posGrid;
    // Same test as DINO/DINOv2 `interpolate_pos_encoding`: `npatch == N and w == h` returns pos_embed unchanged.
    if (gh * gw === M * M && H === W) return tf.clone(this.posPatch);
    let wy: Float64Array;
    let wx: Float64Array;
    if (this.config.posInterpolation === 'bicubic-antialias') {
      wy = bicubicAntialiasMatrix(M, gh);
      wx = bicubicAntialiasMatrix(M, gw);
    } else {
      const sy = (gh + 0.1) / M;
      const sx = (gw + 0.1) / M;
      if (Math.floor(M * sy) !== gh || Math.floor(M * sx) !== gw) throw new Error(`position-embedding interpolation to ${gh}×${gw} is not representable`);
      wy = bicubicMatrix(M, gh, sy);
      wx = bicubicMatrix(M, gw, sx);
    }
    return resampleGrid(this.posPatch, M, wy, gh, wx, gw);
  }

  /** Tokens `[B·N, C]` (CLS, registers, patches) after position embeddings. */
  embed(x: tf.Tensor4D): { tokens: tf.Tensor2D; B: number; N: number; gh: number; gw: number } {
    const [B, H, W] = x.shape;
    const p = this.config.patch;
    if (H % p !== 0 || W % p !== 0 || H < p || W < p) {
      throw new UsageError(`${this.identity.id}: input ${H}×${W} is not a positive multiple of the patch size ${p}`);
    }
    const gh = H / p;
    const gw = W / p;
    const C = this.config.embedDim;
    return tf.tidy(() => {
      const pe = tf.fused.conv2d({ x, filter: this.patchW, strides: p, pad: 'valid', bias: this.patchB }); // [B,gh,gw,C]
      const patches = tf.add(tf.reshape(pe, [B, gh * gw, C]), this.positionEmbeddings(gh, gw, H, W));
      const parts: tf.Tensor3D[] = [tf.tile(this.clsPos, [B, 1, 1])];
      if (this.registers) parts.push(tf.tile(this.registers, [B, 1, 1]));
      parts.push(patches as tf.Tensor3D);
      const tokens = tf.concat(parts, 1);
      const N = tokens.shape[1];
      return { tokens: tf.reshape(tokens, [B * N, C]) as tf.Tensor2D, B, N, gh, gw };
    });
  }

  /** qkv projection: `[B·N, C]` → `[B·N, 3C]` (q pre-scaled). */
  qkv(blk: Block, y: tf.Tensor2D): tf.Tensor2D {
    return fusedLinear(y, blk.qkvW, blk.qkvB);
  }

  /** Splits qkv into per-(image, head) q `[BH,N,d]`, kᵀ `[BH,d,N]`, v `[BH,N,d]`. */
  private split(qkv: tf.Tensor2D, B: number, N: number): { q: tf.Tensor3D; kT: tf.Tensor3D; v: tf.Tensor3D } {
    const h = this.config.heads;
    const d = this.config.embedDim / h;
    const t = tf.transpose(tf.reshape(qkv, [B, N, 3, h, d]), [2, 0, 3, 1, 4]); // [3,B,h,N,d]
    const [q, k, v] = tf.unstack(t, 0) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    return {
      q: tf.reshape(q, [B * h, N, d]),
      kT: tf.transpose(tf.reshape(k, [B * h, N, d]), [0, 2, 1]),
      v: tf.reshape(v, [B * h, N, d]),
    };
  }

  /** Softmaxed attention probabilities `[B·h, N, N]` (batched). */
  private probs(q: tf.Tensor3D, kT: tf.Tensor3D): tf.Tensor3D {
    return tf.softmax(tf.matMul(q, kT)) as tf.Tensor3D;
  }

  /** Multi-head attention core: qkv `[B·N, 3C]` → head outputs merged `[B·N, C]` (before proj). */
  attend(qkv: tf.Tensor2D, B: number, N: number): tf.Tensor2D {
    let mode = this.attention;
    if (mode === 'fused') {
      if (hasKernel('UolAttention')) return fusedAttention(qkv, B, this.config.heads);
      mode = defaultAttentionMode(!!nativeStatus()?.enabled && nativeStatus()!.kernels.includes('BatchMatMul'));
    }
    return tf.tidy(() => {
      const h = this.config.heads;
      const C = this.config.embedDim;
      const d = C / h;
      const { q, kT, v } = this.split(qkv, B, N);
      let o: tf.Tensor3D;
      if (mode === 'batched') {
        o = tf.matMul(this.probs(q, kT), v);
      } else {
        const qs = tf.unstack(q) as tf.Tensor2D[];
        const ks = tf.unstack(kT) as tf.Tensor2D[];
        const vs = tf.unstack(v) as tf.Tensor2D[];
        o = tf.stack(qs.map((qi, i) => tf.matMul(tf.softmax(tf.matMul(qi, ks[i]!)), vs[i]!))) as tf.Tensor3D;
      }
      return tf.reshape(tf.transpose(tf.reshape(o, [B, h, N, d]), [0, 2, 1, 3]), [B * N, C]) as tf.Tensor2D;
    });
  }

  /**
   * One pre-norm block on `[B·N, C]`: `x1 = x + ls1·proj(attn(norm1 x))`, `x + ls2·fc2(gelu(fc1(norm2 x1)))`, with the
   * residual adds and LayerScale fused into the proj/fc2 products (src/engine/fused.ts: one native kernel each when
   * available, the same TF.js ops as before otherwise).
   */
  block(blk: Block, x: tf.Tensor2D, B: number, N: number): tf.Tensor2D {
    return tf.tidy(() => {
      const eps = this.config.eps;
      const a = this.attend(this.qkv(blk, fusedLayerNorm(x, blk.n1g, blk.n1b, eps)), B, N);
      const x1 = fusedLinear(a, blk.projW, blk.projB, { ...(blk.ls1 ? { scale: blk.ls1 } : {}), residual: x });
      return this.mlp(blk, fusedLayerNorm(x1, blk.n2g, blk.n2b, eps), x1);
    });
  }

  /** MLP: fc1 → exact GELU → fc2 on `[rows, C]` (then LayerScale and the residual, when given). */
  mlp(blk: Block, y: tf.Tensor2D, residual?: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const h = fusedLinear(y, blk.fc1W, blk.fc1B, { activation: 'gelu' });
      const opts: Parameters<typeof fusedLinear>[3] = {};
      if (blk.ls2) opts.scale = blk.ls2;
      if (residual) opts.residual = residual;
      return fusedLinear(h, blk.fc2W, blk.fc2B, opts);
    });
  }

  /**
   * Patch features.
   * @param x [B,H,W,3] normalised with ImageNet mean/std; H, W multiples of the patch size.
   * @returns [B, H/p, W/p, C] float32, ReLU'd final-normed patch tokens.
   */
  extract(x: tf.Tensor4D): tf.Tensor4D {
    this.check();
    return tf.tidy(() => {
      const { tokens, B, N, gh, gw } = this.embed(x);
      let h = tokens;
      for (const blk of this.blocks) h = this.block(blk, h, B, N);
      const normed = fusedLayerNorm(h, this.normG, this.normB, this.config.eps);
      const skip = 1 + this.config.numRegisters;
      const C = this.config.embedDim;
      const patches = tf.slice(tf.reshape(normed, [B, N, C]), [0, skip, 0], [B, N - skip, C]);
      return tf.reshape(tf.relu(patches), [B, gh, gw, C]) as tf.Tensor4D;
    });
  }

  /**
   * DINO's `get_intermediate_layers(x, n)`: the tokens after each of the last `n` blocks, each passed through the final
   * LayerNorm (not ReLU'd), as `[B, N, C]` with N = 1 + registers + patches (CLS first), oldest block first.
   * @param x [B,H,W,3] normalised with ImageNet mean/std; H, W multiples of the patch size.
   * @param n number of last blocks, 1 ≤ n ≤ depth.
   */
  intermediateLayers(x: tf.Tensor4D, n: number): tf.Tensor3D[] {
    this.check();
    if (!Number.isInteger(n) || n < 1 || n > this.blocks.length) throw new UsageError(`${this.identity.id}: intermediate layers n=${n} must be in 1…${this.blocks.length}`);
    return tf.tidy(() => {
      const { tokens, B, N } = this.embed(x);
      const C = this.config.embedDim;
      const out: tf.Tensor3D[] = [];
      let h = tokens;
      this.blocks.forEach((blk, i) => {
        h = this.block(blk, h, B, N);
        if (this.blocks.length - i <= n) out.push(tf.reshape(fusedLayerNorm(h, this.normG, this.normB, this.config.eps), [B, N, C]) as tf.Tensor3D);
      });
      return out;
    });
  }

  /**
   * Softmaxed self-attention of the last block (as DINO's `get_last_selfattention`).
   * @returns [B, heads, N, N] with N = 1 + registers + patches (CLS first).
   */
  lastSelfAttention(x: tf.Tensor4D): tf.Tensor4D {
    this.check();
    return tf.tidy(() => {
      const { tokens, B, N } = this.embed(x);
      let h = tokens;
      const last = this.blocks.length - 1;
      for (let i = 0; i < last; i++) h = this.block(this.blocks[i]!, h, B, N);
      const blk = this.blocks[last]!;
      const { q, kT } = this.split(this.qkv(blk, fusedLayerNorm(h, blk.n1g, blk.n1b, this.config.eps)), B, N);
      return tf.reshape(this.probs(q, kT), [B, this.config.heads, N, N]) as tf.Tensor4D;
    });
  }

  private check(): void {
    if (this.disposed) throw new Error(`${this.identity.id}: backbone used after dispose()`);
  }

  /** Releases all weight tensors. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const ts: (tf.Tensor | undefined)[] = [this.patchW, this.patchB, this.clsPos, this.posPatch, this.registers, this.normG, this.normB];
    for (const b of this.blocks) ts.push(...Object.values(b));
    for (const t of ts) t?.dispose();
  }
}
