// Hostile input: caught before it can exhaust the stack, memory or time; one line, exit 1.
//
// 100000 nested regions, types, attributes:
// RUN: %python -c "print('builtin.module {' * 100000)" | not vaqf-opt 2>&1 | filecheck %s --check-prefix=REGIONS
// RUN: %python -c "print('func.func @f(%%x: ' + 'tensor<' * 100000)" | not vaqf-opt 2>&1 | filecheck %s --check-prefix=TYPES
// RUN: %python -c "print('func.func @f() attributes {a = ' + '[' * 100000)" | not vaqf-opt 2>&1 | filecheck %s --check-prefix=ATTRS
// REGIONS: <stdin>:1:3216: error: nesting deeper than 200 levels of brackets or regions
// TYPES:   <stdin>:1:{{[0-9]+}}: error: nesting deeper than 200 levels of brackets or regions
// ATTRS:   <stdin>:1:{{[0-9]+}}: error: nesting deeper than 200 levels of brackets or regions
//
// Nesting just under the limit still parses (the tool runs on a deep enough stack).
// RUN: %python -c "print('builtin.module {' * 195 + '}' * 195)" | vaqf-opt | filecheck %s --check-prefix=DEEP
// DEEP: builtin.module {
//
// A 2 MiB string literal, and an unterminated string (xDSL's lexer backtracks exponentially on those):
// RUN: %python -c "print('func.func @f() attributes {a = \"' + 'a' * 2097152 + '\"} {}')" | not vaqf-opt 2>&1 | filecheck %s --check-prefix=STRING
// RUN: %python -c "print('func.func @f() attributes {a = \"' + 'a' * 100 + '} {}')" | not vaqf-opt 2>&1 | filecheck %s --check-prefix=UNTERMINATED
// STRING:       <stdin>:1:32: error: string literal of 2097154 characters exceeds the limit of 1048576
// UNTERMINATED: <stdin>:1:32: error: unterminated string literal
//
// Integer literals and types too large to represent:
// RUN: %python -c "print('func.func @f() {%%0 = arith.constant ' + '9' * 5000 + ' : i64}')" | not vaqf-opt 2>&1 | filecheck %s --check-prefix=BIGINT
// RUN: %python -c "print('func.func @f() {%%0 = arith.constant 1 : i99999999999}')" | not vaqf-opt 2>&1 | filecheck %s --check-prefix=WIDE
// BIGINT: <stdin>:1:17: error: 'arith.constant' integer literal too large
// WIDE:   <stdin>:1:41: error: integer type i99999999999 is wider than 65536 bits
//
// Bytes that are not UTF-8, and random bytes:
// RUN: %python -c "import sys; sys.stdout.buffer.write(b'func.func @f() {' + bytes([10, 32, 255]) + b'}')" | not vaqf-opt 2>&1 | filecheck %s --check-prefix=UTF8
// RUN: %python -c "import random, sys; r = random.Random(7); sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(20000)))" | not vaqf-opt 2>&1 | filecheck %s --check-prefix=RANDOM
// UTF8:   <stdin>:2:2: error: invalid UTF-8 byte 0xff in input
// RANDOM: <stdin>:{{[0-9]+}}:{{[0-9]+}}: error: invalid UTF-8 byte
//
// Dense literals that would expand to absurd sizes (this file's chunks):
// RUN: not vaqf-opt %s --split-input-file 2>&1 >/dev/null | filecheck %s --check-prefix=DENSE
// DENSE-NOT: Traceback

func.func @splat() -> tensor<100000x100000xf32> {
  %0 = arith.constant dense<1.0> : tensor<100000x100000xf32>
  func.return %0 : tensor<100000x100000xf32>
}
// DENSE: hostile.mlir:[[# @LINE - 3]]:23: error: dense literal of 10000000000 elements exceeds the limit of 1048576

// -----

!big = tensor<100000000xf32>
func.func @alias() -> !big {
  %0 = "arith.constant"() <{value = dense<0.0> : !big}> : () -> !big
  func.return %0 : !big
}
// DENSE: hostile.mlir:[[# @LINE - 3]]:37: error: dense literal of 100000000 elements exceeds the limit of 1048576
