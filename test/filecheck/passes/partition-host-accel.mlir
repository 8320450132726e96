// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p partition-host-accel | filecheck %s
// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'partition-host-accel{softmax-on-accel=true gelu-on-accel=true scale-on-accel=true}' | filecheck %s --check-prefix=MOVED
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'partition-host-accel{softmax-on-accel=maybe}' 2>&1 | filecheck %s --check-prefix=BAD
// RUN: vaqf-opt %S/../Inputs/tiny_mean_vit.mlir -p partition-host-accel | filecheck %s --check-prefix=MEAN

// Matrix work, layer norm and residual adds on the FPGA; scale, softmax, GELU and the
// glue around the engine on the host (paper, Section V-B).
// CHECK:      func.func @forward({{.*}} attributes {vit.host_accel_crossings = 9 : i64}
// CHECK:      vit.patch_embed {{.*}} on accel
// CHECK:      vit.cls_concat {{.*}} on host
// CHECK:      vit.pos_embed_add {{.*}} on host
// CHECK:      vit.layer_norm {{.*}} on accel
// CHECK:      vit.linear {{.*}} on accel
// CHECK:      vit.split_heads {{.*}} on accel
// CHECK:      vit.matmul {{.*}} on accel
// CHECK:      vit.scale {{.*}} on host
// CHECK:      vit.softmax {{.*}} on host
// CHECK:      vit.merge_heads {{.*}} on accel
// CHECK:      vit.add {{.*}} on accel
// CHECK:      vit.gelu {{.*}} on host
// CHECK:      vit.select_token {{.*}} on host

// MOVED:      vit.scale {{.*}} on accel
// MOVED:      vit.softmax {{.*}} on accel
// MOVED:      vit.gelu {{.*}} on accel

// BAD: vaqf-opt: error: invalid options for pass 'partition-host-accel'

// Patchify and mean pooling run on the host; the patch LN and linear on the FPGA.
// MEAN:       vit.patchify {{.*}} on host
// MEAN:       vit.layer_norm {{.*}}"pn.w"{{.*}} on accel
// MEAN:       vit.linear {{.*}}"pe.w"{{.*}} on accel
// MEAN:       vit.mean_pool {{.*}} on host
