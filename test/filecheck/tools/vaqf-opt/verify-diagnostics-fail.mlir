// --verify-diagnostics fails (exit 1) on every mismatch, one line each, and says which.
// RUN: not vaqf-opt %s --split-input-file --verify-diagnostics 2>&1 >/dev/null | filecheck %s

func.func @not_produced(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error@+1 {{this error never happens}}
  %y = vit.gelu %x : tensor<4xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}
// CHECK: verify-diagnostics-fail.mlir:5: error: expected error "this error never happens" (at line 6) was not produced

// -----

func.func @unexpected(%x: tensor<4xf32>) -> tensor<5xf32> {
  %y = vit.gelu %x : tensor<4xf32> -> tensor<5xf32>
  func.return %y : tensor<5xf32>
}
// CHECK-NEXT: verify-diagnostics-fail.mlir:14:3: error: unexpected error: 'vit.gelu' vit.gelu result type must equal its input type

// -----

func.func @wrong_text(%x: tensor<4xf32>) -> tensor<5xf32> {
  // expected-error@+1 {{some other message}}
  %y = vit.gelu %x : tensor<4xf32> -> tensor<5xf32>
  func.return %y : tensor<5xf32>
}
// CHECK-NEXT: verify-diagnostics-fail.mlir:23:3: error: unexpected error: 'vit.gelu' vit.gelu result type must equal its input type
// CHECK-NEXT: verify-diagnostics-fail.mlir:22: error: expected error "some other message" (at line 23) was not produced

// -----

func.func @wrong_line(%x: tensor<4xf32>) -> tensor<5xf32> {
  // expected-error@+2 {{result type must equal its input type}}
  %y = vit.gelu %x : tensor<4xf32> -> tensor<5xf32>
  func.return %y : tensor<5xf32>
}
// CHECK-NEXT: verify-diagnostics-fail.mlir:33:3: error: unexpected error: 'vit.gelu'
// CHECK-NEXT: verify-diagnostics-fail.mlir:32: error: expected error "result type must equal its input type" (at line 34) was not produced

// -----

func.func @warning_never_produced() {
  func.return // expected-warning {{a warning}}
}
// CHECK-NEXT: verify-diagnostics-fail.mlir:42: error: expected warning "a warning" (at line 42) was not produced

// -----

func.func @malformed_directive() {
  func.return // expected-error {{no closing braces
}
// CHECK-NEXT: verify-diagnostics-fail.mlir:49:{{[0-9]+}}: error: malformed expected-* directive
// CHECK-NOT: Traceback
