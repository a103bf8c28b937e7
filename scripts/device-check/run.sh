#!/bin/bash
# Device check for issue 8 items 7-8 (one H200). Prints sections "== ..."; writes logs to $OUT.
cd "$(dirname "$0")/.."
for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
mkdir -p /tmp/n && xz -dc .devcarry/node.xz > /tmp/n/node && chmod +x /tmp/n/node && export PATH=/tmp/n:$PATH
tar -xJf .devcarry/nm.tar.xz
mkdir -p fixtures/models && cp -r .devcarry/models/* fixtures/models/
echo "== node $(node --version) $(nproc) cores"; nvidia-smi -L
ls /usr/local/nvidia/share/vulkan/icd.d/ /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d 2>&1 | head
echo "== probe"; timeout 60 node .devcarry/probe.mjs 2>&1 | tail -5
if ! timeout 60 node .devcarry/probe.mjs 2>/dev/null | grep -q '"high-performance"} {'; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  echo "== probe with VK_DRIVER_FILES"; timeout 60 node .devcarry/probe.mjs 2>&1 | tail -5
fi
F=fixtures/models
T="--sft $F/tiny-qwen2-sft --rl $F/tiny-qwen2-rl --target $F/tiny-qwen2-target --alpha 0.5"
for d in cpu gpu auto; do echo "== CLI merge --device $d"; s=$(date +%s%N); timeout 120 node bin/studio.js merge $T --out /tmp/m-$d --device $d 2>&1 | cut -c1-400; echo "wall $(( ($(date +%s%N) - s) / 1000000 )) ms"; done
for d in gpu auto; do cmp /tmp/m-cpu/model.safetensors /tmp/m-$d/model.safetensors && echo "$d IDENTICAL to cpu"; done
echo "== root cause: forced GC every 2 ms, GPU object dropped vs held (5 runs each)"
for k in drop keep; do ok=0; for i in 1 2 3 4 5; do timeout 60 node --expose-gc --import ./bin/register.js .devcarry/repro.ts $k > /tmp/r.txt 2>&1; rc=$?; [ $rc = 0 ] && ok=$((ok+1)); echo "$k run $i rc=$rc $(grep -a -E 'what|futex|repro' /tmp/r.txt | head -2 | tr '\n' ' ')"; done; echo "$k: $ok/5 ok"; done
echo "== big trio 120M elements bf16"
node .devcarry/big-trio.mjs $F /tmp/big 120000000
B="--sft /tmp/big/sft --rl /tmp/big/rl --target /tmp/big/target --alpha 0.5"
for d in cpu gpu; do echo "-- $d"; s=$(date +%s%N); timeout 240 node bin/studio.js merge $B --out /tmp/b-$d --device $d 2>&1 | cut -c1-400; echo "wall $(( ($(date +%s%N) - s) / 1000000 )) ms"; done
cmp /tmp/b-cpu/model.safetensors /tmp/b-gpu/model.safetensors && echo "big: gpu IDENTICAL to cpu"
echo "== vitest"
timeout 240 node node_modules/vitest/vitest.mjs run src/cli/gpu-child/device-flag.spec.ts src/engine/merge/gpu-tensor-merger.node.spec.ts src/cli/node-gpu.spec.ts 2>&1 | tee $OUT/vitest.log | grep -v "^$" | tail -40
