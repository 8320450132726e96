// RUN: vaqf-opt %s --split-input-file --verify-diagnostics
// One chunk per verifier rule of the vit dialect; each must produce exactly its error.

// ----- #vit.param

func.func @param_empty_name(%x: tensor<4xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{#vit.param: parameter name must not be empty}}
  %y = vit.linear %x weight #vit.param<"", [2, 4]> : tensor<4xf32> -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}

// -----

func.func @param_zero_dim(%x: tensor<4xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{#vit.param<'w'>: dimensions must be > 0, got [0, 4]}}
  %y = vit.linear %x weight #vit.param<"w", [0, 4]> : tensor<4xf32> -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}

// -----

func.func @param_negative_dim(%x: tensor<4xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{Expected integer literal}}
  %y = vit.linear %x weight #vit.param<"w", [-2, 4]> : tensor<4xf32> -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}

// ----- shared operand checks (every op uses them)

func.func @not_f32(%x: tensor<4xf16>) -> tensor<4xf16> {
  // expected-error @+1 {{'vit.gelu' vit.gelu input must have element type f32, got f16}}
  %y = vit.gelu %x : tensor<4xf16> -> tensor<4xf16>
  func.return %y : tensor<4xf16>
}

// -----

func.func @dynamic_shape(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  // expected-error @+1 {{vit.softmax input must have a static shape, got tensor<?x4xf32>}}
  %y = vit.softmax %x : tensor<?x4xf32> -> tensor<?x4xf32>
  func.return %y : tensor<?x4xf32>
}

// -----

func.func @not_a_tensor(%x: f32) -> f32 {
  // expected-error @+1 {{'vit.gelu' f32 should be of base attribute tensor}}
  %y = vit.gelu %x : f32 -> f32
  func.return %y : f32
}

// -----

func.func @not_a_tensor_generic(%x: f32) -> f32 {
  // expected-error @+1 {{'vit.gelu' operand 'input' at position 0 does not verify}}
  %y = "vit.gelu"(%x) : (f32) -> f32
  func.return %y : f32
}

// ----- vit.patch_embed

func.func @patch_embed_input_rank(%img: tensor<3x32xf32>) -> tensor<16x48xf32> {
  // expected-error @+1 {{vit.patch_embed input must have rank 3, got tensor<3x32xf32>}}
  %y = vit.patch_embed %img weight #vit.param<"w", [48, 3, 8, 8]> stride array<i64: 8, 8> padding array<i64: 0, 0> : tensor<3x32xf32> -> tensor<16x48xf32>
  func.return %y : tensor<16x48xf32>
}

// -----

func.func @patch_embed_result_rank(%img: tensor<3x32x32xf32>) -> tensor<48xf32> {
  // expected-error @+1 {{vit.patch_embed result must have rank 2, got tensor<48xf32>}}
  %y = vit.patch_embed %img weight #vit.param<"w", [48, 3, 8, 8]> stride array<i64: 8, 8> padding array<i64: 0, 0> : tensor<3x32x32xf32> -> tensor<48xf32>
  func.return %y : tensor<48xf32>
}

// -----

func.func @patch_embed_weight_rank(%img: tensor<3x32x32xf32>) -> tensor<16x48xf32> {
  // expected-error @+1 {{vit.patch_embed weight must be [out, in, kh, kw], got [48, 192]}}
  %y = vit.patch_embed %img weight #vit.param<"w", [48, 192]> stride array<i64: 8, 8> padding array<i64: 0, 0> : tensor<3x32x32xf32> -> tensor<16x48xf32>
  func.return %y : tensor<16x48xf32>
}

// -----

func.func @patch_embed_in_channels(%img: tensor<3x32x32xf32>) -> tensor<16x48xf32> {
  // expected-error @+1 {{vit.patch_embed weight has 1 input channels but the image has 3}}
  %y = vit.patch_embed %img weight #vit.param<"w", [48, 1, 8, 8]> stride array<i64: 8, 8> padding array<i64: 0, 0> : tensor<3x32x32xf32> -> tensor<16x48xf32>
  func.return %y : tensor<16x48xf32>
}

// -----

func.func @patch_embed_out_channels(%img: tensor<3x32x32xf32>) -> tensor<16x48xf32> {
  // expected-error @+1 {{vit.patch_embed weight has 64 output channels but the result has 48}}
  %y = vit.patch_embed %img weight #vit.param<"w", [64, 3, 8, 8]> stride array<i64: 8, 8> padding array<i64: 0, 0> : tensor<3x32x32xf32> -> tensor<16x48xf32>
  func.return %y : tensor<16x48xf32>
}

// -----

func.func @patch_embed_bias(%img: tensor<3x32x32xf32>) -> tensor<16x48xf32> {
  // expected-error @+1 {{vit.patch_embed bias must be [48], got [64]}}
  %y = vit.patch_embed %img weight #vit.param<"w", [48, 3, 8, 8]> bias #vit.param<"b", [64]> stride array<i64: 8, 8> padding array<i64: 0, 0> : tensor<3x32x32xf32> -> tensor<16x48xf32>
  func.return %y : tensor<16x48xf32>
}

// -----

func.func @patch_embed_stride_entries(%img: tensor<3x32x32xf32>) -> tensor<16x48xf32> {
  // expected-error @+1 {{vit.patch_embed stride must have two entries (height, width), got [8]}}
  %y = vit.patch_embed %img weight #vit.param<"w", [48, 3, 8, 8]> stride array<i64: 8> padding array<i64: 0, 0> : tensor<3x32x32xf32> -> tensor<16x48xf32>
  func.return %y : tensor<16x48xf32>
}

// -----

func.func @patch_embed_padding_entries(%img: tensor<3x32x32xf32>) -> tensor<16x48xf32> {
  // expected-error @+1 {{vit.patch_embed padding must have two entries (height, width), got [0, 0, 0]}}
  %y = vit.patch_embed %img weight #vit.param<"w", [48, 3, 8, 8]> stride array<i64: 8, 8> padding array<i64: 0, 0, 0> : tensor<3x32x32xf32> -> tensor<16x48xf32>
  func.return %y : tensor<16x48xf32>
}

// -----

func.func @patch_embed_stride_zero(%img: tensor<3x32x32xf32>) -> tensor<16x48xf32> {
  // expected-error @+1 {{vit.patch_embed stride must be > 0}}
  %y = vit.patch_embed %img weight #vit.param<"w", [48, 3, 8, 8]> stride array<i64: 0, 8> padding array<i64: 0, 0> : tensor<3x32x32xf32> -> tensor<16x48xf32>
  func.return %y : tensor<16x48xf32>
}

// -----

func.func @patch_embed_padding_negative(%img: tensor<3x32x32xf32>) -> tensor<16x48xf32> {
  // expected-error @+1 {{vit.patch_embed padding must be >= 0}}
  %y = vit.patch_embed %img weight #vit.param<"w", [48, 3, 8, 8]> stride array<i64: 8, 8> padding array<i64: 0, -1> : tensor<3x32x32xf32> -> tensor<16x48xf32>
  func.return %y : tensor<16x48xf32>
}

// -----

func.func @patch_embed_kernel_too_big(%img: tensor<3x4x4xf32>) -> tensor<1x48xf32> {
  // expected-error @+1 {{vit.patch_embed kernel 8x8 is larger than the padded image 4x4}}
  %y = vit.patch_embed %img weight #vit.param<"w", [48, 3, 8, 8]> stride array<i64: 8, 8> padding array<i64: 0, 0> : tensor<3x4x4xf32> -> tensor<1x48xf32>
  func.return %y : tensor<1x48xf32>
}

// -----

func.func @patch_embed_tokens(%img: tensor<3x32x32xf32>) -> tensor<17x48xf32> {
  // expected-error @+1 {{vit.patch_embed produces 4x4=16 patches but the result has 17 tokens}}
  %y = vit.patch_embed %img weight #vit.param<"w", [48, 3, 8, 8]> stride array<i64: 8, 8> padding array<i64: 0, 0> : tensor<3x32x32xf32> -> tensor<17x48xf32>
  func.return %y : tensor<17x48xf32>
}

// -----

func.func @patch_embed_missing_property(%img: tensor<3x32x32xf32>) -> tensor<16x48xf32> {
  // expected-error @+1 {{property 'stride' expected in operation 'vit.patch_embed'}}
  %y = "vit.patch_embed"(%img) <{weight = #vit.param<"w", [48, 3, 8, 8]>, padding = array<i64: 0, 0>}> : (tensor<3x32x32xf32>) -> tensor<16x48xf32>
  func.return %y : tensor<16x48xf32>
}

// ----- vit.patchify

func.func @patchify_entries(%img: tensor<3x32x32xf32>) -> tensor<16x192xf32> {
  // expected-error @+1 {{vit.patchify patch must have two entries (height, width), got [8]}}
  %y = vit.patchify %img patch array<i64: 8> : tensor<3x32x32xf32> -> tensor<16x192xf32>
  func.return %y : tensor<16x192xf32>
}

// -----

func.func @patchify_zero(%img: tensor<3x32x32xf32>) -> tensor<16x192xf32> {
  // expected-error @+1 {{vit.patchify patch must be > 0}}
  %y = vit.patchify %img patch array<i64: 0, 8> : tensor<3x32x32xf32> -> tensor<16x192xf32>
  func.return %y : tensor<16x192xf32>
}

// -----

func.func @patchify_not_multiple(%img: tensor<3x30x32xf32>) -> tensor<16x192xf32> {
  // expected-error @+1 {{vit.patchify: image 30x32 is not a multiple of patch 8x8}}
  %y = vit.patchify %img patch array<i64: 8, 8> : tensor<3x30x32xf32> -> tensor<16x192xf32>
  func.return %y : tensor<16x192xf32>
}

// -----

func.func @patchify_result(%img: tensor<3x32x32xf32>) -> tensor<16x191xf32> {
  // expected-error @+1 {{vit.patchify result must be 16x192, got 16x191}}
  %y = vit.patchify %img patch array<i64: 8, 8> : tensor<3x32x32xf32> -> tensor<16x191xf32>
  func.return %y : tensor<16x191xf32>
}

// -----

func.func @patchify_input_rank(%img: tensor<32x32xf32>) -> tensor<16x64xf32> {
  // expected-error @+1 {{vit.patchify input must have rank 3, got tensor<32x32xf32>}}
  %y = vit.patchify %img patch array<i64: 8, 8> : tensor<32x32xf32> -> tensor<16x64xf32>
  func.return %y : tensor<16x64xf32>
}

// ----- vit.linear

func.func @linear_input_rank(%x: tensor<2x17x48xf32>) -> tensor<2x17x10xf32> {
  // expected-error @+1 {{vit.linear input must have rank 1 or 2, got tensor<2x17x48xf32>}}
  %y = vit.linear %x weight #vit.param<"w", [10, 48]> : tensor<2x17x48xf32> -> tensor<2x17x10xf32>
  func.return %y : tensor<2x17x10xf32>
}

// -----

func.func @linear_weight_rank(%x: tensor<17x48xf32>) -> tensor<17x48xf32> {
  // expected-error @+1 {{vit.linear weight must be [out, in...], got [48]}}
  %y = vit.linear %x weight #vit.param<"w", [48]> : tensor<17x48xf32> -> tensor<17x48xf32>
  func.return %y : tensor<17x48xf32>
}

// -----

func.func @linear_in_features(%x: tensor<17x48xf32>) -> tensor<17x10xf32> {
  // expected-error @+1 {{vit.linear: input has 48 features but weight [10, 32] expects 32}}
  %y = vit.linear %x weight #vit.param<"w", [10, 32]> : tensor<17x48xf32> -> tensor<17x10xf32>
  func.return %y : tensor<17x10xf32>
}

// -----

func.func @linear_result(%x: tensor<17x48xf32>) -> tensor<17x11xf32> {
  // expected-error @+1 {{vit.linear result must be [17, 10], got [17, 11]}}
  %y = vit.linear %x weight #vit.param<"w", [10, 48]> : tensor<17x48xf32> -> tensor<17x11xf32>
  func.return %y : tensor<17x11xf32>
}

// -----

func.func @linear_bias(%x: tensor<17x48xf32>) -> tensor<17x10xf32> {
  // expected-error @+1 {{vit.linear bias must be [10], got [48]}}
  %y = vit.linear %x weight #vit.param<"w", [10, 48]> bias #vit.param<"b", [48]> : tensor<17x48xf32> -> tensor<17x10xf32>
  func.return %y : tensor<17x10xf32>
}

// -----

func.func @linear_result_f16(%x: tensor<17x48xf32>) -> tensor<17x10xf16> {
  // expected-error @+1 {{vit.linear result must have element type f32, got f16}}
  %y = vit.linear %x weight #vit.param<"w", [10, 48]> : tensor<17x48xf32> -> tensor<17x10xf16>
  func.return %y : tensor<17x10xf16>
}

// ----- vit.layer_norm

func.func @layer_norm_result_type(%x: tensor<17x48xf32>) -> tensor<17x47xf32> {
  // expected-error @+1 {{vit.layer_norm result type must equal its input type}}
  %y = vit.layer_norm %x eps 1.0e-06 : f64 : tensor<17x48xf32> -> tensor<17x47xf32>
  func.return %y : tensor<17x47xf32>
}

// -----

func.func @layer_norm_weight(%x: tensor<17x48xf32>) -> tensor<17x48xf32> {
  // expected-error @+1 {{vit.layer_norm weight must be [48], got [47]}}
  %y = vit.layer_norm %x weight #vit.param<"ln.w", [47]> eps 1.0e-06 : f64 : tensor<17x48xf32> -> tensor<17x48xf32>
  func.return %y : tensor<17x48xf32>
}

// -----

func.func @layer_norm_bias(%x: tensor<17x48xf32>) -> tensor<17x48xf32> {
  // expected-error @+1 {{vit.layer_norm bias must be [48], got [1, 48]}}
  %y = vit.layer_norm %x bias #vit.param<"ln.b", [1, 48]> eps 1.0e-06 : f64 : tensor<17x48xf32> -> tensor<17x48xf32>
  func.return %y : tensor<17x48xf32>
}

// -----

func.func @layer_norm_eps(%x: tensor<17x48xf32>) -> tensor<17x48xf32> {
  // expected-error @+1 {{vit.layer_norm eps must be finite and > 0, got 0.0}}
  %y = vit.layer_norm %x eps 0.0 : f64 : tensor<17x48xf32> -> tensor<17x48xf32>
  func.return %y : tensor<17x48xf32>
}

// -----

func.func @layer_norm_eps_inf(%x: tensor<17x48xf32>) -> tensor<17x48xf32> {
  // expected-error @+1 {{vit.layer_norm eps must be finite and > 0, got inf}}
  %y = vit.layer_norm %x eps 0x7FF0000000000000 : f64 : tensor<17x48xf32> -> tensor<17x48xf32>
  func.return %y : tensor<17x48xf32>
}

// -----

func.func @patchify_float_patch(%img: tensor<3x32x32xf32>) -> tensor<16x192xf32> {
  // expected-error @+1 {{i64}}
  %p = vit.patchify %img patch array<f32: 8.0, 8.0> : tensor<3x32x32xf32> -> tensor<16x192xf32>
  func.return %p : tensor<16x192xf32>
}

// -----

func.func @layer_norm_rank(%x: tensor<2x17x48xf32>) -> tensor<2x17x48xf32> {
  // expected-error @+1 {{vit.layer_norm input must have rank 1 or 2, got tensor<2x17x48xf32>}}
  %y = vit.layer_norm %x eps 1.0e-06 : f64 : tensor<2x17x48xf32> -> tensor<2x17x48xf32>
  func.return %y : tensor<2x17x48xf32>
}

// ----- vit.matmul

func.func @matmul_rank(%q: tensor<17x16xf32>, %k: tensor<3x17x16xf32>) -> tensor<3x17x17xf32> {
  // expected-error @+1 {{vit.matmul lhs must have rank 3, got tensor<17x16xf32>}}
  %s = vit.matmul %q, %k transpose_b : (tensor<17x16xf32>, tensor<3x17x16xf32>) -> tensor<3x17x17xf32>
  func.return %s : tensor<3x17x17xf32>
}

// -----

func.func @matmul_heads(%q: tensor<3x17x16xf32>, %k: tensor<4x17x16xf32>) -> tensor<3x17x17xf32> {
  // expected-error @+1 {{vit.matmul: lhs has 3 heads but rhs has 4}}
  %s = vit.matmul %q, %k transpose_b : (tensor<3x17x16xf32>, tensor<4x17x16xf32>) -> tensor<3x17x17xf32>
  func.return %s : tensor<3x17x17xf32>
}

// -----

func.func @matmul_contraction(%q: tensor<3x17x16xf32>, %k: tensor<3x17x16xf32>) -> tensor<3x17x16xf32> {
  // expected-error @+1 {{vit.matmul: contraction sizes differ (lhs 16, rhs 17)}}
  %s = vit.matmul %q, %k : (tensor<3x17x16xf32>, tensor<3x17x16xf32>) -> tensor<3x17x16xf32>
  func.return %s : tensor<3x17x16xf32>
}

// -----

func.func @matmul_result(%q: tensor<3x17x16xf32>, %k: tensor<3x17x16xf32>) -> tensor<3x17x16xf32> {
  // expected-error @+1 {{vit.matmul result must be [3, 17, 17], got [3, 17, 16]}}
  %s = vit.matmul %q, %k transpose_b : (tensor<3x17x16xf32>, tensor<3x17x16xf32>) -> tensor<3x17x16xf32>
  func.return %s : tensor<3x17x16xf32>
}

// ----- vit.softmax, vit.gelu, vit.scale

func.func @softmax_result_type(%s: tensor<3x17x17xf32>) -> tensor<3x17x16xf32> {
  // expected-error @+1 {{vit.softmax result type must equal its input type}}
  %p = vit.softmax %s : tensor<3x17x17xf32> -> tensor<3x17x16xf32>
  func.return %p : tensor<3x17x16xf32>
}

// -----

func.func @softmax_rank(%s: tensor<1x3x17x17xf32>) -> tensor<1x3x17x17xf32> {
  // expected-error @+1 {{vit.softmax input must have rank 1 or 2 or 3, got tensor<1x3x17x17xf32>}}
  %p = vit.softmax %s : tensor<1x3x17x17xf32> -> tensor<1x3x17x17xf32>
  func.return %p : tensor<1x3x17x17xf32>
}

// -----

func.func @gelu_result_type(%x: tensor<17x48xf32>) -> tensor<17x48xf16> {
  // expected-error @+1 {{vit.gelu result type must equal its input type}}
  %y = vit.gelu %x tanh : tensor<17x48xf32> -> tensor<17x48xf16>
  func.return %y : tensor<17x48xf16>
}

// -----

func.func @scale_result_type(%x: tensor<17x48xf32>) -> tensor<17x49xf32> {
  // expected-error @+1 {{vit.scale result type must equal its input type}}
  %y = vit.scale %x by 0.25 : f64 : tensor<17x48xf32> -> tensor<17x49xf32>
  func.return %y : tensor<17x49xf32>
}

// -----

func.func @scale_not_finite(%x: tensor<17x48xf32>) -> tensor<17x48xf32> {
  // expected-error @+1 {{vit.scale factor must be finite}}
  %y = vit.scale %x by 0x7FF0000000000000 : f64 : tensor<17x48xf32> -> tensor<17x48xf32>
  func.return %y : tensor<17x48xf32>
}

// ----- vit.add

func.func @add_rank(%a: tensor<1x3x17x17xf32>) -> tensor<1x3x17x17xf32> {
  // expected-error @+1 {{vit.add lhs must have rank 1 or 2 or 3, got tensor<1x3x17x17xf32>}}
  %y = vit.add %a, %a : tensor<1x3x17x17xf32>
  func.return %y : tensor<1x3x17x17xf32>
}

// -----

func.func @add_element_type(%a: tensor<17x48xi32>) -> tensor<17x48xi32> {
  // expected-error @+1 {{vit.add lhs must have element type f32, got i32}}
  %y = vit.add %a, %a : tensor<17x48xi32>
  func.return %y : tensor<17x48xi32>
}

// -----

func.func @add_types_differ(%a: tensor<17x48xf32>, %b: tensor<17x47xf32>) -> tensor<17x48xf32> {
  // expected-error @+1 {{'vit.add' operand 'rhs' at position 1 does not verify}}
  %y = "vit.add"(%a, %b) : (tensor<17x48xf32>, tensor<17x47xf32>) -> tensor<17x48xf32>
  func.return %y : tensor<17x48xf32>
}

// ----- vit.cls_concat

func.func @cls_concat_no_tokens(%x: tensor<16x48xf32>) -> tensor<16x48xf32> {
  // expected-error @+1 {{vit.cls_concat needs at least one token}}
  %y = vit.cls_concat %x tokens [] : tensor<16x48xf32> -> tensor<16x48xf32>
  func.return %y : tensor<16x48xf32>
}

// -----

func.func @cls_concat_token_size(%x: tensor<16x48xf32>) -> tensor<17x48xf32> {
  // expected-error @+1 {{vit.cls_concat token 'cls' has 32 values, expected 48}}
  %y = vit.cls_concat %x tokens [#vit.param<"cls", [1, 1, 32]>] : tensor<16x48xf32> -> tensor<17x48xf32>
  func.return %y : tensor<17x48xf32>
}

// -----

func.func @cls_concat_result(%x: tensor<16x48xf32>) -> tensor<17x48xf32> {
  // expected-error @+1 {{vit.cls_concat result must be [18, 48], got [17, 48]}}
  %y = vit.cls_concat %x tokens [#vit.param<"cls", [1, 1, 48]>, #vit.param<"dist", [1, 1, 48]>] : tensor<16x48xf32> -> tensor<17x48xf32>
  func.return %y : tensor<17x48xf32>
}

// -----

func.func @cls_concat_rank(%x: tensor<48xf32>) -> tensor<2x48xf32> {
  // expected-error @+1 {{vit.cls_concat input must have rank 2, got tensor<48xf32>}}
  %y = vit.cls_concat %x tokens [#vit.param<"cls", [1, 1, 48]>] : tensor<48xf32> -> tensor<2x48xf32>
  func.return %y : tensor<2x48xf32>
}

// ----- vit.pos_embed_add

func.func @pos_embed_add_cover(%x: tensor<17x48xf32>) -> tensor<17x48xf32> {
  // expected-error @+1 {{vit.pos_embed_add: embedding 'pos' [1, 16, 48] does not cover 17x48 tokens}}
  %y = vit.pos_embed_add %x pos #vit.param<"pos", [1, 16, 48]> : tensor<17x48xf32>
  func.return %y : tensor<17x48xf32>
}

// -----

func.func @pos_embed_add_rank(%x: tensor<48xf32>) -> tensor<48xf32> {
  // expected-error @+1 {{vit.pos_embed_add input must have rank 2, got tensor<48xf32>}}
  %y = vit.pos_embed_add %x pos #vit.param<"pos", [48]> : tensor<48xf32>
  func.return %y : tensor<48xf32>
}

// ----- vit.split_heads

func.func @split_heads_zero_heads(%x: tensor<17x144xf32>) -> tensor<3x17x16xf32> {
  // expected-error @+1 {{vit.split_heads heads must be > 0, got 0}}
  %q = vit.split_heads %x heads 0 part 0 of 3 : tensor<17x144xf32> -> tensor<3x17x16xf32>
  func.return %q : tensor<3x17x16xf32>
}

// -----

func.func @split_heads_part_out_of_range(%x: tensor<17x144xf32>) -> tensor<3x17x16xf32> {
  // expected-error @+1 {{vit.split_heads part 3 of 3 is out of range}}
  %q = vit.split_heads %x heads 3 part 3 of 3 : tensor<17x144xf32> -> tensor<3x17x16xf32>
  func.return %q : tensor<3x17x16xf32>
}

// -----

func.func @split_heads_negative_part(%x: tensor<17x144xf32>) -> tensor<3x17x16xf32> {
  // expected-error @+1 {{vit.split_heads part -1 of 3 is out of range}}
  %q = vit.split_heads %x heads 3 part -1 of 3 : tensor<17x144xf32> -> tensor<3x17x16xf32>
  func.return %q : tensor<3x17x16xf32>
}

// -----

func.func @split_heads_indivisible(%x: tensor<17x144xf32>) -> tensor<5x17x9xf32> {
  // expected-error @+1 {{vit.split_heads: 144 features do not split into 3 parts of 5 heads}}
  %q = vit.split_heads %x heads 5 part 0 of 3 : tensor<17x144xf32> -> tensor<5x17x9xf32>
  func.return %q : tensor<5x17x9xf32>
}

// -----

func.func @split_heads_result(%x: tensor<17x144xf32>) -> tensor<3x17x48xf32> {
  // expected-error @+1 {{vit.split_heads result must be [3, 17, 16], got [3, 17, 48]}}
  %q = vit.split_heads %x heads 3 part 0 of 3 : tensor<17x144xf32> -> tensor<3x17x48xf32>
  func.return %q : tensor<3x17x48xf32>
}

// ----- vit.merge_heads

func.func @merge_heads_result(%o: tensor<3x17x16xf32>) -> tensor<17x47xf32> {
  // expected-error @+1 {{vit.merge_heads result must be [17, 48], got [17, 47]}}
  %m = vit.merge_heads %o : tensor<3x17x16xf32> -> tensor<17x47xf32>
  func.return %m : tensor<17x47xf32>
}

// -----

func.func @merge_heads_rank(%o: tensor<17x48xf32>) -> tensor<17x48xf32> {
  // expected-error @+1 {{vit.merge_heads input must have rank 3, got tensor<17x48xf32>}}
  %m = vit.merge_heads %o : tensor<17x48xf32> -> tensor<17x48xf32>
  func.return %m : tensor<17x48xf32>
}

// ----- vit.select_token

func.func @select_token_index(%x: tensor<17x48xf32>) -> tensor<48xf32> {
  // expected-error @+1 {{vit.select_token index 17 is out of range for 17 tokens}}
  %c = vit.select_token %x index 17 : tensor<17x48xf32> -> tensor<48xf32>
  func.return %c : tensor<48xf32>
}

// -----

func.func @select_token_negative_index(%x: tensor<17x48xf32>) -> tensor<48xf32> {
  // expected-error @+1 {{vit.select_token index -1 is out of range for 17 tokens}}
  %c = vit.select_token %x index -1 : tensor<17x48xf32> -> tensor<48xf32>
  func.return %c : tensor<48xf32>
}

// -----

func.func @select_token_result(%x: tensor<17x48xf32>) -> tensor<47xf32> {
  // expected-error @+1 {{vit.select_token result must be [48], got [47]}}
  %c = vit.select_token %x index 0 : tensor<17x48xf32> -> tensor<47xf32>
  func.return %c : tensor<47xf32>
}

// -----

func.func @select_token_result_rank(%x: tensor<17x48xf32>) -> tensor<1x48xf32> {
  // expected-error @+1 {{vit.select_token result must have rank 1, got tensor<1x48xf32>}}
  %c = vit.select_token %x index 0 : tensor<17x48xf32> -> tensor<1x48xf32>
  func.return %c : tensor<1x48xf32>
}

// ----- the mixed scheme: #vit.format<mixed k>, #vit.quant, #vit.rows, `rows` on vit.linear

func.func @mixed_one_bit(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{#vit.format: mixed weights have 2..8 bits, got 1}}
  %y = vit.linear %x weight #vit.param<"w", [8, 8]> quant #vit.quant<w = mixed 1, x = int 8> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %y : tensor<5x8xf32>
}

// -----

func.func @mixed_nine_bits(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{#vit.format: mixed weights have 2..8 bits, got 9}}
  %y = vit.linear %x weight #vit.param<"w", [8, 8]> quant #vit.quant<w = mixed 9, x = int 8> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %y : tensor<5x8xf32>
}

// -----

func.func @mixed_with_scale(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{#vit.format: mixed weights take no scale (each row has its own step)}}
  %y = vit.linear %x weight #vit.param<"w", [8, 8]> quant #vit.quant<w = mixed 4 scale 0.5, x = int 8> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %y : tensor<5x8xf32>
}

// -----

func.func @mixed_inputs(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{#vit.quant: mixed is a weight format; inputs cannot be mixed}}
  %y = vit.linear %x weight #vit.param<"w", [8, 8]> quant #vit.quant<w = mixed 4, x = mixed 4> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %y : tensor<5x8xf32>
}

// -----

func.func @rows_mask_too_short(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{#vit.rows: a mask of 8 rows has 2 hex digits, got 1}}
  %y = vit.linear %x weight #vit.param<"w", [8, 8]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 1 of 8, "1"> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %y : tensor<5x8xf32>
}

// -----

func.func @rows_mask_not_hex(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{#vit.rows: the mask 'g1' is not hexadecimal}}
  %y = vit.linear %x weight #vit.param<"w", [8, 8]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 1 of 8, "g1"> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %y : tensor<5x8xf32>
}

// -----

func.func @rows_mask_beyond(%x: tensor<5x6xf32>) -> tensor<5x6xf32> {
  // expected-error @+1 {{#vit.rows: the mask sets rows beyond the 6 rows of the weights}}
  %y = vit.linear %x weight #vit.param<"w", [6, 6]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 1 of 6, "04"> : tensor<5x6xf32> -> tensor<5x6xf32>
  func.return %y : tensor<5x6xf32>
}

// -----

func.func @rows_popcount(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{#vit.rows: the mask has 3 power-of-two rows, not 2}}
  %y = vit.linear %x weight #vit.param<"w", [8, 8]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 2 of 8, "70"> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %y : tensor<5x8xf32>
}

// -----

func.func @rows_pot_above_rows(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{#vit.rows: pot must be in 0..8, got 9}}
  %y = vit.linear %x weight #vit.param<"w", [8, 8]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 9 of 8, "ff"> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %y : tensor<5x8xf32>
}

// -----

func.func @rows_zero_rows(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{#vit.rows: rows must be >= 1, got 0}}
  %y = vit.linear %x weight #vit.param<"w", [8, 8]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 0 of 0, ""> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %y : tensor<5x8xf32>
}

// -----

func.func @rows_without_mixed(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{vit.linear: `rows` needs mixed weights (quant w = mixed k)}}
  %y = vit.linear %x weight #vit.param<"w", [8, 8]> quant #vit.quant<w = binary 1, x = int 8> rows #vit.rows<pot 1 of 8, "10"> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %y : tensor<5x8xf32>
}

// -----

func.func @rows_without_quant(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{vit.linear: `rows` needs mixed weights (quant w = mixed k)}}
  %y = vit.linear %x weight #vit.param<"w", [8, 8]> rows #vit.rows<pot 1 of 8, "10"> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %y : tensor<5x8xf32>
}

// -----

func.func @rows_count(%x: tensor<5x8xf32>) -> tensor<5x4xf32> {
  // expected-error @+1 {{vit.linear: `rows` describes 8 rows but the weight has 4}}
  %y = vit.linear %x weight #vit.param<"w", [4, 8]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 1 of 8, "10"> : tensor<5x8xf32> -> tensor<5x4xf32>
  func.return %y : tensor<5x4xf32>
}

// -----

func.func @rows_syntax(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{Expected 'of'}}
  %y = vit.linear %x weight #vit.param<"w", [8, 8]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 1, "10"> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %y : tensor<5x8xf32>
}

// -----

func.func @mixed_matmul(%q: tensor<2x5x4xf32>, %k: tensor<2x5x4xf32>) -> tensor<2x5x5xf32> {
  // expected-error @+1 {{vit.matmul: both operands are activations, not mixed}}
  %s = vit.matmul %q, %k transpose_b quant #vit.quant<w = mixed 4, x = int 8> : (tensor<2x5x4xf32>, tensor<2x5x4xf32>) -> tensor<2x5x5xf32>
  func.return %s : tensor<2x5x5xf32>
}

// -----

func.func @mixed_patch_embed(%img: tensor<3x16x16xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{vit.patch_embed: mixed weights are for FC layers (vit.linear); fold-patch-embed first}}
  %0 = vit.patch_embed %img weight #vit.param<"w", [8, 3, 8, 8]> stride array<i64: 8, 8> padding array<i64: 0, 0> quant #vit.quant<w = mixed 4, x = int 8> : tensor<3x16x16xf32> -> tensor<4x8xf32>
  func.return %0 : tensor<4x8xf32>
}

// ----- vit.mean_pool

func.func @mean_pool_result(%x: tensor<17x48xf32>) -> tensor<17xf32> {
  // expected-error @+1 {{vit.mean_pool result must be [48], got [17]}}
  %m = vit.mean_pool %x : tensor<17x48xf32> -> tensor<17xf32>
  func.return %m : tensor<17xf32>
}

// -----

func.func @mean_pool_rank(%x: tensor<2x17x48xf32>) -> tensor<48xf32> {
  // expected-error @+1 {{vit.mean_pool input must have rank 2, got tensor<2x17x48xf32>}}
  %m = vit.mean_pool %x : tensor<2x17x48xf32> -> tensor<48xf32>
  func.return %m : tensor<48xf32>
}

// -----

func.func @mean_pool_first(%x: tensor<17x48xf32>) -> tensor<48xf32> {
  // expected-error @+1 {{vit.mean_pool: first token 17 is out of range for 17 tokens}}
  %m = vit.mean_pool %x from 17 : tensor<17x48xf32> -> tensor<48xf32>
  func.return %m : tensor<48xf32>
}
