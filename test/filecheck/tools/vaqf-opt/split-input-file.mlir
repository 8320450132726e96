// RUN: vaqf-opt %s --split-input-file | filecheck %s
// RUN: vaqf-opt %s | filecheck %s --check-prefix=WHOLE
// Each chunk is its own module; the output separates them with the same marker.

func.func @first(%x: tensor<4xf32>) -> tensor<4xf32> {
  func.return %x : tensor<4xf32>
}

// -----

func.func @second(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = vit.gelu %x : tensor<4xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// CHECK:       builtin.module {
// CHECK-NEXT:    func.func @first(
// CHECK:       {{^}}}
// CHECK-NEXT:  {{^}}// -----
// CHECK-NEXT:  builtin.module {
// CHECK-NEXT:    func.func @second(
// CHECK-NOT:   // -----

// Without the flag the marker is just a comment: one module.
// WHOLE:       builtin.module {
// WHOLE-NEXT:    func.func @first(
// WHOLE-NOT:   // -----
// WHOLE:         func.func @second(
