// A one-block ViT without CLS token, as vit-pytorch's SimpleViT: patchify + LN + linear embedding,
// mean pooling before the head. 16x16 image, 8x8 patches, D=8, 2 heads of 4, MLP 16, 3 classes.
func.func @forward(%image: tensor<3x16x16xf32>) -> tensor<3xf32> {
  %p0 = vit.patchify %image patch array<i64: 8, 8> : tensor<3x16x16xf32> -> tensor<4x192xf32>
  %n0 = vit.layer_norm %p0 weight #vit.param<"pn.w", [192]> bias #vit.param<"pn.b", [192]> eps 1.0e-05 : f64 : tensor<4x192xf32> -> tensor<4x192xf32>
  %0 = vit.linear %n0 weight #vit.param<"pe.w", [8, 192]> bias #vit.param<"pe.b", [8]> : tensor<4x192xf32> -> tensor<4x8xf32>
  %2 = vit.pos_embed_add %0 pos #vit.param<"pos", [4, 8]> : tensor<4x8xf32>
  %3 = vit.layer_norm %2 weight #vit.param<"ln1.w", [8]> bias #vit.param<"ln1.b", [8]> eps 1.0e-06 : f64 : tensor<4x8xf32> -> tensor<4x8xf32>
  %4 = vit.linear %3 weight #vit.param<"qkv.w", [24, 8]> : tensor<4x8xf32> -> tensor<4x24xf32>
  %q = vit.split_heads %4 heads 2 part 0 of 3 : tensor<4x24xf32> -> tensor<2x4x4xf32>
  %k = vit.split_heads %4 heads 2 part 1 of 3 : tensor<4x24xf32> -> tensor<2x4x4xf32>
  %v = vit.split_heads %4 heads 2 part 2 of 3 : tensor<4x24xf32> -> tensor<2x4x4xf32>
  %s = vit.matmul %q, %k transpose_b : (tensor<2x4x4xf32>, tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %s2 = vit.scale %s by 0.5 : f64 : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %p = vit.softmax %s2 : tensor<2x4x4xf32> -> tensor<2x4x4xf32>
  %o = vit.matmul %p, %v : (tensor<2x4x4xf32>, tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  %m = vit.merge_heads %o : tensor<2x4x4xf32> -> tensor<4x8xf32>
  %a = vit.linear %m weight #vit.param<"proj.w", [8, 8]> : tensor<4x8xf32> -> tensor<4x8xf32>
  %r1 = vit.add %2, %a : tensor<4x8xf32>
  %5 = vit.layer_norm %r1 weight #vit.param<"ln2.w", [8]> bias #vit.param<"ln2.b", [8]> eps 1.0e-06 : f64 : tensor<4x8xf32> -> tensor<4x8xf32>
  %h = vit.linear %5 weight #vit.param<"fc1.w", [16, 8]> bias #vit.param<"fc1.b", [16]> : tensor<4x8xf32> -> tensor<4x16xf32>
  %g = vit.gelu %h : tensor<4x16xf32> -> tensor<4x16xf32>
  %f = vit.linear %g weight #vit.param<"fc2.w", [8, 16]> bias #vit.param<"fc2.b", [8]> : tensor<4x16xf32> -> tensor<4x8xf32>
  %r2 = vit.add %r1, %f : tensor<4x8xf32>
  %6 = vit.layer_norm %r2 weight #vit.param<"ln.w", [8]> bias #vit.param<"ln.b", [8]> eps 1.0e-06 : f64 : tensor<4x8xf32> -> tensor<4x8xf32>
  %c = vit.mean_pool %6 : tensor<4x8xf32> -> tensor<8xf32>
  %y = vit.linear %c weight #vit.param<"head.w", [3, 8]> bias #vit.param<"head.b", [3]> : tensor<8xf32> -> tensor<3xf32>
  func.return %y : tensor<3xf32>
}
