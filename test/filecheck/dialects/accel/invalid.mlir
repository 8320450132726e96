// RUN: vaqf-opt %s --split-input-file --verify-diagnostics

func.func @stream_mismatch(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{accel.load: int 8 data cannot use the unquantized stream}}
  %0 = accel.load %x stream unquantized format #vit.format<int 8> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %0 : tensor<5x8xf32>
}

// -----

func.func @fc_without_weight(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{accel.engine fc takes one activation and a weight}}
  %0 = accel.engine fc %x heads 1 quant #vit.quant<w = binary 1, x = int 8> out #vit.format<int 8> : (tensor<5x8xf32>) -> tensor<5x8xf32>
  func.return %0 : tensor<5x8xf32>
}

// -----

func.func @fc_heads(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{accel.engine fc: heads must be 1, got 2}}
  %0 = accel.engine fc %x heads 2 weight #vit.param<"w", [8, 8]> quant #vit.quant<w = binary 1, x = int 8> out #vit.format<int 8> : (tensor<5x8xf32>) -> tensor<5x8xf32>
  func.return %0 : tensor<5x8xf32>
}

// -----

func.func @fc_shape(%x: tensor<5x8xf32>) -> tensor<5x9xf32> {
  // expected-error @+1 {{accel.engine result must be [5, 8], got [5, 9]}}
  %0 = accel.engine fc %x heads 1 weight #vit.param<"w", [8, 8]> quant #vit.quant<w = binary 1, x = int 8> out #vit.format<int 8> : (tensor<5x8xf32>) -> tensor<5x9xf32>
  func.return %0 : tensor<5x9xf32>
}

// -----

func.func @attention_weight(%q: tensor<2x5x4xf32>) -> tensor<2x5x5xf32> {
  // expected-error @+1 {{accel.engine attention takes two activations and no weights}}
  %0 = accel.engine attention %q, %q heads 2 transpose_b weight #vit.param<"w", [8, 8]> quant #vit.quant<w = int 8, x = int 8> out #vit.format<fixed 16> : (tensor<2x5x4xf32>, tensor<2x5x4xf32>) -> tensor<2x5x5xf32>
  func.return %0 : tensor<2x5x5xf32>
}

// -----

func.func @attention_heads(%q: tensor<2x5x4xf32>) -> tensor<2x5x5xf32> {
  // expected-error @+1 {{accel.engine attention: heads 3 but the operands have 2}}
  %0 = accel.engine attention %q, %q heads 3 transpose_b quant #vit.quant<w = int 8, x = int 8> out #vit.format<fixed 16> : (tensor<2x5x4xf32>, tensor<2x5x4xf32>) -> tensor<2x5x5xf32>
  func.return %0 : tensor<2x5x5xf32>
}

// -----

func.func @attention_shapes(%q: tensor<2x5x4xf32>) -> tensor<2x5x5xf32> {
  // expected-error @+1 {{accel.engine: contraction sizes differ (lhs 4, rhs 5)}}
  %0 = accel.engine attention %q, %q heads 2 quant #vit.quant<w = int 8, x = int 8> out #vit.format<fixed 16> : (tensor<2x5x4xf32>, tensor<2x5x4xf32>) -> tensor<2x5x5xf32>
  func.return %0 : tensor<2x5x5xf32>
}

// -----

func.func @mirrored_check(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{accel.layer_norm weight must be [8], got [7]}}
  %0 = accel.layer_norm %x weight #vit.param<"w", [7]> eps 1.0e-06 : f64 : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %0 : tensor<5x8xf32>
}

// -----

func.func @bad_format(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{#vit.format: unknown kind 'half'}}
  %0 = accel.store %x format #vit.format<half 16> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %0 : tensor<5x8xf32>
}

// -----

func.func @binary_bits(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{#vit.format: binary values have 1 bit, got 2}}
  %0 = accel.store %x format #vit.format<binary 2> : tensor<5x8xf32> -> tensor<5x8xf32>
  func.return %0 : tensor<5x8xf32>
}

// -----

func.func @fc_rows_without_mixed(%x: tensor<5x8xf32>) -> tensor<5x8xf32> {
  // expected-error @+1 {{accel.engine fc: `rows` needs mixed weights (quant w = mixed k)}}
  %0 = accel.engine fc %x heads 1 weight #vit.param<"w", [8, 8]> quant #vit.quant<w = binary 1, x = int 8> rows #vit.rows<pot 1 of 8, "10"> out #vit.format<int 8> : (tensor<5x8xf32>) -> tensor<5x8xf32>
  func.return %0 : tensor<5x8xf32>
}

// -----

func.func @fc_rows_count(%x: tensor<5x8xf32>) -> tensor<5x4xf32> {
  // expected-error @+1 {{accel.engine fc: `rows` describes 8 rows but the weight has 4}}
  %0 = accel.engine fc %x heads 1 weight #vit.param<"w", [4, 8]> quant #vit.quant<w = mixed 4, x = int 8> rows #vit.rows<pot 1 of 8, "10"> out #vit.format<int 8> : (tensor<5x8xf32>) -> tensor<5x4xf32>
  func.return %0 : tensor<5x4xf32>
}

// -----

func.func @attention_rows(%q: tensor<2x5x4xf32>, %k: tensor<2x5x4xf32>) -> tensor<2x5x5xf32> {
  // expected-error @+1 {{accel.engine attention takes two activations and no weights}}
  %0 = accel.engine attention %q, %k heads 2 transpose_b quant #vit.quant<w = int 8, x = int 8> rows #vit.rows<pot 1 of 2, "1"> out #vit.format<fixed 16> : (tensor<2x5x4xf32>, tensor<2x5x4xf32>) -> tensor<2x5x5xf32>
  func.return %0 : tensor<2x5x5xf32>
}

// -----

func.func @attention_mixed(%q: tensor<2x5x4xf32>, %k: tensor<2x5x4xf32>) -> tensor<2x5x5xf32> {
  // expected-error @+1 {{accel.engine attention: both operands are activations, not mixed}}
  %0 = accel.engine attention %q, %k heads 2 transpose_b quant #vit.quant<w = mixed 4, x = int 8> out #vit.format<fixed 16> : (tensor<2x5x4xf32>, tensor<2x5x4xf32>) -> tensor<2x5x5xf32>
  func.return %0 : tensor<2x5x5xf32>
}
