// out = f32(target) + alpha * (f32(rl) - f32(sft)), rounded to the output dtype with
// round-to-nearest-even — the per-tensor merge of DESIGN "Merge semantics", bit for bit what
// PyTorch computes on the CPU.
//
// Every tensor travels as raw u32 words: 16-bit dtypes are two elements per word, so no
// `shader-f16` is needed (SwiftShader has none). Each invocation owns one *pair* of elements,
// so a 16-bit output word is written by exactly one invocation (no races, no atomics on data).
//
// Dtype codes: 0 = F32, 1 = F16, 2 = BF16.
// Mode: 0 = merge (uses target), 1 = vector only (out = rl - sft; alpha and target ignored).

struct Params {
  count: u32,          // elements in this chunk
  alpha: f32,
  target_dtype: u32,
  sft_dtype: u32,
  rl_dtype: u32,
  out_dtype: u32,
  mode: u32,
  row_pitch: u32,      // invocations per dispatch row (2D dispatch past the 65535-workgroup limit)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> target_words: array<u32>;
@group(0) @binding(2) var<storage, read> sft_words: array<u32>;
@group(0) @binding(3) var<storage, read> rl_words: array<u32>;
@group(0) @binding(4) var<storage, read_write> out_words: array<u32>;
// [0]: NaN results, [1]: ±Inf results — reported per tensor instead of silently spreading.
@group(0) @binding(5) var<storage, read_write> non_finite: array<atomic<u32>, 2>;

fn f16_bits_to_f32(h: u32) -> f32 {
  let sign = (h & 0x8000u) << 16u;
  var e = (h >> 10u) & 0x1fu;
  var m = h & 0x3ffu;
  if (e == 0u) {
    if (m == 0u) { return bitcast<f32>(sign); }
    // Subnormal f16: normalise by hand; every f16 subnormal is a normal f32.
    var shift = 0u;
    loop {
      if ((m & 0x400u) != 0u) { break; }
      m = m << 1u;
      shift = shift + 1u;
    }
    return bitcast<f32>(sign | ((113u - shift) << 23u) | ((m & 0x3ffu) << 13u));
  }
  if (e == 31u) { return bitcast<f32>(sign | 0x7f800000u | (m << 13u)); }
  return bitcast<f32>(sign | ((e + 112u) << 23u) | (m << 13u));
}

// Element i of a tensor stored as `dtype` in `words`.
fn load(dtype: u32, which: u32, i: u32) -> f32 {
  var word: u32;
  let idx = select(i >> 1u, i, dtype == 0u);
  switch which {
    case 0u: { word = target_words[idx]; }
    case 1u: { word = sft_words[idx]; }
    default: { word = rl_words[idx]; }
  }
  if (dtype == 0u) { return bitcast<f32>(word); }
  let half = (word >> ((i & 1u) * 16u)) & 0xffffu;
  if (dtype == 2u) { return bitcast<f32>(half << 16u); }
  return f16_bits_to_f32(half);
}

// Shift right by s (1..31) with round-to-nearest-even on the dropped bits.
fn shift_rne(m: u32, s: u32) -> u32 {
  let q = m >> s;
  let rem = m & ((1u << s) - 1u);
  let halfway = 1u << (s - 1u);
  if (rem > halfway || (rem == halfway && (q & 1u) == 1u)) { return q + 1u; }
  return q;
}

fn f32_to_bf16_bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  if ((b & 0x7fffffffu) > 0x7f800000u) { return 0x7fc0u; } // NaN, as c10::BFloat16 writes it
  return (b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u;
}

fn f32_to_f16_bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let sign = (b >> 16u) & 0x8000u;
  let a = b & 0x7fffffffu;
  if (a > 0x7f800000u) { return sign | 0x7e00u; }          // NaN
  if (a >= 0x477ff000u) { return sign | 0x7c00u; }         // rounds to ±Inf (|x| >= 65520)
  if (a >= 0x38800000u) {                                  // normal f16
    return sign | shift_rne(a - 0x38000000u, 13u);
  }
  if (a <= 0x33000000u) { return sign; }                   // |x| <= 2^-25 rounds to ±0
  // Subnormal f16: value = mant * 2^(e - 150), unit 2^-24, so shift by 126 - e.
  let e = a >> 23u;
  let mant = (a & 0x7fffffu) | 0x800000u;
  return sign | shift_rne(mant, 126u - e);
}

fn count_non_finite(x: f32) {
  let a = bitcast<u32>(x) & 0x7fffffffu;
  if (a > 0x7f800000u) { atomicAdd(&non_finite[0], 1u); }
  else if (a == 0x7f800000u) { atomicAdd(&non_finite[1], 1u); }
}

fn compute(i: u32) -> f32 {
  let v = load(params.rl_dtype, 2u, i) - load(params.sft_dtype, 1u, i);
  if (params.mode == 1u) { return v; }
  let scaled = params.alpha * v;
  return load(params.target_dtype, 0u, i) + scaled;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let pair = gid.x + gid.y * params.row_pitch;
  let i0 = pair * 2u;
  if (i0 >= params.count) { return; }
  let has_second = i0 + 1u < params.count;
  let r0 = compute(i0);
  count_non_finite(r0);
  var r1 = 0.0;
  if (has_second) {
    r1 = compute(i0 + 1u);
    count_non_finite(r1);
  }
  if (params.out_dtype == 0u) {
    out_words[i0] = bitcast<u32>(r0);
    if (has_second) { out_words[i0 + 1u] = bitcast<u32>(r1); }
    return;
  }
  var lo: u32;
  var hi: u32;
  if (params.out_dtype == 2u) {
    lo = f32_to_bf16_bits(r0);
    hi = select(0u, f32_to_bf16_bits(r1), has_second);
  } else {
    lo = f32_to_f16_bits(r0);
    hi = select(0u, f32_to_f16_bits(r1), has_second);
  }
  out_words[pair] = lo | (hi << 16u);
}
