// RUN: vaqf-opt %s | filecheck %s
// RUN: VAQF_ROUNDTRIP
// RUN: vaqf-opt %s > %t.custom && vaqf-opt %t.custom | diff %t.custom -

// Every accel op prints as written and round-trips through the generic form.
func.func @engine(%x: tensor<5x8xf32>, %q: tensor<2x5x4xf32>, %k: tensor<2x5x4xf32>) -> (tensor<5x24xf32>, tensor<2x5x5xf32>) {
  %0 = accel.load %x stream quantized format #vit.format<int 8> : tensor<5x8xf32> -> tensor<5x8xf32>
  %1 = accel.engine fc %0 heads 1 weight #vit.param<"w", [24, 8]> bias #vit.param<"b", [24]> quant #vit.quant<w = binary 1, x = int 8> out #vit.format<int 8> : (tensor<5x8xf32>) -> tensor<5x24xf32>
  %2 = accel.store %1 format #vit.format<int 8> : tensor<5x24xf32> -> tensor<5x24xf32>
  %3 = accel.load %q stream quantized format #vit.format<int 8> : tensor<2x5x4xf32> -> tensor<2x5x4xf32>
  %4 = accel.load %k stream unquantized format #vit.format<fixed 16> : tensor<2x5x4xf32> -> tensor<2x5x4xf32>
  %5 = accel.engine attention %3, %4 heads 2 transpose_b quant #vit.quant<w = fixed 16, x = int 8> out #vit.format<fixed 16> : (tensor<2x5x4xf32>, tensor<2x5x4xf32>) -> tensor<2x5x5xf32>
  func.return %2, %5 : tensor<5x24xf32>, tensor<2x5x5xf32>
}
// CHECK-LABEL: func.func @engine(
// CHECK-NEXT:    %0 = accel.load %x stream quantized format #vit.format<int 8> : tensor<5x8xf32> -> tensor<5x8xf32>
// CHECK-NEXT:    %1 = accel.engine fc %0 heads 1 weight #vit.param<"w", [24, 8]> bias #vit.param<"b", [24]> quant #vit.quant<w = binary 1, x = int 8> out #vit.format<int 8> : (tensor<5x8xf32>) -> tensor<5x24xf32>
// CHECK-NEXT:    %2 = accel.store %1 format #vit.format<int 8> : tensor<5x24xf32> -> tensor<5x24xf32>
// CHECK:         accel.engine attention %3, %4 heads 2 transpose_b quant #vit.quant<w = fixed 16, x = int 8> out #vit.format<fixed 16>

func.func @mirrored(%img: tensor<3x16x16xf32>, %t: tensor<4x8xf32>, %h: tensor<2x5x4xf32>) -> (tensor<4x192xf32>, tensor<8xf32>, tensor<5x8xf32>) {
  %0 = accel.patchify %img patch array<i64: 8, 8> out #vit.format<fixed 16> on host : tensor<3x16x16xf32> -> tensor<4x192xf32>
  %1 = accel.cls_concat %t tokens [#vit.param<"cls", [1, 1, 8]>] on host : tensor<4x8xf32> -> tensor<5x8xf32>
  %2 = accel.pos_embed_add %1 pos #vit.param<"pos", [1, 5, 8]> on host : tensor<5x8xf32>
  %3 = accel.layer_norm %2 eps 1.0e-06 : f64 out #vit.format<int 8> on accel : tensor<5x8xf32> -> tensor<5x8xf32>
  %4 = accel.add %2, %3 on accel : tensor<5x8xf32>
  %5 = accel.scale %4 by 0.5 : f64 on host : tensor<5x8xf32> -> tensor<5x8xf32>
  %6 = accel.softmax %5 out #vit.format<uint 8> on accel : tensor<5x8xf32> -> tensor<5x8xf32>
  %7 = accel.gelu %6 tanh on host : tensor<5x8xf32> -> tensor<5x8xf32>
  %8 = accel.select_token %7 index 0 on host : tensor<5x8xf32> -> tensor<8xf32>
  %9 = accel.merge_heads %h on accel : tensor<2x5x4xf32> -> tensor<5x8xf32>
  %10 = accel.split_heads %9 heads 2 part 0 of 1 on accel : tensor<5x8xf32> -> tensor<2x5x4xf32>
  %11 = accel.mean_pool %7 out #vit.format<fixed 16> on host : tensor<5x8xf32> -> tensor<8xf32>
  func.return %0, %8, %9 : tensor<4x192xf32>, tensor<8xf32>, tensor<5x8xf32>
}
// CHECK-LABEL: func.func @mirrored(
// CHECK-NEXT:    accel.patchify %img patch array<i64: 8, 8> out #vit.format<fixed 16> on host
// CHECK-NEXT:    accel.cls_concat %t tokens [#vit.param<"cls", [1, 1, 8]>] on host
// CHECK-NEXT:    accel.pos_embed_add %1 pos #vit.param<"pos", [1, 5, 8]> on host
// CHECK-NEXT:    accel.layer_norm %2 eps 1.000000e-06 : f64 out #vit.format<int 8> on accel
// CHECK-NEXT:    accel.add %2, %3 on accel
// CHECK-NEXT:    accel.scale %4 by 5.000000e-01 : f64 on host
// CHECK-NEXT:    accel.softmax %5 out #vit.format<uint 8> on accel
// CHECK-NEXT:    accel.gelu %6 tanh on host
// CHECK-NEXT:    accel.select_token %7 index 0 on host
// CHECK-NEXT:    accel.merge_heads %h on accel
// CHECK-NEXT:    accel.split_heads %9 heads 2 part 0 of 1 on accel
// CHECK-NEXT:    accel.mean_pool %7 out #vit.format<fixed 16> on host

// An FC engine with mixed weights carries its row split (before `out`).
func.func @mixed_engine(%x: tensor<5x8xf32>) -> tensor<5x9xf32> {
  %0 = accel.engine fc %x heads 1 weight #vit.param<"w", [9, 8]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 4 of 9, "d01"> out #vit.format<int 8> : (tensor<5x8xf32>) -> tensor<5x9xf32>
  func.return %0 : tensor<5x9xf32>
}
// CHECK-LABEL: func.func @mixed_engine(
// CHECK-NEXT:    %0 = accel.engine fc %x heads 1 weight #vit.param<"w", [9, 8]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 4 of 9, "d01"> out #vit.format<int 8> : (tensor<5x8xf32>) -> tensor<5x9xf32>
