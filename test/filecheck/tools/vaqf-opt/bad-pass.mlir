// Pass pipeline errors are one line, prefixed with the tool's name, exit status 1.
// RUN: not vaqf-opt %s -p no-such-pass 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not vaqf-opt %s -p 'cse,no-such-pass' 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not vaqf-opt %s -p 'canonicalize{bogus=1}' 2>&1 | filecheck %s --check-prefix=OPTION
// RUN: not vaqf-opt %s -p 'cse{' 2>&1 | filecheck %s --check-prefix=SYNTAX
// RUN: not vaqf-opt %s -p 'cse,,dce' 2>&1 | filecheck %s --check-prefix=EMPTY
// RUN: not vaqf-opt %s -p 'cse}' 2>&1 | filecheck %s --check-prefix=BRACE
// The known ones run (and may be given more than once).
// RUN: vaqf-opt %s -p canonicalize,cse -p dce | filecheck %s --check-prefix=OK

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %dead = vit.gelu %x : tensor<4xf32> -> tensor<4xf32>
  func.return %x : tensor<4xf32>
}

// UNKNOWN:     vaqf-opt: error: unknown pass 'no-such-pass' (available: canonicalize, cse, dce{{.*}})
// UNKNOWN-NOT: {{.}}
// OPTION:      vaqf-opt: error: invalid options for pass 'canonicalize': Provided arguments ["bogus"] not found
// OPTION-NOT:  Traceback
// SYNTAX:      vaqf-opt: error: invalid pass pipeline 'cse{': Expected argument name here at column 5
// SYNTAX-NOT:  Traceback
// EMPTY:       vaqf-opt: error: invalid pass pipeline 'cse,,dce': Expected pass name here at column 5
// EMPTY-NOT:   Traceback
// BRACE:       vaqf-opt: error: invalid pass pipeline 'cse}': {{.+}} at column 4
// BRACE-NOT:   Traceback

// OK-LABEL: func.func @f(
// OK-NEXT:    func.return %x : tensor<4xf32>
