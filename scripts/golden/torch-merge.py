#!/usr/bin/env python3
"""
Golden outputs of the merge from PyTorch itself — an oracle the studio's authors did not write.

For every input dtype x output dtype (bf16, f16, f32) and alpha in {-1, 0, 0.5, 1, 2, 0.3}, on 256
elements whose input bits are random (every bit pattern: NaN, Inf, subnormals, +-0) or realistic
weights, it computes exactly DESIGN's "Merge semantics" the way a PyTorch user would:

    out = (target.float() + alpha * (rl.float() - sft.float())).to(out_dtype)

and writes inputs and outputs to test-support/golden/torch-merge.json. The studio's tests replay
them through the CPU path (vitest) and the WGSL kernel (Chromium). Run once, by hand, where
python3-torch is installed (Debian: apt-get install python3-torch); the product never needs Python.
"""
import base64
import json
import os

import numpy as np
import torch

DT = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}
N = 256
ALPHAS = [-1.0, 0.0, 0.5, 1.0, 2.0, 0.3]


def raw_bits(rng, dtype):
    """Random bit patterns of the dtype, as a tensor of that dtype."""
    if dtype == "F32":
        return torch.from_numpy(rng.integers(0, 2**32, N, dtype=np.uint64).astype(np.uint32).view(np.int32)).view(torch.float32)
    return torch.from_numpy(rng.integers(0, 2**16, N, dtype=np.uint32).astype(np.uint16).view(np.int16)).view(DT[dtype])


def realistic(rng, dtype, base=None):
    x = torch.from_numpy(rng.normal(0, 0.02, N).astype(np.float32))
    if base is not None:
        x = base.float() + torch.from_numpy(rng.normal(0, 0.002, N).astype(np.float32))
    return x.to(DT[dtype])


def b64(t):
    if t.dtype == torch.float32:
        return base64.b64encode(t.view(torch.int32).numpy().tobytes()).decode()
    return base64.b64encode(t.view(torch.int16).numpy().tobytes()).decode()


def main():
    rng = np.random.default_rng(20261126)
    cases = []
    for kind in ("bits", "weights"):
        for din in DT:
            if kind == "bits":
                t, s, r = raw_bits(rng, din), raw_bits(rng, din), raw_bits(rng, din)
            else:
                t, s = realistic(rng, din), realistic(rng, din)
                r = realistic(rng, din, base=s)
            for dout in DT:
                for alpha in ALPHAS:
                    out = (t.float() + alpha * (r.float() - s.float())).to(DT[dout])
                    cases.append({"kind": kind, "in": din, "out": dout, "alpha": alpha,
                                  "target": b64(t), "sft": b64(s), "rl": b64(r), "expected": b64(out)})
    path = os.path.join(os.path.dirname(__file__), "..", "..", "test-support", "golden", "torch-merge.json")
    with open(path, "w") as f:
        json.dump({"generator": "scripts/golden/torch-merge.py", "torch": torch.__version__, "n": N, "cases": cases}, f)
    print(f"{len(cases)} cases written to {os.path.normpath(path)} with torch {torch.__version__}")


if __name__ == "__main__":
    main()
