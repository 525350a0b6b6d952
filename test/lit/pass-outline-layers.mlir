// outline-layers: each layer's ops move into a private function of their own, called where
// they were, so that a transform script applied to one layer prints and verifies only it.
// Weights and pads used by one layer go with it; a constant or empty tensor two layers use
// is copied into both; a layer interleaved with another (d) stays in the network.
// RUN: %sepc opt %s --passes=outline-layers | FileCheck %s

// CHECK-LABEL: func.func @net(
// CHECK-SAME:    %[[X:[a-z0-9_]+]]: tensor<1x8xf32>
// CHECK-NOT:     linalg.
// CHECK:         %[[A:.*]] = call @net__layer0(%[[X]]) : (tensor<1x8xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:    %[[B:.*]] = call @net__layer1(%[[A]]) : (tensor<1x8xf32>) -> tensor<1x8xf32>
// CHECK-NEXT:    %[[C:.*]] = linalg.add {sep.part = "d:main"}
// CHECK-NEXT:    %[[D:.*]] = call @net__layer2(%[[B]], %[[C]])
// CHECK-NEXT:    %[[E:.*]] = linalg.add {sep.part = "d:end"} ins(%[[D]], %[[C]]
// CHECK-NEXT:    return %[[E]]

// CHECK-LABEL: func.func private @net__layer0(
// CHECK-SAME:    %[[X0:[a-z0-9_]+]]: tensor<1x8xf32>) -> tensor<1x8xf32>
// CHECK-DAG:     %[[W:.*]] = arith.constant dense<2.000000e+00>
// CHECK-DAG:     %[[E0:.*]] = tensor.empty() : tensor<1x8xf32>
// CHECK:         %[[R0:.*]] = linalg.mul {sep.part = "a:main"} ins(%[[X0]], %[[W]] : {{.*}}) outs(%[[E0]]
// CHECK-NEXT:    return %[[R0]]

// CHECK-LABEL: func.func private @net__layer1(
// CHECK:         tensor.empty() : tensor<1x8xf32>
// CHECK:         linalg.exp {sep.layer = "b"}

// CHECK-LABEL: func.func private @net__layer2(
// CHECK-SAME:    %[[B2:[a-z0-9_]+]]: tensor<1x8xf32>, %[[C2:[a-z0-9_]+]]: tensor<1x8xf32>)
// CHECK:         linalg.add {sep.part = "c:main"} ins(%[[B2]], %[[C2]]
func.func @net(%x: tensor<1x8xf32>) -> tensor<1x8xf32> {
  %w = arith.constant dense<2.0> : tensor<1x8xf32>
  %e = tensor.empty() : tensor<1x8xf32>
  %a = linalg.mul {sep.part = "a:main"} ins(%x, %w : tensor<1x8xf32>, tensor<1x8xf32>) outs(%e : tensor<1x8xf32>) -> tensor<1x8xf32>
  %b = linalg.exp {sep.layer = "b"} ins(%a : tensor<1x8xf32>) outs(%e : tensor<1x8xf32>) -> tensor<1x8xf32>
  %d = linalg.add {sep.part = "d:main"} ins(%b, %b : tensor<1x8xf32>, tensor<1x8xf32>) outs(%e : tensor<1x8xf32>) -> tensor<1x8xf32>
  %c = linalg.add {sep.part = "c:main"} ins(%b, %d : tensor<1x8xf32>, tensor<1x8xf32>) outs(%e : tensor<1x8xf32>) -> tensor<1x8xf32>
  %f = linalg.add {sep.part = "d:end"} ins(%c, %d : tensor<1x8xf32>, tensor<1x8xf32>) outs(%e : tensor<1x8xf32>) -> tensor<1x8xf32>
  return %f : tensor<1x8xf32>
}
