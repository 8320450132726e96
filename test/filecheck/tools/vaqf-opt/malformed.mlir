// RUN: not vaqf-opt %s --split-input-file 2>&1 >/dev/null | filecheck %s
// Malformed syntax: each chunk gives exactly one line, with its line and column.

func.func @missing_paren(%x: tensor<4xf32> -> () {
  func.return
}
// CHECK:      malformed.mlir:4:44: error: {{.+}}

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = vit.gelu %x tensor<4xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}
// CHECK-NEXT: malformed.mlir:12:20: error:

// -----

func.func @undefined_value() -> tensor<4xf32> {
  func.return %nope : tensor<4xf32>
}
// CHECK-NEXT: malformed.mlir:20:{{[0-9]+}}: error: values used but not defined: [%nope]

// -----

func.func @f() attributes {name = "unterminated} {
  func.return
}
// CHECK-NEXT: malformed.mlir:26:35: error: unterminated string literal

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<2xf32> {
  %y = vit.linear %x weight #vit.param<"w", [2 4]> : tensor<4xf32> -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}
// CHECK-NEXT: malformed.mlir:34:{{[0-9]+}}: error: ']' expected

// -----

func.func @f() {
  %0 = arith.constant 1 : i32
  %0 = arith.constant 2 : i32
  func.return
}
// CHECK-NEXT: malformed.mlir:43:{{[0-9]+}}: error: SSA value %0 is already defined

// -----

func.func @f() {
  %0 = arith.constant 123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890 : i32
  func.return
}
// CHECK-NEXT: malformed.mlir:51:{{[0-9]+}}: error: 'arith.constant' Integer value {{[0-9]+}} is out of range for type i32{{.*}}{{$}}

// CHECK-NOT: Traceback
// CHECK-NOT: {{.}}
