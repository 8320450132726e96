// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline{abits=4}' | filecheck %s
// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p fold-patch-embed,'mark-quantization{abits=4}',partition-host-accel,lower-to-accel > %t.steps
// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline{abits=4}' | diff %t.steps -
// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline{wbits=16 abits=16 softmax-on-accel=true}' | filecheck %s --check-prefix=BASE
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline{abits=0}' 2>&1 | filecheck %s --check-prefix=ZERO

// The named pipeline is the four passes in order.
// CHECK-NOT:  vit.{{[a-z_]+}} %
// CHECK:      accel.engine fc {{.*}}"qkv.w"{{.*}} quant #vit.quant<w = binary 1, x = int 4> out #vit.format<int 4>
// CHECK:      accel.softmax {{.*}} out #vit.format<uint 4> on host

// BASE-NOT:   binary
// BASE:       accel.engine fc {{.*}}"qkv.w"{{.*}} quant #vit.quant<w = fixed 16, x = fixed 16> out #vit.format<fixed 16>
// BASE:       accel.softmax {{.*}} out #vit.format<fixed 16> on accel

// ZERO: vaqf-opt: error: invalid options for pass 'vaqf-pipeline': vaqf-pipeline: abits must be in 1..16, got 0
