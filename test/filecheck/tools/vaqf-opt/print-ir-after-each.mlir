// RUN: vaqf-opt %s -p cse,dce --print-ir-after-each 2>&1 >/dev/null | filecheck %s
// RUN: vaqf-opt %s -p cse,dce --print-ir-after-each 2>/dev/null | filecheck %s --check-prefix=OUT

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %a = vit.gelu %x : tensor<4xf32> -> tensor<4xf32>
  %b = vit.gelu %x : tensor<4xf32> -> tensor<4xf32>
  %c = vit.softmax %x : tensor<4xf32> -> tensor<4xf32>
  %y = vit.add %a, %b : tensor<4xf32>
  func.return %y : tensor<4xf32>
}

// After cse the second gelu (and, xDSL's cse erasing dead pure ops, the softmax) is gone.
// CHECK:      // -----// IR Dump After cse //----- //
// CHECK-NEXT: builtin.module {
// CHECK:        %a = vit.gelu %x
// CHECK-NEXT:   %y = vit.add %a, %a
// CHECK:      // -----// IR Dump After dce //----- //
// CHECK-NEXT: builtin.module {
// CHECK:        %a = vit.gelu %x
// CHECK-NEXT:   %y = vit.add %a, %a

// The result still goes to stdout, and only the result.
// OUT-NOT:   IR Dump
// OUT:       %a = vit.gelu %x
// OUT-NEXT:  %y = vit.add %a, %a
