#!/usr/bin/env bash
# tools/gpu-check.sh [REPORT] — one run on a machine with an NVIDIA GPU (README, "GPUs"):
#   1. what is there: nvidia-smi, the CUDA 11 runtime / cuDNN 8 libraries tfjs-node-gpu needs, the Vulkan loader;
#   2. which GPU backends uol can start in Node (`uol info --backend node-gpu|webgpu`), with the reason when not;
#   3. `uol bench --suite backbones --quick` on every GPU backend that starts, and on wasm in the same run (the
#      reference; the bench also times PyTorch itself when /usr/bin/python3 has torch);
#   4. the browser parity specs (spec/browser-*.spec.ts) in headless Chromium on the real GPU (UOL_BROWSER_GPU=hardware),
#      and on SwiftShader when no NVIDIA GPU is present.
# Writes a short Markdown report (default gpu-check-report.md) and prints it. Never fails on a missing GPU: it says so
# and still runs what it can (a dry run on a CPU-only machine reports "no NVIDIA GPU" and the SwiftShader parity).
# Needs: node_modules (npm ci), chromium for step 4. Exit status: 0 when every step that ran passed, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
REPORT=${1:-gpu-check-report.md}
LOG_DIR=$(mktemp -d)
trap 'rm -rf "$LOG_DIR"' EXIT
status=0
lines=()
say() { lines+=("$*"); echo "gpu-check: $*" >&2; }

say "# uol GPU check"
say ""
say "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); host: $(hostname); commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?'); node $(node --version)"

# 1. The machine.
gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >"$LOG_DIR/smi" 2>&1 && grep -q '^GPU' "$LOG_DIR/smi"; then
  gpu=1
  driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
  say "- NVIDIA: $(grep '^GPU' "$LOG_DIR/smi" | sed 's/ (UUID.*//' | paste -sd ';' -); driver ${driver:-?}"
else
  say "- NVIDIA: no NVIDIA GPU (nvidia-smi $(command -v nvidia-smi >/dev/null 2>&1 && echo 'lists no device' || echo 'not found'))"
fi
libs=$( (ldconfig -p 2>/dev/null || true) | grep -oE 'libcudart\.so\.11\.0|libcublas\.so\.11|libcudnn\.so\.8|libvulkan\.so\.1' | sort -u | paste -sd ' ' -)
say "- libraries: ${libs:-none of libcudart.so.11.0, libcublas.so.11, libcudnn.so.8, libvulkan.so.1}"
if command -v vulkaninfo >/dev/null 2>&1; then
  say "- Vulkan devices: $(vulkaninfo --summary 2>/dev/null | grep -E 'deviceName' | sed 's/.*= //' | paste -sd ';' - || true)"
fi

if [ ! -d node_modules ]; then
  say ""
  say "node_modules is missing: run \`npm ci\` first. Nothing else was run."
  printf '%s\n' "${lines[@]}" >"$REPORT"
  exit 1
fi
npm run build >"$LOG_DIR/build" 2>&1 || { say "- build failed: $(tail -3 "$LOG_DIR/build" | paste -sd ' ' -)"; status=1; }

# 2. GPU backends in Node.
say ""
say "## Backends in Node"
started=()
for b in node-gpu webgpu; do
  if node bin/uol.js info --backend "$b" --json >"$LOG_DIR/info-$b" 2>"$LOG_DIR/info-$b.err"; then
    started+=("$b")
    say "- $b: starts ($(node -e "const j=JSON.parse(require('fs').readFileSync(process.argv[1],'utf8'));console.log(j.backend+'; '+Object.entries(j.versions).map(([k,v])=>k+' '+v).filter(s=>/tfjs-node-gpu|webgpu/.test(s)).join(', '))" "$LOG_DIR/info-$b" 2>/dev/null))"
  else
    say "- $b: not started — $(grep -v '^\s*at \|^Warning\|^$' "$LOG_DIR/info-$b.err" | tail -1 | sed 's/^uol: error: //')"
  fi
done

# 3. Backbone throughput on each GPU backend and on wasm, in this one run.
say ""
say "## uol bench --suite backbones --quick"
if [ ${#started[@]} -eq 0 ]; then
  say "- no GPU backend started in Node: bench not run (its wasm numbers are in docs/perf/)"
else
  for b in "${started[@]}" wasm; do
    out="$LOG_DIR/bench-$b"
    if node bin/uol.js bench --suite backbones --quick --backend "$b" --out "$out" >"$out.log" 2>&1; then
      say "- $b:"
      if [ -f "$out/bench.md" ]; then while IFS= read -r l; do say "  $l"; done < <(grep -E '^\|' "$out/bench.md" | head -30); fi
    else
      status=1
      say "- $b: bench failed — $(grep -v '^\s*at ' "$out.log" | tail -2 | paste -sd ' ' -)"
    fi
  done
fi

# 4. Browser parity (WebGL, WebGPU) against Node's CPU results.
say ""
if [ $gpu -eq 1 ]; then
  say "## Browser parity on the GPU (Chromium, UOL_BROWSER_GPU=hardware)"
  export UOL_BROWSER_GPU=hardware
else
  say "## Browser parity on SwiftShader (no NVIDIA GPU)"
fi
if UOL_NO_HINTS=1 npx mocha spec/browser-parity.spec.ts >"$LOG_DIR/parity" 2>&1; then
  say "- passed"
else
  status=1
  say "- FAILED (see below)"
fi
while IFS= read -r l; do say "    ${l#      }"; done < <(grep -E '^\s+(WebGL|WebGPU|webgl|webgpu|features|w\*|w log|maps|boxes|kernels|time|skipped|[0-9]+ (passing|failing|pending)|AssertionError|Error)' "$LOG_DIR/parity" | head -60)

printf '%s\n' "${lines[@]}" >"$REPORT"
echo "gpu-check: report written to $REPORT" >&2
exit $status
