// RUN: vaqf-opt --help | filecheck %s

// CHECK: usage: vaqf-opt
// CHECK: --split-input-file
// CHECK: --verify-diagnostics
// CHECK: --print-op-generic
// CHECK: --print-ir-after-each
// CHECK: example:
// CHECK: vaqf-opt model.mlir -p 'canonicalize,cse' -o out.mlir
// CHECK: passes: canonicalize, cse, dce
// CHECK: dialects: builtin, func, arith, vit
