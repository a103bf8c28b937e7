// Shared by the kernels (prepended by their TypeScript wrappers; not a kernel itself): element i
// of input 0 = target, 1 = sft, 2 = rl, stored as `dtype` (0 = F32, 1 = F16, 2 = BF16) in u32 words.
// Expects the kernel to declare the storage bindings target_words, sft_words and rl_words
// (WGSL resolves module-scope names regardless of order).

fn load(dtype: u32, which: u32, i: u32) -> f32 {
  var word: u32;
  let idx = select(i >> 1u, i, dtype == 0u);
  switch which {
    case 0u: { word = target_words[idx]; }
    case 1u: { word = sft_words[idx]; }
    default: { word = rl_words[idx]; }
  }
  return decode_bits(dtype, word, i);
}
