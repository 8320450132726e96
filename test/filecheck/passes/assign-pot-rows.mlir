// RUN: rm -rf %t && mkdir -p %t && cp %s %t/rows.mlir
// RUN: python %S/Inputs/pot_weights.py %t/rows.npz
// RUN: vaqf-opt %t/rows.mlir --split-input-file -p 'assign-pot-rows{ratio=0.5}' --verify-diagnostics | filecheck %s
// RUN: vaqf-opt %t/rows.mlir --split-input-file -p 'assign-pot-rows{ratio=0.25}' --verify-diagnostics | filecheck %s --check-prefix=QUARTER
// RUN: vaqf-opt %t/rows.mlir --split-input-file -p 'assign-pot-rows{ratio=0.5},assign-pot-rows{ratio=0.5}' --verify-diagnostics | filecheck %s
// RUN: vaqf-opt %t/rows.mlir --split-input-file -p 'assign-pot-rows{ratio=1.0}' --verify-diagnostics | filecheck %s --check-prefix=ALL
// RUN: vaqf-opt %t/rows.mlir --split-input-file -p 'assign-pot-rows{ratio=0.0}' --verify-diagnostics | filecheck %s --check-prefix=NONE
// IR from stdin has no sidecar beside it: the pass says how to name one.
// RUN: head -n 32 %t/rows.mlir | not vaqf-opt -p assign-pot-rows 2>&1 | filecheck %s --check-prefix=STDIN
// RUN: head -n 32 %t/rows.mlir | vaqf-opt -p 'assign-pot-rows{weights="%t/rows.npz"}' | filecheck %s
// RUN: not vaqf-opt %t/rows.mlir -p 'assign-pot-rows{ratio=1.5}' 2>&1 | filecheck %s --check-prefix=RATIO

// The weights (Inputs/pot_weights.py): in "w" [8, 4] the even rows are exact powers of two
// (PoT error 0), the odd ones are not, so the rule picks the even rows first, lowest index first.
// The mask's hex digit i holds rows 4i..4i+3, row 4i+b as bit 2^b: rows 0, 2, 4, 6 -> "55".
builtin.module attributes {vit.weights = "rows.npz"} {
  // CHECK-LABEL: func.func @mixed
  // CHECK-SAME:  attributes {vit.pot_ratio = 5.000000e-01 : f64}
  // CHECK:       vit.linear {{.*}} quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 4 of 8, "55"> out
  // CHECK:       accel.engine fc {{.*}} quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 4 of 8, "55"> out
  // The binary layer gets no split.
  // CHECK:       vit.linear {{.*}} quant #vit.quant<w = binary 1, x = int 8> out
  // QUARTER:     vit.linear {{.*}} rows #vit.rows<pot 2 of 8, "50">
  // ALL:         vit.linear {{.*}} rows #vit.rows<pot 8 of 8, "ff">
  // NONE:        vit.linear {{.*}} rows #vit.rows<pot 0 of 8, "00">
  func.func @mixed(%x: tensor<5x4xf32>) -> tensor<5x8xf32> {
    %y = vit.linear %x weight #vit.param<"w", [8, 4]> quant #vit.quant<w = mixed 4, x = int 8> out #vit.format<int 8> : tensor<5x4xf32> -> tensor<5x8xf32>
    %e = accel.engine fc %x heads 1 weight #vit.param<"w", [8, 4]> quant #vit.quant<w = mixed 4, x = int 8> out #vit.format<int 8> : (tensor<5x4xf32>) -> tensor<5x8xf32>
    %b = vit.linear %x weight #vit.param<"w", [8, 4]> quant #vit.quant<w = binary 1, x = int 8> out #vit.format<int 8> : tensor<5x4xf32> -> tensor<5x8xf32>
    func.return %y : tensor<5x8xf32>
  }
}
// STDIN: <stdin>:{{.*}}error: assign-pot-rows: needs the float weights but the IR came without a file name (stdin); give the sidecar as an option: assign-pot-rows{weights=model.npz}
// RATIO: vaqf-opt: error: invalid options for pass 'assign-pot-rows': assign-pot-rows: the PoT ratio must be in [0, 1], got 1.5

// -----

builtin.module attributes {vit.weights = "rows.npz"} {
  // expected-error @+1 {{assign-pot-rows: no FC layer has mixed weights; run mark-quantization{scheme=mixed} first}}
  func.func @binary_only(%x: tensor<5x4xf32>) -> tensor<5x8xf32> {
    %b = vit.linear %x weight #vit.param<"w", [8, 4]> quant #vit.quant<w = binary 1, x = int 8> out #vit.format<int 8> : tensor<5x4xf32> -> tensor<5x8xf32>
    func.return %b : tensor<5x8xf32>
  }
}

// -----

builtin.module attributes {vit.weights = "rows.npz"} {
  func.func @not_in_sidecar(%x: tensor<5x4xf32>) -> tensor<5x8xf32> {
    // expected-error @+1 {{parameter 'missing' is missing from}}
    %y = vit.linear %x weight #vit.param<"missing", [8, 4]> quant #vit.quant<w = mixed 4, x = int 8> out #vit.format<int 8> : tensor<5x4xf32> -> tensor<5x8xf32>
    func.return %y : tensor<5x8xf32>
  }
}

// -----

// expected-error @below {{nosuch.npz not found}}
builtin.module attributes {vit.weights = "nosuch.npz"} {
  func.func @no_sidecar(%x: tensor<5x4xf32>) -> tensor<5x8xf32> {
    %y = vit.linear %x weight #vit.param<"w", [8, 4]> quant #vit.quant<w = mixed 4, x = int 8> out #vit.format<int 8> : tensor<5x4xf32> -> tensor<5x8xf32>
    func.return %y : tensor<5x8xf32>
  }
}
