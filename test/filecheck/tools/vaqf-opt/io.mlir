// Input from a file or stdin, output to stdout or -o FILE; unreadable input is one line.
// RUN: vaqf-opt %s -o %t.out && filecheck %s < %t.out
// RUN: vaqf-opt < %s | filecheck %s
// RUN: vaqf-opt - < %s | filecheck %s
// RUN: vaqf-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC
// RUN: not vaqf-opt %t.does-not-exist 2>&1 | filecheck %s --check-prefix=MISSING
// RUN: not vaqf-opt %S 2>&1 | filecheck %s --check-prefix=DIRECTORY
// RUN: not vaqf-opt %s -o %S/no-such-dir/out.mlir 2>&1 | filecheck %s --check-prefix=NOWRITE

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  func.return %x : tensor<4xf32>
}

// CHECK:      builtin.module {
// CHECK-NEXT:   func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:     func.return %x : tensor<4xf32>
// GENERIC:    "builtin.module"() ({
// GENERIC:      "func.func"() <{sym_name = "f"
// MISSING:    vaqf-opt: error: cannot read '{{.*}}does-not-exist': No such file or directory
// DIRECTORY:  vaqf-opt: error: cannot read '{{.*}}': Is a directory
// NOWRITE:    vaqf-opt: error: cannot write '{{.*}}out.mlir': No such file or directory
