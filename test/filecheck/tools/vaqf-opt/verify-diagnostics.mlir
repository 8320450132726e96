// RUN: vaqf-opt %s --split-input-file --verify-diagnostics | filecheck %s
// Every designator form matches; chunks without errors are printed as usual.

func.func @same_line(%x: tensor<4xf32>) -> tensor<5xf32> {
  %y = vit.gelu %x : tensor<4xf32> -> tensor<5xf32> // expected-error {{result type must equal its input type}}
  func.return %y : tensor<5xf32>
}

// -----

func.func @plus(%x: tensor<4xf32>) -> tensor<5xf32> {
  // expected-error@+2 {{'vit.softmax' vit.softmax result type must equal its input type}}

  %y = vit.softmax %x : tensor<4xf32> -> tensor<5xf32>
  func.return %y : tensor<5xf32>
}

// -----

func.func @minus(%x: tensor<17x48xf32>) -> tensor<48xf32> {
  %c = vit.select_token %x index 99 : tensor<17x48xf32> -> tensor<48xf32>
  // expected-error@-1 {{index 99 is out of range for 17 tokens}}
  func.return %c : tensor<48xf32>
}

// -----

func.func @above(%x: tensor<17x48xf32>) -> tensor<48xf32> {
  %c = vit.select_token %x index 17 : tensor<17x48xf32> -> tensor<48xf32>
  // expected-error@above {{index 17 is out of range}}
  func.return %c : tensor<48xf32>
}

// -----

func.func @below(%x: tensor<17x48xf32>) -> tensor<48xf32> {
  // expected-error@below {{index 18 is out of range}}
  %c = vit.select_token %x index 18 : tensor<17x48xf32> -> tensor<48xf32>
  func.return %c : tensor<48xf32>
}

// -----

// Parse errors are diagnostics too.
func.func @parse_error(%x: tensor<4xf32>) {
  // expected-error@+1 {{unknown operation 'vit.nope'}}
  %y = vit.nope %x : tensor<4xf32> -> tensor<4xf32>
  func.return
}

// -----

func.func @valid(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = vit.gelu %x : tensor<4xf32> -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}
// CHECK-LABEL: func.func @valid(
// CHECK-NEXT:    %y = vit.gelu %x : tensor<4xf32> -> tensor<4xf32>
