// RUN: not vaqf-opt %s --split-input-file -p fold-patch-embed 2>/dev/null | filecheck %s
// RUN: vaqf-opt %s --split-input-file -p fold-patch-embed --verify-diagnostics > /dev/null

// A patch embedding (kernel = stride, no padding) becomes patchify + FC with the conv weight as is.
func.func @embed(%img: tensor<3x32x48xf32>) -> tensor<24x64xf32> {
  %0 = vit.patch_embed %img weight #vit.param<"pe.w", [64, 3, 8, 8]> bias #vit.param<"pe.b", [64]> stride array<i64: 8, 8> padding array<i64: 0, 0> : tensor<3x32x48xf32> -> tensor<24x64xf32>
  func.return %0 : tensor<24x64xf32>
}
// CHECK-LABEL: func.func @embed(
// CHECK-NEXT:    %[[P:.*]] = vit.patchify %img patch array<i64: 8, 8> : tensor<3x32x48xf32> -> tensor<24x192xf32>
// CHECK-NEXT:    %[[Y:.*]] = vit.linear %[[P]] weight #vit.param<"pe.w", [64, 3, 8, 8]> bias #vit.param<"pe.b", [64]> : tensor<24x192xf32> -> tensor<24x64xf32>
// CHECK-NEXT:    func.return %[[Y]]
// CHECK-NOT:   vit.patch_embed

// -----

// Non-square patches, no bias; decisions already made on the conv move to the FC.
func.func @rect(%img: tensor<1x8x12xf32>) -> tensor<6x5xf32> {
  %0 = vit.patch_embed %img weight #vit.param<"w", [5, 1, 4, 4]> stride array<i64: 4, 4> padding array<i64: 0, 0> out #vit.format<fixed 16> on accel : tensor<1x8x12xf32> -> tensor<6x5xf32>
  func.return %0 : tensor<6x5xf32>
}
// CHECK-LABEL: func.func @rect(
// CHECK-NEXT:    vit.patchify %img patch array<i64: 4, 4> : tensor<1x8x12xf32> -> tensor<6x16xf32>
// CHECK-NEXT:    vit.linear %{{.*}} weight #vit.param<"w", [5, 1, 4, 4]> out #vit.format<fixed 16> on accel : tensor<6x16xf32> -> tensor<6x5xf32>

// -----

func.func @overlap(%img: tensor<3x32x32xf32>) -> tensor<49x48xf32> {
  // expected-error @+1 {{fold-patch-embed: kernel [8, 8] differs from stride [4, 4], so patches overlap}}
  %0 = vit.patch_embed %img weight #vit.param<"w", [48, 3, 8, 8]> stride array<i64: 4, 4> padding array<i64: 0, 0> : tensor<3x32x32xf32> -> tensor<49x48xf32>
  func.return %0 : tensor<49x48xf32>
}

// -----

func.func @padded(%img: tensor<3x32x32xf32>) -> tensor<25x48xf32> {
  // expected-error @+1 {{fold-patch-embed: padding [4, 4] is not supported}}
  %0 = vit.patch_embed %img weight #vit.param<"w", [48, 3, 8, 8]> stride array<i64: 8, 8> padding array<i64: 4, 4> : tensor<3x32x32xf32> -> tensor<25x48xf32>
  func.return %0 : tensor<25x48xf32>
}
