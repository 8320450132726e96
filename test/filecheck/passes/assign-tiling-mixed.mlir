// RUN: vaqf-opt --split-input-file %s -p 'assign-tiling{board=zcu102 target-fps=24}' | filecheck %s
// RUN: vaqf-opt --split-input-file %s -p 'assign-tiling{board=zcu102 target-fps=24}' | vaqf-opt --split-input-file | filecheck %s
// RUN: not vaqf-opt --split-input-file %s -p 'assign-tiling{board=zcu102 target-fps=24 pack-dsp=true}' 2>&1 | filecheck %s --check-prefix=PACK
// RUN: not vaqf-opt %S/../Inputs/tiny_vit.mlir -p 'fold-patch-embed,mark-quantization{scheme=mixed},partition-host-accel,lower-to-accel,assign-tiling{target-fps=24}' 2>&1 | filecheck %s --check-prefix=NOROWS
// RUN: not vaqf-opt --split-input-file %s -p 'assign-tiling{board=kv260 target-fps=1000000000}' 2>&1 | filecheck %s --check-prefix=UNREACHABLE

// Mixed scheme (ours): the tiny ViT lowered with vaqf-pipeline{scheme=mixed pot-ratio=0.5} (random
// weights). Its mixed FC layers run their fixed-point rows on the DSP array (tm x tn, the tiling the
// 16-bit layers and attention get too) and their power-of-two rows on the shift-add array: pot_tm.
// CHECK-LABEL: func.func @forward(
// CHECK-SAME:    accel.board = "zcu102", accel.datapath_bits = 8 : i64, accel.fps = {{.*}} : f64, accel.dsp = {{[0-9]+}} : i64, accel.lut = {{[0-9]+}} : i64, accel.bram36 = {{.*}} : f64, accel.pot_tm = [[POT:[1-9][0-9]*]] : i64
// CHECK:       accel.engine fc {{.*}}"pe.w"{{.*}} tiling #accel.tiling<tm = [[TM:[0-9]+]], tn = [[TN:[0-9]+]], nh = [[NH:[0-9]+]], g = 4, ports = 2> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :
// CHECK:       accel.engine fc {{.*}}"qkv.w"{{.*}} rows #vit.rows<pot 12 of 24, "718fa2"> {{.*}} tiling #accel.tiling<tm = [[TM]], tn = [[TN]], nh = [[NH]], g = 8, ports = 2, pot_tm = [[POT]]> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :
// CHECK:       accel.engine attention {{.*}} tiling #accel.tiling<tm = [[TM]], tn = [[TN]], nh = [[NH]], g = 8, ports = 2> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :
// CHECK:       accel.engine attention {{.*}} tiling #accel.tiling<tm = [[TM]], tn = [[TN]], nh = [[NH]], g = 8, ports = 2> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :
// CHECK:       accel.engine fc {{.*}}"proj.w"{{.*}} tiling #accel.tiling<tm = [[TM]], tn = [[TN]], nh = [[NH]], g = 8, ports = 2, pot_tm = [[POT]]> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :
// CHECK:       accel.engine fc {{.*}}"fc1.w"{{.*}} tiling #accel.tiling<tm = [[TM]], tn = [[TN]], nh = [[NH]], g = 8, ports = 2, pot_tm = [[POT]]> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :
// CHECK:       accel.engine fc {{.*}}"fc2.w"{{.*}} tiling #accel.tiling<tm = [[TM]], tn = [[TN]], nh = [[NH]], g = 8, ports = 2, pot_tm = [[POT]]> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :
// CHECK:       accel.engine fc {{.*}}"head.w"{{.*}} tiling #accel.tiling<tm = [[TM]], tn = [[TN]], nh = [[NH]], g = 4, ports = 2> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :

// Pack-dsp is a cost-model design point only for mixed weights; a missing row split is named.
// PACK: error: assign-tiling: pack-dsp is not supported with mixed weights
// PACK-NOT: Traceback
// NOROWS: error: {{.*}}accel.engine{{.*}} assign-tiling: a mixed-weight engine has no row split; run assign-pot-rows first (vaqf dse --scheme mixed suggests a ratio)
// NOROWS-NOT: Traceback
// UNREACHABLE: error: assign-tiling: with 8-bit activations the best design on kv260 reaches {{[0-9.]+}} FPS, below the target 1e+09 FPS; target 1e+09 FPS is above what kv260 can reach

module {
  func.func @forward(%image: tensor<3x16x16xf32>) -> tensor<3xf32> attributes {vit.pot_ratio = 5.000000e-01 : f64, vit.host_accel_crossings = 10 : i64} {
    %0 = accel.patchify %image patch array<i64: 8, 8> out #vit.format<fixed 16> on host : tensor<3x16x16xf32> -> tensor<4x192xf32>
    %1 = accel.load %0 stream unquantized format #vit.format<fixed 16> : tensor<4x192xf32> -> tensor<4x192xf32>
    %2 = accel.engine fc %1 heads 1 weight #vit.param<"pe.w", [8, 3, 8, 8]> bias #vit.param<"pe.b", [8]> quant #vit.quant<w = fixed 16, x = fixed 16> out #vit.format<fixed 16> : (tensor<4x192xf32>) -> tensor<4x8xf32>
    %3 = accel.store %2 format #vit.format<fixed 16> : tensor<4x8xf32> -> tensor<4x8xf32>
    %4 = accel.cls_concat %3 tokens [#vit.param<"cls", [1, 1, 8]>] out #vit.format<fixed 16> on host : tensor<4x8xf32> -> tensor<5x8xf32>
    %5 = accel.pos_embed_add %4 pos #vit.param<"pos", [1, 5, 8]> out #vit.format<fixed 16> on host : tensor<5x8xf32>
    %6 = accel.layer_norm %5 weight #vit.param<"ln1.w", [8]> bias #vit.param<"ln1.b", [8]> eps 1.000000e-06 : f64 out #vit.format<int 8> on accel : tensor<5x8xf32> -> tensor<5x8xf32>
    %7 = accel.load %6 stream quantized format #vit.format<int 8> : tensor<5x8xf32> -> tensor<5x8xf32>
    %8 = accel.engine fc %7 heads 1 weight #vit.param<"qkv.w", [24, 8]> bias #vit.param<"qkv.b", [24]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 12 of 24, "718fa2"> out #vit.format<int 8> : (tensor<5x8xf32>) -> tensor<5x24xf32>
    %9 = accel.store %8 format #vit.format<int 8> : tensor<5x24xf32> -> tensor<5x24xf32>
    %q = accel.split_heads %9 heads 2 part 0 of 3 out #vit.format<int 8> on accel : tensor<5x24xf32> -> tensor<2x5x4xf32>
    %k = accel.split_heads %9 heads 2 part 1 of 3 out #vit.format<int 8> on accel : tensor<5x24xf32> -> tensor<2x5x4xf32>
    %v = accel.split_heads %9 heads 2 part 2 of 3 out #vit.format<int 8> on accel : tensor<5x24xf32> -> tensor<2x5x4xf32>
    %s = accel.load %q stream quantized format #vit.format<int 8> : tensor<2x5x4xf32> -> tensor<2x5x4xf32>
    %s_1 = accel.load %k stream quantized format #vit.format<int 8> : tensor<2x5x4xf32> -> tensor<2x5x4xf32>
    %s_2 = accel.engine attention %s, %s_1 heads 2 transpose_b quant #vit.quant<w = int 8, x = int 8> out #vit.format<fixed 16> : (tensor<2x5x4xf32>, tensor<2x5x4xf32>) -> tensor<2x5x5xf32>
    %s_3 = accel.store %s_2 format #vit.format<fixed 16> : tensor<2x5x5xf32> -> tensor<2x5x5xf32>
    %s2 = accel.scale %s_3 by 5.000000e-01 : f64 out #vit.format<fixed 16> on host : tensor<2x5x5xf32> -> tensor<2x5x5xf32>
    %p = accel.softmax %s2 out #vit.format<uint 8> on host : tensor<2x5x5xf32> -> tensor<2x5x5xf32>
    %o = accel.load %p stream quantized format #vit.format<uint 8> : tensor<2x5x5xf32> -> tensor<2x5x5xf32>
    %o_1 = accel.load %v stream quantized format #vit.format<int 8> : tensor<2x5x4xf32> -> tensor<2x5x4xf32>
    %o_2 = accel.engine attention %o, %o_1 heads 2 quant #vit.quant<w = int 8, x = uint 8> out #vit.format<int 8> : (tensor<2x5x5xf32>, tensor<2x5x4xf32>) -> tensor<2x5x4xf32>
    %o_3 = accel.store %o_2 format #vit.format<int 8> : tensor<2x5x4xf32> -> tensor<2x5x4xf32>
    %m = accel.merge_heads %o_3 out #vit.format<int 8> on accel : tensor<2x5x4xf32> -> tensor<5x8xf32>
    %a = accel.load %m stream quantized format #vit.format<int 8> : tensor<5x8xf32> -> tensor<5x8xf32>
    %a_1 = accel.engine fc %a heads 1 weight #vit.param<"proj.w", [8, 8]> bias #vit.param<"proj.b", [8]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 4 of 8, "cc"> out #vit.format<fixed 16> : (tensor<5x8xf32>) -> tensor<5x8xf32>
    %a_2 = accel.store %a_1 format #vit.format<fixed 16> : tensor<5x8xf32> -> tensor<5x8xf32>
    %r1 = accel.add %5, %a_2 out #vit.format<fixed 16> on accel : tensor<5x8xf32>
    %10 = accel.layer_norm %r1 weight #vit.param<"ln2.w", [8]> bias #vit.param<"ln2.b", [8]> eps 1.000000e-06 : f64 out #vit.format<int 8> on accel : tensor<5x8xf32> -> tensor<5x8xf32>
    %h = accel.load %10 stream quantized format #vit.format<int 8> : tensor<5x8xf32> -> tensor<5x8xf32>
    %h_1 = accel.engine fc %h heads 1 weight #vit.param<"fc1.w", [16, 8]> bias #vit.param<"fc1.b", [16]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 8 of 16, "70ae"> out #vit.format<fixed 16> : (tensor<5x8xf32>) -> tensor<5x16xf32>
    %h_2 = accel.store %h_1 format #vit.format<fixed 16> : tensor<5x16xf32> -> tensor<5x16xf32>
    %g = accel.gelu %h_2 out #vit.format<int 8> on host : tensor<5x16xf32> -> tensor<5x16xf32>
    %f = accel.load %g stream quantized format #vit.format<int 8> : tensor<5x16xf32> -> tensor<5x16xf32>
    %f_1 = accel.engine fc %f heads 1 weight #vit.param<"fc2.w", [8, 16]> bias #vit.param<"fc2.b", [8]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 4 of 8, "47"> out #vit.format<fixed 16> : (tensor<5x16xf32>) -> tensor<5x8xf32>
    %f_2 = accel.store %f_1 format #vit.format<fixed 16> : tensor<5x8xf32> -> tensor<5x8xf32>
    %r2 = accel.add %r1, %f_2 out #vit.format<fixed 16> on accel : tensor<5x8xf32>
    %11 = accel.layer_norm %r2 weight #vit.param<"ln.w", [8]> bias #vit.param<"ln.b", [8]> eps 1.000000e-06 : f64 out #vit.format<fixed 16> on accel : tensor<5x8xf32> -> tensor<5x8xf32>
    %c = accel.select_token %11 index 0 out #vit.format<fixed 16> on host : tensor<5x8xf32> -> tensor<8xf32>
    %y = accel.load %c stream unquantized format #vit.format<fixed 16> : tensor<8xf32> -> tensor<8xf32>
    %y_1 = accel.engine fc %y heads 1 weight #vit.param<"head.w", [3, 8]> bias #vit.param<"head.b", [3]> quant #vit.quant<w = fixed 16, x = fixed 16> out #vit.format<fixed 16> : (tensor<8xf32>) -> tensor<3xf32>
    %y_2 = accel.store %y_1 format #vit.format<fixed 16> : tensor<3xf32> -> tensor<3xf32>
    func.return %y_2 : tensor<3xf32>
  }
}

// -----

// Ratio 0 (no power-of-two row): no shift-add array, pot_tm is not printed.
// CHECK-LABEL: func.func @all_fixed(
// CHECK-SAME:    accel.pot_tm = 0 : i64
// CHECK:       tiling #accel.tiling<tm = {{[0-9]+}}, tn = {{[0-9]+}}, nh = 1, g = 8, ports = 2> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :
func.func @all_fixed(%x: tensor<5x8xf32>) -> tensor<5x16xf32> {
  %a = accel.load %x stream quantized format #vit.format<int 8> : tensor<5x8xf32> -> tensor<5x8xf32>
  %b = accel.engine fc %a heads 1 weight #vit.param<"fc1.w", [16, 8]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 0 of 16, "0000"> out #vit.format<fixed 16> : (tensor<5x8xf32>) -> tensor<5x16xf32>
  %c = accel.store %b format #vit.format<fixed 16> : tensor<5x16xf32> -> tensor<5x16xf32>
  func.return %c : tensor<5x16xf32>
}

// -----

// Ratio 1 (every row power of two): the shift-add array takes them all.
// CHECK-LABEL: func.func @all_pot(
// CHECK-SAME:    accel.pot_tm = [[P:[1-9][0-9]*]] : i64
// CHECK:       tiling #accel.tiling<tm = {{[0-9]+}}, tn = {{[0-9]+}}, nh = 1, g = 8, ports = 2, pot_tm = [[P]]> {accel.model_cycles = {{[1-9][0-9]*}} : i64} :
func.func @all_pot(%x: tensor<5x8xf32>) -> tensor<5x16xf32> {
  %a = accel.load %x stream quantized format #vit.format<int 8> : tensor<5x8xf32> -> tensor<5x8xf32>
  %b = accel.engine fc %a heads 1 weight #vit.param<"fc1.w", [16, 8]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 16 of 16, "ffff"> out #vit.format<fixed 16> : (tensor<5x8xf32>) -> tensor<5x16xf32>
  %c = accel.store %b format #vit.format<fixed 16> : tensor<5x16xf32> -> tensor<5x16xf32>
  func.return %c : tensor<5x16xf32>
}
