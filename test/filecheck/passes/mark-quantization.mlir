// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'mark-quantization{abits=6}' | filecheck %s
// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'mark-quantization{wbits=16 abits=16}' | filecheck %s --check-prefix=BASE
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'mark-quantization{abits=0}' 2>&1 | filecheck %s --check-prefix=ZERO
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'mark-quantization{abits=17}' 2>&1 | filecheck %s --check-prefix=BIG
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'mark-quantization{wbits=2}' 2>&1 | filecheck %s --check-prefix=WBITS
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'mark-quantization{wbits=16 abits=8}' 2>&1 | filecheck %s --check-prefix=MIXED
// RUN: vaqf-opt %s --split-input-file -p mark-quantization --verify-diagnostics
// The mixed scheme (ours, after Auto-ViT-Acc): k-bit mixed weights in the encoder FCs, the rest as VAQF.
// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'mark-quantization{scheme=mixed wbits=3 abits=6}' | filecheck %s --check-prefix=MX
// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'mark-quantization{scheme=mixed}' | filecheck %s --check-prefix=MXDEFAULT
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'mark-quantization{scheme=mixed wbits=1}' 2>&1 | filecheck %s --check-prefix=MXONE
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'mark-quantization{scheme=mixed wbits=9}' 2>&1 | filecheck %s --check-prefix=MXNINE
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'mark-quantization{scheme=ternary}' 2>&1 | filecheck %s --check-prefix=SCHEME
// Re-marking keeps a row split only while the weight format stays the same.
// RUN: python %S/Inputs/with_weights.py %S/../Inputs/tiny_vit.mlir %t.mlir
// RUN: vaqf-opt %t.mlir -p 'mark-quantization{scheme=mixed},assign-pot-rows,mark-quantization{scheme=mixed abits=4}' | filecheck %s --check-prefix=KEEP
// RUN: vaqf-opt %t.mlir -p 'mark-quantization{scheme=mixed},assign-pot-rows,mark-quantization' | filecheck %s --check-prefix=DROP
// RUN: vaqf-opt %t.mlir -p 'mark-quantization{scheme=mixed},assign-pot-rows,mark-quantization{scheme=mixed wbits=5}' | filecheck %s --check-prefix=DROP
// RUN: vaqf-opt %S/../Inputs/tiny_mean_vit.mlir -p mark-quantization | filecheck %s --check-prefix=MEAN

// Patch embedding, head, layer norm and the residual path stay 16-bit; encoder FCs get
// binary weights and 6-bit inputs; both attention products take 6-bit operands; a tensor
// is stored as codes only when every reader is quantized.
// CHECK:      vit.patch_embed {{.*}} quant #vit.quant<w = fixed 16, x = fixed 16> out #vit.format<fixed 16>
// CHECK:      vit.cls_concat {{.*}} out #vit.format<fixed 16>
// CHECK:      vit.pos_embed_add {{.*}} out #vit.format<fixed 16>
// CHECK:      vit.layer_norm {{.*}} out #vit.format<int 6>
// CHECK:      vit.linear {{.*}}"qkv.w"{{.*}} quant #vit.quant<w = binary 1, x = int 6> out #vit.format<int 6>
// CHECK-COUNT-3: vit.split_heads {{.*}} out #vit.format<int 6>
// CHECK:      vit.matmul %q, %k transpose_b quant #vit.quant<w = int 6, x = int 6> out #vit.format<fixed 16>
// CHECK:      vit.scale {{.*}} out #vit.format<fixed 16>
// CHECK:      vit.softmax {{.*}} out #vit.format<uint 6>
// CHECK:      vit.matmul %p, %v quant #vit.quant<w = int 6, x = uint 6> out #vit.format<int 6>
// CHECK:      vit.merge_heads {{.*}} out #vit.format<int 6>
// CHECK:      vit.linear {{.*}}"proj.w"{{.*}} quant #vit.quant<w = binary 1, x = int 6> out #vit.format<fixed 16>
// CHECK:      vit.add {{.*}} out #vit.format<fixed 16>
// CHECK:      vit.linear {{.*}}"fc1.w"{{.*}} quant #vit.quant<w = binary 1, x = int 6> out #vit.format<fixed 16>
// CHECK:      vit.gelu {{.*}} out #vit.format<int 6>
// CHECK:      vit.linear {{.*}}"fc2.w"{{.*}} quant #vit.quant<w = binary 1, x = int 6> out #vit.format<fixed 16>
// CHECK:      vit.layer_norm {{.*}}"ln.w"{{.*}} out #vit.format<fixed 16>
// CHECK:      vit.linear {{.*}}"head.w"{{.*}} quant #vit.quant<w = fixed 16, x = fixed 16> out #vit.format<fixed 16>

// BASE-NOT:   binary
// BASE-NOT:   int
// BASE:       vit.linear {{.*}}"qkv.w"{{.*}} quant #vit.quant<w = fixed 16, x = fixed 16> out #vit.format<fixed 16>

// MX:         vit.patch_embed {{.*}} quant #vit.quant<w = fixed 16, x = fixed 16> out #vit.format<fixed 16>
// MX:         vit.layer_norm {{.*}} out #vit.format<int 6>
// MX:         vit.linear {{.*}}"qkv.w"{{.*}} quant #vit.quant<w = mixed 3, x = int 6> out #vit.format<int 6>
// MX:         vit.matmul %q, %k transpose_b quant #vit.quant<w = int 6, x = int 6> out #vit.format<fixed 16>
// MX:         vit.softmax {{.*}} out #vit.format<uint 6>
// MX:         vit.linear {{.*}}"proj.w"{{.*}} quant #vit.quant<w = mixed 3, x = int 6> out #vit.format<fixed 16>
// MX:         vit.linear {{.*}}"fc1.w"{{.*}} quant #vit.quant<w = mixed 3, x = int 6> out #vit.format<fixed 16>
// MX:         vit.gelu {{.*}} out #vit.format<int 6>
// MX:         vit.linear {{.*}}"fc2.w"{{.*}} quant #vit.quant<w = mixed 3, x = int 6> out #vit.format<fixed 16>
// MX:         vit.linear {{.*}}"head.w"{{.*}} quant #vit.quant<w = fixed 16, x = fixed 16> out #vit.format<fixed 16>
// MXDEFAULT:  vit.linear {{.*}}"qkv.w"{{.*}} quant #vit.quant<w = mixed 4, x = int 8> out #vit.format<int 8>
// MXONE:  vaqf-opt: error: invalid options for pass 'mark-quantization': mark-quantization: scheme=mixed needs wbits in 2..8 (e.g. wbits=4), got 1
// MXNINE: mark-quantization: scheme=mixed needs wbits in 2..8 (e.g. wbits=4), got 9
// SCHEME: mark-quantization: unknown scheme 'ternary'; expected one of vaqf, mixed
// KEEP:       func.func @forward{{.*}}vit.pot_ratio = 5.000000e-01 : f64
// KEEP:       vit.linear {{.*}}"qkv.w"{{.*}} quant #vit.quant<w = mixed 4, x = int 4> rows #vit.rows<pot 12 of 24, "{{[0-9a-f]+}}"> out
// KEEP:       vit.linear {{.*}}"fc2.w"{{.*}} quant #vit.quant<w = mixed 4, x = int 4> rows #vit.rows<pot 4 of 8, "{{[0-9a-f]+}}"> out
// DROP-NOT:   rows
// DROP-NOT:   pot_ratio

// ZERO:  vaqf-opt: error: invalid options for pass 'mark-quantization': mark-quantization: abits must be in 1..16, got 0
// BIG:   vaqf-opt: error: invalid options for pass 'mark-quantization': mark-quantization: abits must be in 1..16, got 17
// WBITS: vaqf-opt: error: invalid options for pass 'mark-quantization': mark-quantization: wbits must be 1 (binary weights) or 16 (unquantized baseline), got 2
// MIXED: the unquantized baseline (wbits=16) needs abits=16, got 8

// -----

// expected-error @+1 {{mark-quantization: this is not a ViT: no token embedding (vit.cls_concat or vit.pos_embed_add) found}}
func.func @mlp(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  %y = vit.linear %x weight #vit.param<"w", [8, 8]> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %y : tensor<5x8xf32>
}

// -----

// expected-error @+1 {{mark-quantization: the model has no encoder layers to quantize}}
func.func @no_encoder(%x: tensor<4x8xf32>) -> tensor<8xf32> {
  %1 = vit.cls_concat %x tokens [#vit.param<"cls", [1, 1, 8]>] : tensor<4x8xf32> -> tensor<5x8xf32>
  %c = vit.select_token %1 index 0 : tensor<5x8xf32> -> tensor<8xf32>
  func.return %c : tensor<8xf32>
}

// -----

func.func @mixed_use(%x: tensor<4x8xf32>) -> tensor<5x8xf32> {
  %1 = vit.cls_concat %x tokens [#vit.param<"cls", [1, 1, 8]>] : tensor<4x8xf32> -> tensor<5x8xf32>
  // expected-error @+1 {{mark-quantization: this value feeds both quantized and unquantized inputs}}
  %2 = vit.layer_norm %1 eps 1.0e-06 : f64 : tensor<5x8xf32> -> tensor<5x8xf32>
  %3 = vit.linear %2 weight #vit.param<"w", [8, 8]> : tensor<5x8xf32> -> tensor<5x8xf32>
  %4 = vit.add %2, %3 : tensor<5x8xf32>
  func.return %4 : tensor<5x8xf32>
}

// Mean pooling ends the encoder like the CLS select: the last encoder FC's readers are 16-bit, the
// pooled vector and the head stay unquantized; the patch LN + linear before the position embedding too.
// MEAN:       vit.layer_norm {{.*}}"pn.w"{{.*}} out #vit.format<fixed 16>
// MEAN:       vit.linear {{.*}}"pe.w"{{.*}} quant #vit.quant<w = fixed 16, x = fixed 16> out #vit.format<fixed 16>
// MEAN:       vit.linear {{.*}}"fc2.w"{{.*}} quant #vit.quant<w = binary 1, x = int 8>
// MEAN:       vit.mean_pool {{.*}} out #vit.format<fixed 16>
// MEAN:       vit.linear {{.*}}"head.w"{{.*}} quant #vit.quant<w = fixed 16, x = fixed 16> out #vit.format<fixed 16>
