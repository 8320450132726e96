// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline{abits=4}' | filecheck %s
// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p fold-patch-embed,'mark-quantization{abits=4}',partition-host-accel,lower-to-accel > %t.steps
// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline{abits=4}' | diff %t.steps -
// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline{wbits=16 abits=16 softmax-on-accel=true}' | filecheck %s --check-prefix=BASE
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline{abits=0}' 2>&1 | filecheck %s --check-prefix=ZERO
// scheme=mixed: assign-pot-rows runs after mark-quantization, so the engines carry the row split.
// RUN: python %S/Inputs/with_weights.py %S/../Inputs/tiny_vit.mlir %t.mlir
// RUN: vaqf-opt %t.mlir -p 'vaqf-pipeline{scheme=mixed wbits=4 abits=6 pot-ratio=0.25}' | filecheck %s --check-prefix=MIXED
// RUN: vaqf-opt %t.mlir -p fold-patch-embed,'mark-quantization{scheme=mixed abits=6}','assign-pot-rows{ratio=0.25}',partition-host-accel,lower-to-accel > %t.mixed.steps
// RUN: vaqf-opt %t.mlir -p 'vaqf-pipeline{scheme=mixed abits=6 pot-ratio=0.25}' | diff %t.mixed.steps -
// RUN: vaqf-opt %t.mlir -p 'vaqf-pipeline{scheme=mixed}' | filecheck %s --check-prefix=HALF
// RUN: not vaqf-opt %t.mlir -p 'vaqf-pipeline{pot-ratio=0.5}' 2>&1 | filecheck %s --check-prefix=NOTMIXED
// RUN: not vaqf-opt %t.mlir -p 'vaqf-pipeline{scheme=mixed pot-ratio=2.0}' 2>&1 | filecheck %s --check-prefix=RATIO
// RUN: cat %t.mlir | not vaqf-opt -p 'vaqf-pipeline{scheme=mixed}' 2>&1 | filecheck %s --check-prefix=STDIN

// The named pipeline is the four passes in order.
// CHECK-NOT:  vit.{{[a-z_]+}} %
// CHECK:      accel.engine fc {{.*}}"qkv.w"{{.*}} quant #vit.quant<w = binary 1, x = int 4> out #vit.format<int 4>
// CHECK:      accel.softmax {{.*}} out #vit.format<uint 4> on host

// BASE-NOT:   binary
// BASE:       accel.engine fc {{.*}}"qkv.w"{{.*}} quant #vit.quant<w = fixed 16, x = fixed 16> out #vit.format<fixed 16>
// BASE:       accel.softmax {{.*}} out #vit.format<fixed 16> on accel

// ZERO: vaqf-opt: error: invalid options for pass 'vaqf-pipeline': vaqf-pipeline: abits must be in 1..16, got 0

// MIXED:      func.func @forward{{.*}}vit.pot_ratio = 2.500000e-01 : f64
// MIXED:      accel.engine fc {{.*}}"pe.w"{{.*}} quant #vit.quant<w = fixed 16, x = fixed 16> out
// MIXED:      accel.engine fc {{.*}}"qkv.w"{{.*}} quant #vit.quant<w = mixed 4, x = int 6> rows #vit.rows<pot 6 of 24, "{{[0-9a-f]+}}"> out #vit.format<int 6>
// MIXED:      accel.engine attention {{.*}} quant #vit.quant<w = int 6, x = int 6>
// MIXED:      accel.engine fc {{.*}}"proj.w"{{.*}} rows #vit.rows<pot 2 of 8,
// MIXED:      accel.engine fc {{.*}}"fc1.w"{{.*}} rows #vit.rows<pot 4 of 16,
// MIXED:      accel.engine fc {{.*}}"fc2.w"{{.*}} rows #vit.rows<pot 2 of 8,
// MIXED:      accel.engine fc {{.*}}"head.w"{{.*}} quant #vit.quant<w = fixed 16, x = fixed 16> out
// HALF:       accel.engine fc {{.*}}"qkv.w"{{.*}} quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 12 of 24,
// NOTMIXED:   vaqf-opt: error: invalid options for pass 'vaqf-pipeline': vaqf-pipeline: pot-ratio and weights are options of scheme=mixed
// RATIO:      vaqf-opt: error: invalid options for pass 'vaqf-pipeline': assign-pot-rows: the PoT ratio must be in [0, 1], got 2.0
// STDIN:      assign-pot-rows: needs the float weights but the IR came without a file name (stdin)
