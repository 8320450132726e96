// RUN: not vaqf-opt %s 2>&1 | filecheck %s
// An op the vit dialect does not define: one line naming the op and where it is.

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = vit.bogus %x : tensor<4xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// CHECK:     unknown-op.mlir:5:8: error: unknown operation 'vit.bogus'
// CHECK-NOT: Traceback
// CHECK-NOT: {{.}}
