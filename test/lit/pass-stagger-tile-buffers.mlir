// stagger-tile-buffers: a tile buffer (an empty tensor in a loop, the shared output of a
// nested tile loop) whose pixels are 4 KiB apart becomes a view of one with a spare cache
// line per pixel; a 128-channel tile (512 B per pixel) and a buffer outside loops do not.
// RUN: %sepc opt %s --passes=stagger-tile-buffers | FileCheck %s

// CHECK-LABEL: func.func @tiles(
// CHECK:         scf.forall
// CHECK:           %[[WIDE:.*]] = tensor.empty() : tensor<1x7x7x1040xf32>
// CHECK-NEXT:      %[[TILE:.*]] = tensor.extract_slice %[[WIDE]][0, 0, 0, 0] [1, 7, 7, 1024] [1, 1, 1, 1]
// CHECK:           scf.forall (%{{.*}}) in (7) shared_outs(%{{.*}} = %[[TILE]])
// CHECK:           tensor.empty() : tensor<1x7x7x128xf32>
// CHECK-NOT:       tensor<1x7x7x144xf32>
func.func @tiles(%out: tensor<2x1x7x7x1024xf32>, %out2: tensor<2x1x7x7x128xf32>) -> (tensor<2x1x7x7x1024xf32>, tensor<2x1x7x7x128xf32>) {
  %r:2 = scf.forall (%i) in (2) shared_outs(%o = %out, %o2 = %out2) -> (tensor<2x1x7x7x1024xf32>, tensor<2x1x7x7x128xf32>) {
    %e = tensor.empty() : tensor<1x7x7x1024xf32>
    %t = scf.forall (%j) in (7) shared_outs(%a = %e) -> (tensor<1x7x7x1024xf32>) {
    }
    %e2 = tensor.empty() : tensor<1x7x7x128xf32>
    %t2 = scf.forall (%j) in (7) shared_outs(%a = %e2) -> (tensor<1x7x7x128xf32>) {
    }
    %t5 = tensor.expand_shape %t [[0, 1], [2], [3], [4]] output_shape [1, 1, 7, 7, 1024] : tensor<1x7x7x1024xf32> into tensor<1x1x7x7x1024xf32>
    %t6 = tensor.expand_shape %t2 [[0, 1], [2], [3], [4]] output_shape [1, 1, 7, 7, 128] : tensor<1x7x7x128xf32> into tensor<1x1x7x7x128xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %t5 into %o[%i, 0, 0, 0, 0] [1, 1, 7, 7, 1024] [1, 1, 1, 1, 1] : tensor<1x1x7x7x1024xf32> into tensor<2x1x7x7x1024xf32>
      tensor.parallel_insert_slice %t6 into %o2[%i, 0, 0, 0, 0] [1, 1, 7, 7, 128] [1, 1, 1, 1, 1] : tensor<1x1x7x7x128xf32> into tensor<2x1x7x7x128xf32>
    }
  }
  return %r#0, %r#1 : tensor<2x1x7x7x1024xf32>, tensor<2x1x7x7x128xf32>
}

// Outside any loop: left alone.
// CHECK-LABEL: func.func @outside(
// CHECK:         tensor.empty() : tensor<1x7x7x1024xf32>
// CHECK-NOT:     1040
func.func @outside(%x: tensor<1x7x7x1024xf32>) -> tensor<1x7x7x1024xf32> {
  %e = tensor.empty() : tensor<1x7x7x1024xf32>
  %t = scf.forall (%j) in (7) shared_outs(%a = %e) -> (tensor<1x7x7x1024xf32>) {
  }
  return %t : tensor<1x7x7x1024xf32>
}
