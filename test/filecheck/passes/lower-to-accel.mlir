// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p fold-patch-embed,mark-quantization,partition-host-accel,lower-to-accel | filecheck %s
// RUN: vaqf-opt %s --split-input-file -p lower-to-accel --verify-diagnostics | filecheck %s --check-prefix=ROWS
// RUN: vaqf-opt %S/../Inputs/tiny_mean_vit.mlir -p mark-quantization,partition-host-accel,lower-to-accel | filecheck %s --check-prefix=MEAN

// FC layers and attention products become the shared engine between a load (through the
// stream their input format selects) and a store; the rest keeps its meaning in `accel`.
// CHECK-LABEL: func.func @forward(
// CHECK:       %[[PATCHES:.*]] = accel.patchify %image {{.*}} out #vit.format<fixed 16> on host
// CHECK-NEXT:  %[[L0:.*]] = accel.load %[[PATCHES]] stream unquantized format #vit.format<fixed 16>
// CHECK-NEXT:  %[[E0:.*]] = accel.engine fc %[[L0]] heads 1 weight #vit.param<"pe.w", [8, 3, 8, 8]> {{.*}} quant #vit.quant<w = fixed 16, x = fixed 16> out #vit.format<fixed 16>
// CHECK-NEXT:  %[[S0:.*]] = accel.store %[[E0]] format #vit.format<fixed 16>
// CHECK-NEXT:  accel.cls_concat %[[S0]]
// CHECK:       %[[LN:.*]] = accel.layer_norm {{.*}} out #vit.format<int 8> on accel
// CHECK-NEXT:  %[[L1:.*]] = accel.load %[[LN]] stream quantized format #vit.format<int 8>
// CHECK-NEXT:  %[[QKV:.*]] = accel.engine fc %[[L1]] heads 1 weight #vit.param<"qkv.w", [24, 8]> {{.*}} quant #vit.quant<w = binary 1, x = int 8> out #vit.format<int 8>
// CHECK-NEXT:  %[[S1:.*]] = accel.store %[[QKV]] format #vit.format<int 8>
// CHECK-NEXT:  %[[Q:.*]] = accel.split_heads %[[S1]] heads 2 part 0 of 3
// CHECK:       accel.engine attention %{{.*}}, %{{.*}} heads 2 transpose_b quant #vit.quant<w = int 8, x = int 8> out #vit.format<fixed 16>
// CHECK:       accel.scale {{.*}} on host
// CHECK:       %[[P:.*]] = accel.softmax {{.*}} out #vit.format<uint 8> on host
// CHECK-NEXT:  accel.load %[[P]] stream quantized format #vit.format<uint 8>
// CHECK:       accel.engine attention {{.*}} heads 2 quant #vit.quant<w = int 8, x = uint 8> out #vit.format<int 8>
// CHECK:       accel.merge_heads
// CHECK:       accel.add
// CHECK:       accel.gelu {{.*}} out #vit.format<int 8> on host
// CHECK:       accel.select_token
// CHECK:       accel.engine fc {{.*}} weight #vit.param<"head.w", [3, 8]>
// CHECK-NOT:   vit.{{[a-z_]+}} %

// -----

func.func @unannotated(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{lower-to-accel: missing annotations; run mark-quantization and partition-host-accel first}}
  %y = vit.linear %x weight #vit.param<"w", [8, 8]> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %y : tensor<5x8xf32>
}

// -----

func.func @unfolded(%img: tensor<3x16x16xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{lower-to-accel: run fold-patch-embed first}}
  %0 = vit.patch_embed %img weight #vit.param<"w", [8, 3, 8, 8]> stride array<i64: 8, 8> padding array<i64: 0, 0> out #vit.format<fixed 16> on accel : tensor<3x16x16xf32> -> tensor<4x8xf32>
  func.return %0 : tensor<4x8xf32>
}

// -----

func.func @fc_on_host(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{lower-to-accel: matrix products must be placed on the FPGA}}
  %y = vit.linear %x weight #vit.param<"w", [8, 8]> quant #vit.quant<w = fixed 16, x = fixed 16> out #vit.format<fixed 16> on host : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %y : tensor<5x8xf32>
}

// -----

// The row split of mixed weights moves onto the engine unchanged.
// ROWS-LABEL: func.func @mixed_rows
// ROWS:       accel.engine fc %{{.*}} heads 1 weight #vit.param<"w", [8, 8]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 3 of 8, "b0"> out #vit.format<int 8>
func.func @mixed_rows(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  %l = vit.layer_norm %x eps 1.0e-06 : f64 out #vit.format<int 8> on accel : tensor<5x8xf32> -> tensor<5x8xf32>
  %y = vit.linear %l weight #vit.param<"w", [8, 8]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 3 of 8, "b0"> out #vit.format<int 8> on accel : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %y : tensor<5x8xf32>
}

// vit.mean_pool becomes its accel mirror on the host; the head engine reads the pooled vector.
// MEAN:       %[[C:.*]] = accel.mean_pool %{{.*}} out #vit.format<fixed 16> on host : tensor<4x8xf32> -> tensor<8xf32>
// MEAN:       accel.engine fc %{{.*}} weight #vit.param<"head.w", [3, 8]>
// MEAN-NOT:   vit.mean_pool
