// RUN: not vaqf-opt %s --split-input-file 2>&1 >/dev/null | filecheck %s
// vaqf-opt registers only builtin, func, arith and vit: anything else is an unknown dialect.

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = linalg.softmax %x : tensor<4xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}
// CHECK: unknown-dialect.mlir:5:8: error: unknown dialect 'linalg' in operation 'linalg.softmax' (registered dialects: accel, arith, builtin, func, vit)

// -----

"test.op"() : () -> ()
// CHECK-NEXT: unknown-dialect.mlir:12:1: error: unknown dialect 'test' in operation 'test.op'

// -----

func.func @g(%x: !hls.stream<f32>) {
  func.return
}
// CHECK-NEXT: unknown-dialect.mlir:17:18: error: unknown dialect 'hls' in attribute or type 'hls.stream'

// -----

func.func @h() attributes {q = #tosa.tiling<tm = 1>} {
  func.return
}
// CHECK-NEXT: unknown-dialect.mlir:24:32: error: unknown dialect 'tosa' in attribute or type 'tosa.tiling' (registered dialects: accel, arith, builtin, func, vit){{$}}
// CHECK-NOT: {{.}}
