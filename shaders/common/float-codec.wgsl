// Shared by the kernels (prepended to each by its TypeScript wrapper; not a kernel itself):
// 16-bit float codecs on raw u32 bits, so no `shader-f16` is needed (SwiftShader has none).
// Dtype codes everywhere: 0 = F32, 1 = F16, 2 = BF16.

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

// One 16-bit (or, for F32, 32-bit) element's bits as f32.
fn decode_bits(dtype: u32, word: u32, i: u32) -> f32 {
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
  if (a > 0x7f800000u) { return 0x7e00u; }                 // NaN: canonical, sign dropped (see merge kernel)
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

