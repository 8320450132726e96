// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline{abits=8},assign-tiling{board=zcu102 target-fps=24}' | filecheck %s
// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline{abits=4},assign-tiling{board=kv260 target-fps=1000 pack-dsp=true}' | filecheck %s --check-prefix=KV260
// RUN: vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline{abits=8},assign-tiling{board=zcu102 target-fps=24}' | vaqf-opt | filecheck %s
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline,assign-tiling{board=nosuch target-fps=24}' 2>&1 | filecheck %s --check-prefix=BOARD
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline,assign-tiling{board=zcu102}' 2>&1 | filecheck %s --check-prefix=NOTARGET
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline,assign-tiling{target-fps=-3}' 2>&1 | filecheck %s --check-prefix=NEGATIVE
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline,assign-tiling{target-fps=24 lut-ceiling=1.5}' 2>&1 | filecheck %s --check-prefix=CEILING
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline{wbits=16 abits=16},assign-tiling{target-fps=24}' 2>&1 | filecheck %s --check-prefix=UNQUANTIZED
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'assign-tiling{target-fps=24}' 2>&1 | filecheck %s --check-prefix=UNLOWERED
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'vaqf-pipeline{abits=8},assign-tiling{target-fps=1000000000}' 2>&1 | filecheck %s --check-prefix=UNREACHABLE

// Every engine layer gets the tiling of the array it runs on: the 16-bit (DSP) array for the
// unquantized patch embedding and head and for the attention products (two 8-bit activations),
// the binary (LUT) array, packed G = 64/8 = 8 per word, for the binary-weight FC layers.
// The prediction lands on the function.
// CHECK-LABEL: func.func @forward(
// CHECK-SAME:    accel.board = "zcu102", accel.datapath_bits = 8 : i64, accel.fps = {{.*}} : f64, accel.dsp = [[DSP:[0-9]+]] : i64, accel.lut = {{[0-9]+}} : i64, accel.bram36 = {{.*}} : f64
// CHECK:       accel.engine fc {{.*}}"pe.w"{{.*}} quant #vit.quant<w = fixed 16, x = fixed 16> out #vit.format<fixed 16> tiling #accel.tiling<tm = [[TM:[0-9]+]], tn = [[TN:[0-9]+]], nh = [[NH:[0-9]+]], g = 4, ports = 2> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :
// CHECK:       accel.engine fc {{.*}}"qkv.w"{{.*}} out #vit.format<int 8> tiling #accel.tiling<tm = [[TMQ:[0-9]+]], tn = [[TNQ:[0-9]+]], nh = [[NH]], g = 8, ports = 2> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :
// CHECK:       accel.engine attention {{.*}} transpose_b quant #vit.quant<w = int 8, x = int 8> out #vit.format<fixed 16> tiling #accel.tiling<tm = [[TM]], tn = [[TN]], nh = [[NH]], g = 8, ports = 2> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :
// CHECK:       accel.engine attention {{.*}} tiling #accel.tiling<tm = [[TM]], tn = [[TN]], nh = [[NH]], g = 8, ports = 2> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :
// CHECK:       accel.engine fc {{.*}}"proj.w"{{.*}} tiling #accel.tiling<tm = [[TMQ]], tn = [[TNQ]], nh = [[NH]], g = 8, ports = 2> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :
// CHECK:       accel.engine fc {{.*}}"fc1.w"{{.*}} tiling #accel.tiling<tm = [[TMQ]], tn = [[TNQ]], nh = [[NH]], g = 8, ports = 2> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :
// CHECK:       accel.engine fc {{.*}}"fc2.w"{{.*}} tiling #accel.tiling<tm = [[TMQ]], tn = [[TNQ]], nh = [[NH]], g = 8, ports = 2> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :
// CHECK:       accel.engine fc {{.*}}"head.w"{{.*}} tiling #accel.tiling<tm = [[TM]], tn = [[TN]], nh = [[NH]], g = 4, ports = 2> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :

// On another board and precision: 4-bit codes pack 16 per word; the board's name is recorded.
// KV260-LABEL: func.func @forward(
// KV260-SAME:    accel.board = "kv260", accel.datapath_bits = 4 : i64
// KV260:       accel.engine fc {{.*}}"qkv.w"{{.*}} tiling #accel.tiling<tm = {{[0-9]+}}, tn = {{[0-9]+}}, nh = {{[0-9]+}}, g = 16, ports = 2{{(, dsp_lanes = [0-9]+)?}}> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :

// Bad options and inputs: one line each.
// BOARD: vaqf-opt: error: invalid options for pass 'assign-tiling': assign-tiling: unknown board 'nosuch'; choose one of: kv260, u250, zcu102, zcu104 (or the path of a .toml board file)
// NOTARGET: vaqf-opt: error: invalid options for pass 'assign-tiling': assign-tiling: target-fps must be a number > 0, got 0.0
// NEGATIVE: vaqf-opt: error: invalid options for pass 'assign-tiling': assign-tiling: target-fps must be a number > 0, got -3
// CEILING: vaqf-opt: error: invalid options for pass 'assign-tiling': assign-tiling: lut-ceiling must be a fraction in (0, 1], got 1.5
// UNQUANTIZED: tiny_vit.mlir:2:1: error: assign-tiling: the model has no quantizable layers
// UNQUANTIZED-NOT: Traceback
// UNLOWERED: tiny_vit.mlir:3:3: error: 'vit.patch_embed' the module is not lowered to the accel dialect; run vaqf-pipeline first
// UNREACHABLE: tiny_vit.mlir:2:1: error: assign-tiling: with 8-bit activations the best design on zcu102 reaches {{[0-9.]+}} FPS, below the target 1e+09 FPS; target 1e+09 FPS is above what zcu102 can reach: the best is {{[0-9.]+}} FPS with 1-bit activations
