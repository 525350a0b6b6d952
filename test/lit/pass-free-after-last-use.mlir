// free-after-last-use: a function's frees move from its end to just after the last op
// that reads the buffer, through views and loops; the memory of a freed layer output is
// then reused by the layers after it.
// RUN: %sepc opt %s --passes=free-after-last-use | FileCheck %s

// CHECK-LABEL: func.func @chain(
// CHECK:         %[[A:.*]] = memref.alloc() : memref<64xf32>
// CHECK:         %[[B:.*]] = memref.alloc() : memref<64xf32>
// CHECK:         scf.for
// CHECK:           memref.load %[[A]]
// CHECK:           memref.store %{{.*}}, %[[B]]
// CHECK:         }
// CHECK-NEXT:    memref.dealloc %[[A]]
// CHECK-NEXT:    %[[VIEW:.*]] = memref.subview %[[B]][0] [32] [1]
// CHECK-NEXT:    memref.copy %[[VIEW]], %arg1
// CHECK-NEXT:    memref.dealloc %[[B]]
// CHECK-NEXT:    %[[C:.*]] = memref.alloc() : memref<16xf32>
// CHECK-NEXT:    memref.copy %arg0, %[[C]]
// CHECK-NEXT:    memref.dealloc %[[C]]
// CHECK-NEXT:    return
func.func @chain(%in: memref<16xf32>, %out: memref<32xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %a = memref.alloc() : memref<64xf32>
  %b = memref.alloc() : memref<64xf32>
  scf.for %i = %c0 to %c64 step %c1 {
    %v = memref.load %a[%i] : memref<64xf32>
    memref.store %v, %b[%i] : memref<64xf32>
  }
  %view = memref.subview %b[0] [32] [1] : memref<64xf32> to memref<32xf32, strided<[1]>>
  memref.copy %view, %out : memref<32xf32, strided<[1]>> to memref<32xf32>
  %c = memref.alloc() : memref<16xf32>
  memref.copy %in, %c : memref<16xf32> to memref<16xf32>
  memref.dealloc %a : memref<64xf32>
  memref.dealloc %b : memref<64xf32>
  memref.dealloc %c : memref<16xf32>
  return
}

// A buffer that is not the result of an alloc in the same body stays where it is.
// CHECK-LABEL: func.func @argument(
// CHECK:         memref.copy
// CHECK-NEXT:    memref.dealloc %arg0
func.func @argument(%x: memref<16xf32>, %y: memref<16xf32>) {
  memref.copy %x, %y : memref<16xf32> to memref<16xf32>
  memref.dealloc %x : memref<16xf32>
  return
}
