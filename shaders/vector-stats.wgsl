// Per-chunk statistics of the reasoning vector v = f32(rl) - f32(sft), on the same u32-packed
// inputs as task-vector-merge.wgsl (codecs and loader from common/). With d =
// f32(target) - f32(sft), each workgroup writes five partial sums:
//   [Σ v², Σ target², Σ v·d, Σ d², #(|v| <= near_zero)]
// which the host adds up in float64 (‖v‖₂, ‖θ_target‖₂, cosine(v, d), near-zero fraction).
// Grid-stride: at most `groups` workgroups whatever the chunk size, so the readback stays small.

struct Params {
  count: u32,
  target_dtype: u32,
  sft_dtype: u32,
  rl_dtype: u32,
  has_target: u32,
  near_zero: f32,
  stride: u32,         // total invocations in the dispatch
  _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> target_words: array<u32>;
@group(0) @binding(2) var<storage, read> sft_words: array<u32>;
@group(0) @binding(3) var<storage, read> rl_words: array<u32>;
// Float sums stored as their bits (u32), so the count beside them is never read as an f32
// subnormal that hardware might flush to zero.
@group(0) @binding(4) var<storage, read_write> partials: array<u32>;

const WG: u32 = 256u;
var<workgroup> sums: array<vec4<f32>, 256>;
var<workgroup> zeros: array<u32, 256>;


@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(workgroup_id) wid: vec3<u32>) {
  var acc = vec4<f32>(0.0);
  var nz = 0u;
  for (var i = gid.x; i < params.count; i += params.stride) {
    let s = load(params.sft_dtype, 1u, i);
    let v = load(params.rl_dtype, 2u, i) - s;
    if (abs(v) <= params.near_zero) { nz += 1u; }
    var t = 0.0;
    var d = 0.0;
    if (params.has_target == 1u) {
      t = load(params.target_dtype, 0u, i);
      d = t - s;
    }
    acc += vec4<f32>(v * v, t * t, v * d, d * d);
  }
  sums[lid] = acc;
  zeros[lid] = nz;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half = half / 2u) {
    if (lid < half) {
      sums[lid] += sums[lid + half];
      zeros[lid] += zeros[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let base = wid.x * 5u;
    partials[base] = bitcast<u32>(sums[0].x);
    partials[base + 1u] = bitcast<u32>(sums[0].y);
    partials[base + 2u] = bitcast<u32>(sums[0].z);
    partials[base + 3u] = bitcast<u32>(sums[0].w);
    partials[base + 4u] = zeros[0];
  }
}
