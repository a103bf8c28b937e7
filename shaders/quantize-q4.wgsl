// 4-bit block quantisation of a merged linear weight W [N, K] (row-major, F32/F16/BF16 in u32
// words) into onnxruntime's com.microsoft MatMulNBits inputs (bits 4, block_size 32):
//   packed      [N, n_blocks, 16] bytes: two codes per byte, lower-index element in the low nibble
//   scales      [N, n_blocks] float32 (stored as bits)
//   zero_points [N, ceil(n_blocks / 2)] bytes: two per byte, low nibble first, rows padded with 8
// The scheme — and the CPU reference this must equal bit for bit — is src/engine/quant/q4-quantize.ts:
// asymmetric round-to-nearest per block as MLAS range2scalezp (onnxruntime/core/mlas/lib/q4_dq.cpp):
//   min = min(block, 0), max = max(block, 0), scale = f32((max - min) / 15),
//   zp = clamp(roundf(-min / scale), 0, 15), code = clamp(roundf(w * f32(1 / scale)) + zp, 0, 15).
// Exactness on every GPU: WGSL's x / y is only accurate to 2.5 ULP, so the three divisions are done
// as integer long division with round-to-nearest-even (div_rn); products and sums are correctly
// rounded in WGSL; no product feeds an add (a compiler may not fuse anything); subnormal weights
// count as 0 explicitly (GPUs may flush them), and roundf is built from trunc and a comparison.
// One invocation per 4-byte word of zero points (up to 8 blocks): it owns those blocks' scales,
// packed words and the zero-point word, so no two invocations write the same word.

struct Params {
  n: u32,
  k: u32,
  blocks: u32,
  zp_row_bytes: u32,
  dtype: u32,            // 0 = F32, 1 = F16, 2 = BF16 (float-codec.wgsl)
  zp_words: u32,         // invocations doing work
  row_invocations: u32,  // invocations per dispatch row (2-D dispatch beyond 65535 workgroups)
  _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weight_words: array<u32>;
@group(0) @binding(2) var<storage, read_write> packed: array<u32>;
@group(0) @binding(3) var<storage, read_write> scales: array<u32>;
@group(0) @binding(4) var<storage, read_write> zero_points: array<u32>;

const BLOCK: u32 = 32u;
// 15 · 2^-126: a smaller max - min would make the scale subnormal; such a block is stored as zeros.
const MIN_RANGE_BITS: u32 = 0x02700000u;

// Element i of W as f32, with subnormals (exponent bits 0) as +0.
fn weight(i: u32) -> f32 {
  let word = weight_words[select(i >> 1u, i, params.dtype == 0u)];
  let v = decode_bits(params.dtype, word, i);
  if ((bitcast<u32>(v) & 0x7f800000u) == 0u) { return 0.0; }
  return v;
}

// a / b rounded to nearest even, for positive normal a and b (IEEE float32 division, as the CPU
// does it); a quotient below the smallest normal gives 0 (only -min / scale can be that small,
// and its roundf is 0 either way). None overflows here: (max - min) / 15 < max / 7.5, 1 / scale
// ≤ 2^126 (scale ≥ 2^-126), -min / scale ≤ 15.
fn div_rn(a: f32, b: f32) -> f32 {
  let ab = bitcast<u32>(a);
  let bb = bitcast<u32>(b);
  var ma = (ab & 0x7fffffu) | 0x800000u;
  let mb = (bb & 0x7fffffu) | 0x800000u;
  var e = i32((ab >> 23u) & 0xffu) - i32((bb >> 23u) & 0xffu) + 127;
  if (ma < mb) {
    ma = ma << 1u;
    e = e - 1;
  }
  // ma / mb in [1, 2): 24 quotient bits by restoring division; rem stays below 2^25.
  var rem = ma;
  var q = 0u;
  for (var i = 0u; i < 24u; i = i + 1u) {
    q = q << 1u;
    if (rem >= mb) {
      rem = rem - mb;
      q = q | 1u;
    }
    rem = rem << 1u;
  }
  // rem is now twice the remainder: above mb rounds up, equal is a tie (to even).
  if (rem > mb || (rem == mb && (q & 1u) == 1u)) { q = q + 1u; }
  if (q == 0x1000000u) {
    q = q >> 1u;
    e = e + 1;
  }
  if (e <= 0) { return 0.0; }
  return bitcast<f32>((u32(e) << 23u) | (q & 0x7fffffu));
}

// C's roundf: to nearest, halves away from zero (WGSL's round() takes halves to even).
fn round_half_away(x: f32) -> i32 {
  let a = abs(x);
  let t = trunc(a);
  let r = i32(t) + select(0, 1, a >= t + 0.5);
  return select(r, -r, x < 0.0);
}

// Quantises block b of row `row`: writes its scale and 4 packed words; returns its zero point.
fn quantize_block(row: u32, b: u32) -> u32 {
  let base = row * params.k + b * BLOCK;
  let len = min(BLOCK, params.k - b * BLOCK);
  var mn = 0.0;
  var mx = 0.0;
  for (var i = 0u; i < len; i = i + 1u) {
    let v = weight(base + i);
    mn = min(mn, v);
    mx = max(mx, v);
  }
  let range = mx - mn;
  var scale = 0.0;
  var recip = 0.0;
  var zp = 0u;
  if (range >= bitcast<f32>(MIN_RANGE_BITS)) {
    scale = div_rn(range, 15.0);
    recip = div_rn(1.0, scale);
    if (mn < 0.0) { zp = u32(clamp(round_half_away(div_rn(-mn, scale)), 0, 15)); }
  }
  let blk = row * params.blocks + b;
  scales[blk] = bitcast<u32>(scale);
  for (var w = 0u; w < 4u; w = w + 1u) {
    var word = 0u;
    for (var j = 0u; j < 8u; j = j + 1u) {
      let i = w * 8u + j;
      var code = zp; // padding past K dequantises to exactly 0
      if (i < len) { code = u32(clamp(round_half_away(weight(base + i) * recip) + i32(zp), 0, 15)); }
      word = word | (code << (4u * j));
    }
    packed[blk * 4u + w] = word;
  }
  return zp;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let w = gid.x + gid.y * params.row_invocations;
  if (w >= params.zp_words) { return; }
  let total = params.n * params.zp_row_bytes;
  var word = 0u;
  for (var j = 0u; j < 4u; j = j + 1u) {
    let g = w * 4u + j;
    if (g >= total) { break; }
    let row = g / params.zp_row_bytes;
    let b0 = (g % params.zp_row_bytes) * 2u;
    var byte = quantize_block(row, b0);
    if (b0 + 1u < params.blocks) {
      byte = byte | (quantize_block(row, b0 + 1u) << 4u);
    } else {
      byte = byte | (8u << 4u); // an odd block count: the row's last nibble, 8 as MLAS leaves it
    }
    word = word | (byte << (8u * j));
  }
  zero_points[w] = word;
}
