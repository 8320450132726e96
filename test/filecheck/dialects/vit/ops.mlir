// RUN: vaqf-opt %s | filecheck %s
// RUN: vaqf-opt %s | vaqf-opt | filecheck %s
// RUN: VAQF_ROUNDTRIP
// RUN: vaqf-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC
// RUN: vaqf-opt %s > %t.custom && vaqf-opt %t.custom > %t.again && diff %t.custom %t.again
// RUN: vaqf-opt %s --print-op-generic > %t.generic && vaqf-opt %t.generic --print-op-generic | diff %t.generic -
// RUN: vaqf-opt %s --print-op-generic | vaqf-opt | diff %t.custom -

// Every vit op, with and without its optional parts, in the custom format.
// Each form must print as written, parse back from its own output (custom and
// generic), and print identically again.

func.func @patch_embed(%img: tensor<3x32x32xf32>) -> (tensor<16x48xf32>, tensor<16x48xf32>, tensor<49x48xf32>) {
  %0 = vit.patch_embed %img weight #vit.param<"pe.w", [48, 3, 8, 8]> bias #vit.param<"pe.b", [48]> stride array<i64: 8, 8> padding array<i64: 0, 0> : tensor<3x32x32xf32> -> tensor<16x48xf32>
  %1 = vit.patch_embed %img weight #vit.param<"pe.w", [48, 3, 8, 8]> stride array<i64: 8, 8> padding array<i64: 0, 0> : tensor<3x32x32xf32> -> tensor<16x48xf32>
  %2 = vit.patch_embed %img weight #vit.param<"pe.w", [48, 3, 8, 8]> stride array<i64: 4, 4> padding array<i64: 0, 0> {vit.name = "overlapping"} : tensor<3x32x32xf32> -> tensor<49x48xf32>
  func.return %0, %1, %2 : tensor<16x48xf32>, tensor<16x48xf32>, tensor<49x48xf32>
}

func.func @patchify(%img: tensor<3x32x32xf32>) -> tensor<16x192xf32> {
  %p = vit.patchify %img patch array<i64: 8, 8> : tensor<3x32x32xf32> -> tensor<16x192xf32>
  func.return %p : tensor<16x192xf32>
}

func.func @linear(%x: tensor<17x48xf32>, %c: tensor<48xf32>, %p: tensor<16x192xf32>) -> (tensor<17x144xf32>, tensor<10xf32>, tensor<16x48xf32>) {
  %0 = vit.linear %x weight #vit.param<"qkv.w", [144, 48]> bias #vit.param<"qkv.b", [144]> : tensor<17x48xf32> -> tensor<17x144xf32>
  %1 = vit.linear %c weight #vit.param<"head.w", [10, 48]> : tensor<48xf32> -> tensor<10xf32>
  %2 = vit.linear %p weight #vit.param<"pe.w", [48, 3, 8, 8]> : tensor<16x192xf32> -> tensor<16x48xf32>
  func.return %0, %1, %2 : tensor<17x144xf32>, tensor<10xf32>, tensor<16x48xf32>
}

func.func @layer_norm(%x: tensor<17x48xf32>) -> (tensor<17x48xf32>, tensor<17x48xf32>) {
  %0 = vit.layer_norm %x weight #vit.param<"ln.w", [48]> bias #vit.param<"ln.b", [48]> eps 1.000000e-06 : f64 : tensor<17x48xf32> -> tensor<17x48xf32>
  %1 = vit.layer_norm %x eps 1.000000e-05 : f64 : tensor<17x48xf32> -> tensor<17x48xf32>
  func.return %0, %1 : tensor<17x48xf32>, tensor<17x48xf32>
}

func.func @attention(%qkv: tensor<17x144xf32>) -> tensor<17x48xf32> {
  %q = vit.split_heads %qkv heads 3 part 0 of 3 : tensor<17x144xf32> -> tensor<3x17x16xf32>
  %k = vit.split_heads %qkv heads 3 part 1 of 3 : tensor<17x144xf32> -> tensor<3x17x16xf32>
  %v = vit.split_heads %qkv heads 3 part 2 of 3 : tensor<17x144xf32> -> tensor<3x17x16xf32>
  %s = vit.matmul %q, %k transpose_b : (tensor<3x17x16xf32>, tensor<3x17x16xf32>) -> tensor<3x17x17xf32>
  %t = vit.scale %s by 2.500000e-01 : f64 : tensor<3x17x17xf32> -> tensor<3x17x17xf32>
  %a = vit.softmax %t : tensor<3x17x17xf32> -> tensor<3x17x17xf32>
  %o = vit.matmul %a, %v : (tensor<3x17x17xf32>, tensor<3x17x16xf32>) -> tensor<3x17x16xf32>
  %m = vit.merge_heads %o : tensor<3x17x16xf32> -> tensor<17x48xf32>
  func.return %m : tensor<17x48xf32>
}

func.func @elementwise(%x: tensor<17x48xf32>, %y: tensor<17x48xf32>) -> (tensor<17x48xf32>, tensor<17x48xf32>, tensor<17x48xf32>) {
  %0 = vit.gelu %x : tensor<17x48xf32> -> tensor<17x48xf32>
  %1 = vit.gelu %x tanh : tensor<17x48xf32> -> tensor<17x48xf32>
  %2 = vit.add %x, %y : tensor<17x48xf32>
  func.return %0, %1, %2 : tensor<17x48xf32>, tensor<17x48xf32>, tensor<17x48xf32>
}

func.func @tokens(%x: tensor<16x48xf32>) -> (tensor<17x48xf32>, tensor<18x48xf32>, tensor<48xf32>) {
  %0 = vit.cls_concat %x tokens [#vit.param<"cls_token", [1, 1, 48]>] : tensor<16x48xf32> -> tensor<17x48xf32>
  %1 = vit.cls_concat %x tokens [#vit.param<"cls_token", [1, 1, 48]>, #vit.param<"dist_token", [1, 1, 48]>] : tensor<16x48xf32> -> tensor<18x48xf32>
  %2 = vit.pos_embed_add %0 pos #vit.param<"pos_embed", [1, 17, 48]> : tensor<17x48xf32>
  %3 = vit.select_token %2 index 0 : tensor<17x48xf32> -> tensor<48xf32>
  func.return %0, %1, %3 : tensor<17x48xf32>, tensor<18x48xf32>, tensor<48xf32>
}

// Custom format: printed exactly as written.
// CHECK-LABEL: func.func @patch_embed(
// CHECK-NEXT:    %0 = vit.patch_embed %img weight #vit.param<"pe.w", [48, 3, 8, 8]> bias #vit.param<"pe.b", [48]> stride array<i64: 8, 8> padding array<i64: 0, 0> : tensor<3x32x32xf32> -> tensor<16x48xf32>
// CHECK-NEXT:    %1 = vit.patch_embed %img weight #vit.param<"pe.w", [48, 3, 8, 8]> stride array<i64: 8, 8> padding array<i64: 0, 0> : tensor<3x32x32xf32> -> tensor<16x48xf32>
// CHECK-NEXT:    %2 = vit.patch_embed %img weight #vit.param<"pe.w", [48, 3, 8, 8]> stride array<i64: 4, 4> padding array<i64: 0, 0> {vit.name = "overlapping"} : tensor<3x32x32xf32> -> tensor<49x48xf32>
// CHECK-NEXT:    func.return %0, %1, %2 : tensor<16x48xf32>, tensor<16x48xf32>, tensor<49x48xf32>
// CHECK-LABEL: func.func @patchify(
// CHECK-NEXT:    %p = vit.patchify %img patch array<i64: 8, 8> : tensor<3x32x32xf32> -> tensor<16x192xf32>
// CHECK-NEXT:    func.return %p : tensor<16x192xf32>
// CHECK-LABEL: func.func @linear(
// CHECK-NEXT:    %0 = vit.linear %x weight #vit.param<"qkv.w", [144, 48]> bias #vit.param<"qkv.b", [144]> : tensor<17x48xf32> -> tensor<17x144xf32>
// CHECK-NEXT:    %1 = vit.linear %c weight #vit.param<"head.w", [10, 48]> : tensor<48xf32> -> tensor<10xf32>
// CHECK-NEXT:    %2 = vit.linear %p weight #vit.param<"pe.w", [48, 3, 8, 8]> : tensor<16x192xf32> -> tensor<16x48xf32>
// CHECK-NEXT:    func.return %0, %1, %2 : tensor<17x144xf32>, tensor<10xf32>, tensor<16x48xf32>
// CHECK-LABEL: func.func @layer_norm(
// CHECK-NEXT:    %0 = vit.layer_norm %x weight #vit.param<"ln.w", [48]> bias #vit.param<"ln.b", [48]> eps 1.000000e-06 : f64 : tensor<17x48xf32> -> tensor<17x48xf32>
// CHECK-NEXT:    %1 = vit.layer_norm %x eps 1.000000e-05 : f64 : tensor<17x48xf32> -> tensor<17x48xf32>
// CHECK-NEXT:    func.return %0, %1 : tensor<17x48xf32>, tensor<17x48xf32>
// CHECK-LABEL: func.func @attention(
// CHECK-NEXT:    %q = vit.split_heads %qkv heads 3 part 0 of 3 : tensor<17x144xf32> -> tensor<3x17x16xf32>
// CHECK-NEXT:    %k = vit.split_heads %qkv heads 3 part 1 of 3 : tensor<17x144xf32> -> tensor<3x17x16xf32>
// CHECK-NEXT:    %v = vit.split_heads %qkv heads 3 part 2 of 3 : tensor<17x144xf32> -> tensor<3x17x16xf32>
// CHECK-NEXT:    %s = vit.matmul %q, %k transpose_b : (tensor<3x17x16xf32>, tensor<3x17x16xf32>) -> tensor<3x17x17xf32>
// CHECK-NEXT:    %t = vit.scale %s by 2.500000e-01 : f64 : tensor<3x17x17xf32> -> tensor<3x17x17xf32>
// CHECK-NEXT:    %a = vit.softmax %t : tensor<3x17x17xf32> -> tensor<3x17x17xf32>
// CHECK-NEXT:    %o = vit.matmul %a, %v : (tensor<3x17x17xf32>, tensor<3x17x16xf32>) -> tensor<3x17x16xf32>
// CHECK-NEXT:    %m = vit.merge_heads %o : tensor<3x17x16xf32> -> tensor<17x48xf32>
// CHECK-NEXT:    func.return %m : tensor<17x48xf32>
// CHECK-LABEL: func.func @elementwise(
// CHECK-NEXT:    %0 = vit.gelu %x : tensor<17x48xf32> -> tensor<17x48xf32>
// CHECK-NEXT:    %1 = vit.gelu %x tanh : tensor<17x48xf32> -> tensor<17x48xf32>
// CHECK-NEXT:    %2 = vit.add %x, %y : tensor<17x48xf32>
// CHECK-NEXT:    func.return %0, %1, %2 : tensor<17x48xf32>, tensor<17x48xf32>, tensor<17x48xf32>
// CHECK-LABEL: func.func @tokens(
// CHECK-NEXT:    %0 = vit.cls_concat %x tokens [#vit.param<"cls_token", [1, 1, 48]>] : tensor<16x48xf32> -> tensor<17x48xf32>
// CHECK-NEXT:    %1 = vit.cls_concat %x tokens [#vit.param<"cls_token", [1, 1, 48]>, #vit.param<"dist_token", [1, 1, 48]>] : tensor<16x48xf32> -> tensor<18x48xf32>
// CHECK-NEXT:    %2 = vit.pos_embed_add %0 pos #vit.param<"pos_embed", [1, 17, 48]> : tensor<17x48xf32>
// CHECK-NEXT:    %3 = vit.select_token %2 index 0 : tensor<17x48xf32> -> tensor<48xf32>
// CHECK-NEXT:    func.return %0, %1, %3 : tensor<17x48xf32>, tensor<18x48xf32>, tensor<48xf32>

// Generic format of the same ops.
// GENERIC-LABEL: "func.func"() <{sym_name = "patch_embed"
// GENERIC:       %0 = "vit.patch_embed"(%img) <{weight = #vit.param<"pe.w", [48, 3, 8, 8]>, bias = #vit.param<"pe.b", [48]>, stride = array<i64: 8, 8>, padding = array<i64: 0, 0>}> : (tensor<3x32x32xf32>) -> tensor<16x48xf32>
// GENERIC:       %1 = "vit.patch_embed"(%img) <{weight = #vit.param<"pe.w", [48, 3, 8, 8]>, stride = array<i64: 8, 8>, padding = array<i64: 0, 0>}> : (tensor<3x32x32xf32>) -> tensor<16x48xf32>
// GENERIC:       %2 = "vit.patch_embed"(%img) <{weight = #vit.param<"pe.w", [48, 3, 8, 8]>, stride = array<i64: 4, 4>, padding = array<i64: 0, 0>}> {vit.name = "overlapping"} : (tensor<3x32x32xf32>) -> tensor<49x48xf32>
// GENERIC-LABEL: "func.func"() <{sym_name = "patchify"
// GENERIC:       %p = "vit.patchify"(%img) <{patch = array<i64: 8, 8>}> : (tensor<3x32x32xf32>) -> tensor<16x192xf32>
// GENERIC-LABEL: "func.func"() <{sym_name = "linear"
// GENERIC:       %0 = "vit.linear"(%x) <{weight = #vit.param<"qkv.w", [144, 48]>, bias = #vit.param<"qkv.b", [144]>}> : (tensor<17x48xf32>) -> tensor<17x144xf32>
// GENERIC:       %1 = "vit.linear"(%c) <{weight = #vit.param<"head.w", [10, 48]>}> : (tensor<48xf32>) -> tensor<10xf32>
// GENERIC:       %2 = "vit.linear"(%p) <{weight = #vit.param<"pe.w", [48, 3, 8, 8]>}> : (tensor<16x192xf32>) -> tensor<16x48xf32>
// GENERIC-LABEL: "func.func"() <{sym_name = "layer_norm"
// GENERIC:       %0 = "vit.layer_norm"(%x) <{weight = #vit.param<"ln.w", [48]>, bias = #vit.param<"ln.b", [48]>, eps = 1.000000e-06 : f64}> : (tensor<17x48xf32>) -> tensor<17x48xf32>
// GENERIC:       %1 = "vit.layer_norm"(%x) <{eps = 1.000000e-05 : f64}> : (tensor<17x48xf32>) -> tensor<17x48xf32>
// GENERIC-LABEL: "func.func"() <{sym_name = "attention"
// GENERIC:       %q = "vit.split_heads"(%qkv) <{heads = 3 : i64, part = 0 : i64, parts = 3 : i64}> : (tensor<17x144xf32>) -> tensor<3x17x16xf32>
// GENERIC:       %k = "vit.split_heads"(%qkv) <{heads = 3 : i64, part = 1 : i64, parts = 3 : i64}> : (tensor<17x144xf32>) -> tensor<3x17x16xf32>
// GENERIC:       %v = "vit.split_heads"(%qkv) <{heads = 3 : i64, part = 2 : i64, parts = 3 : i64}> : (tensor<17x144xf32>) -> tensor<3x17x16xf32>
// GENERIC:       %s = "vit.matmul"(%q, %k) <{transpose_b}> : (tensor<3x17x16xf32>, tensor<3x17x16xf32>) -> tensor<3x17x17xf32>
// GENERIC:       %t = "vit.scale"(%s) <{factor = 2.500000e-01 : f64}> : (tensor<3x17x17xf32>) -> tensor<3x17x17xf32>
// GENERIC:       %a = "vit.softmax"(%t) : (tensor<3x17x17xf32>) -> tensor<3x17x17xf32>
// GENERIC:       %o = "vit.matmul"(%a, %v) : (tensor<3x17x17xf32>, tensor<3x17x16xf32>) -> tensor<3x17x16xf32>
// GENERIC:       %m = "vit.merge_heads"(%o) : (tensor<3x17x16xf32>) -> tensor<17x48xf32>
// GENERIC-LABEL: "func.func"() <{sym_name = "elementwise"
// GENERIC:       %0 = "vit.gelu"(%x) : (tensor<17x48xf32>) -> tensor<17x48xf32>
// GENERIC:       %1 = "vit.gelu"(%x) <{tanh}> : (tensor<17x48xf32>) -> tensor<17x48xf32>
// GENERIC:       %2 = "vit.add"(%x, %y) : (tensor<17x48xf32>, tensor<17x48xf32>) -> tensor<17x48xf32>
// GENERIC-LABEL: "func.func"() <{sym_name = "tokens"
// GENERIC:       %0 = "vit.cls_concat"(%x) <{tokens = [#vit.param<"cls_token", [1, 1, 48]>]}> : (tensor<16x48xf32>) -> tensor<17x48xf32>
// GENERIC:       %1 = "vit.cls_concat"(%x) <{tokens = [#vit.param<"cls_token", [1, 1, 48]>, #vit.param<"dist_token", [1, 1, 48]>]}> : (tensor<16x48xf32>) -> tensor<18x48xf32>
// GENERIC:       %2 = "vit.pos_embed_add"(%0) <{pos = #vit.param<"pos_embed", [1, 17, 48]>}> : (tensor<17x48xf32>) -> tensor<17x48xf32>
// GENERIC:       %3 = "vit.select_token"(%2) <{index = 0 : i64}> : (tensor<17x48xf32>) -> tensor<48xf32>

// The mixed scheme: `#vit.format<mixed k>` weights and the `#vit.rows` split (rows 4i..4i+3
// in hex digit i, row 4i+b as bit 2^b: "d01" = rows 0, 2, 3 and 8 of 9).
func.func @mixed(%x: tensor<5x8xf32>) -> (tensor<5x9xf32>, tensor<5x9xf32>, tensor<5x4xf32>) {
  %0 = vit.linear %x weight #vit.param<"w", [9, 8]> bias #vit.param<"b", [9]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 4 of 9, "d01"> out #vit.format<int 8> on accel : tensor<5x8xf32> -> tensor<5x9xf32>
  %1 = vit.linear %x weight #vit.param<"w", [9, 8]> quant #vit.quant<w = mixed 2, x = int 6> : tensor<5x8xf32> -> tensor<5x9xf32>
  %2 = vit.linear %x weight #vit.param<"v", [4, 8]> quant #vit.quant<w = mixed 8, x = int 8> rows #vit.rows<pot 0 of 4, "0"> : tensor<5x8xf32> -> tensor<5x4xf32>
  func.return %0, %1, %2 : tensor<5x9xf32>, tensor<5x9xf32>, tensor<5x4xf32>
}
// CHECK-LABEL: func.func @mixed(
// CHECK-NEXT:    %0 = vit.linear %x weight #vit.param<"w", [9, 8]> bias #vit.param<"b", [9]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 4 of 9, "d01"> out #vit.format<int 8> on accel : tensor<5x8xf32> -> tensor<5x9xf32>
// CHECK-NEXT:    %1 = vit.linear %x weight #vit.param<"w", [9, 8]> quant #vit.quant<w = mixed 2, x = int 6> : tensor<5x8xf32> -> tensor<5x9xf32>
// CHECK-NEXT:    %2 = vit.linear %x weight #vit.param<"v", [4, 8]> quant #vit.quant<w = mixed 8, x = int 8> rows #vit.rows<pot 0 of 4, "0"> : tensor<5x8xf32> -> tensor<5x4xf32>
// GENERIC-LABEL: "func.func"() <{sym_name = "mixed"
// GENERIC:       %0 = "vit.linear"(%x) <{weight = #vit.param<"w", [9, 8]>, bias = #vit.param<"b", [9]>, quant = #vit.quant<w = mixed 4, x = int 8>, rows = #vit.rows<pot 4 of 9, "d01">, out = #vit.format<int 8>, place = #vit<place accel>}>

// Mean pooling over the tokens (a classifier without CLS token), or from token 1 (BEiT, timm avg pool).
func.func @mean_pool(%x: tensor<16x48xf32>) -> (tensor<48xf32>, tensor<48xf32>) {
  %0 = vit.mean_pool %x out #vit.format<fixed 16> on host : tensor<16x48xf32> -> tensor<48xf32>
  %1 = vit.mean_pool %x from 1 : tensor<16x48xf32> -> tensor<48xf32>
  func.return %0, %1 : tensor<48xf32>, tensor<48xf32>
}
// CHECK-LABEL: func.func @mean_pool(
// CHECK-NEXT:    %0 = vit.mean_pool %x out #vit.format<fixed 16> on host : tensor<16x48xf32> -> tensor<48xf32>
// CHECK-NEXT:    %1 = vit.mean_pool %x from 1 : tensor<16x48xf32> -> tensor<48xf32>
// GENERIC-LABEL: "func.func"() <{sym_name = "mean_pool"
// GENERIC:       %0 = "vit.mean_pool"(%x) <{out = #vit.format<fixed 16>, place = #vit<place host>}> : (tensor<16x48xf32>) -> tensor<48xf32>
// GENERIC:       %1 = "vit.mean_pool"(%x) <{first = 1 : i64}> : (tensor<16x48xf32>) -> tensor<48xf32>
