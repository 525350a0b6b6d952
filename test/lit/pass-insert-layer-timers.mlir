// insert-layer-timers (the profile build of `sepc profile`): a clock read where one
// layer's run of top-level ops begins, another where it ends (the next run's beginning,
// or the return), the difference added atomically to the layer's counter. Layers are the
// ops' NameLocs; views and constants (here a fused depthwise conv's weights, which carry
// its own name) start no span; a free of no layer stays in the run before it; a layer met
// twice adds to one counter. A function with no layer (the thread setter) is left alone.
// The spans survive OpenMP outlining: the parallel region lies between a layer's reads.
// RUN: %sepc opt %s --passes=insert-layer-timers | FileCheck %s
// RUN: %sepc opt %s --passes='insert-layer-timers{clock-id=4}' | FileCheck %s --check-prefix=CLOCK
// RUN: %sepc opt %s --passes=insert-layer-timers --pass-pipeline='builtin.module(convert-scf-to-openmp)' | FileCheck %s --check-prefix=OMP

// CHECK: module attributes {sep.profile_layers = {sepc_net = ["dw", "pw", "head"]}}
// CHECK:      func.func private @clock_gettime(i32, memref<2xi64>) -> i32
// CHECK:      func.func private @sepc_profile_clock() -> i64 attributes {llvm.linkage = #llvm.linkage<internal>}
// CHECK:        %[[ID:.*]] = arith.constant 1 : i32
// CHECK:        call @clock_gettime(%[[ID]], %{{.*}}) : (i32, memref<2xi64>) -> i32
// CHECK:      memref.global "private" @sepc_net_profile_ns : memref<3xi64> = dense<0>

// CHECK-LABEL: func.func @sepc_net(
// CHECK:         memref.get_global @w
// CHECK-NEXT:    %[[T0:.*]] = call @sepc_profile_clock() : () -> i64
// CHECK-NEXT:    memref.alloc()
// CHECK-NEXT:    scf.parallel
// CHECK:         }
// CHECK-NEXT:    %[[T1:.*]] = call @sepc_profile_clock() : () -> i64
// CHECK-NEXT:    %[[G1:.*]] = memref.get_global @sepc_net_profile_ns : memref<3xi64>
// CHECK-NEXT:    %[[DW:.*]] = arith.constant 0 : index
// CHECK-NEXT:    %[[D1:.*]] = arith.subi %[[T1]], %[[T0]] : i64
// CHECK-NEXT:    memref.atomic_rmw addi %[[D1]], %[[G1]][%[[DW]]]
// CHECK-NEXT:    memref.alloc()
// CHECK-NEXT:    scf.for
// CHECK:         }
// CHECK-NEXT:    memref.dealloc
// CHECK-NEXT:    %[[T2:.*]] = call @sepc_profile_clock() : () -> i64
// CHECK:         %[[PW:.*]] = arith.constant 1 : index
// CHECK-NEXT:    %[[D2:.*]] = arith.subi %[[T2]], %[[T1]] : i64
// CHECK-NEXT:    memref.atomic_rmw addi %[[D2]], %{{.*}}[%[[PW]]]
// CHECK-NEXT:    memref.copy
// CHECK-NEXT:    %[[T3:.*]] = call @sepc_profile_clock() : () -> i64
// CHECK:         %[[HEAD:.*]] = arith.constant 2 : index
// CHECK-NEXT:    %[[D3:.*]] = arith.subi %[[T3]], %[[T2]] : i64
// CHECK-NEXT:    memref.atomic_rmw addi %[[D3]], %{{.*}}[%[[HEAD]]]
// CHECK-NEXT:    scf.for
// CHECK:         }
// CHECK-NEXT:    memref.dealloc
// CHECK-NEXT:    %[[T4:.*]] = call @sepc_profile_clock() : () -> i64
// CHECK:         %[[AGAIN:.*]] = arith.constant 1 : index
// CHECK-NEXT:    %[[D4:.*]] = arith.subi %[[T4]], %[[T3]] : i64
// CHECK-NEXT:    memref.atomic_rmw addi %[[D4]], %{{.*}}[%[[AGAIN]]]
// CHECK-NEXT:    return

// The reader: swaps min(n, 3) counters out into ns, returns the number of layers.
// CHECK-LABEL: func.func @sepc_net_profile(%{{.*}}: memref<3xi64>, %{{.*}}: i32) -> i32 {
// CHECK:         arith.minsi %{{.*}}, %{{.*}} : index
// CHECK:         scf.for
// CHECK:           memref.atomic_rmw assign
// CHECK:           memref.store
// CHECK:         %[[N:.*]] = arith.constant 3 : i32
// CHECK:         return %[[N]] : i32

// CHECK-LABEL: func.func @sepc_net_set_threads(
// CHECK-NEXT:    return

// CLOCK: %{{.*}} = arith.constant 4 : i32
// CLOCK: call @clock_gettime

// OMP-LABEL: func.func @sepc_net(
// OMP:         call @sepc_profile_clock()
// OMP:         omp.parallel {
// OMP:           omp.terminator
// OMP-NEXT:    }
// OMP-NEXT:    call @sepc_profile_clock()

memref.global "private" constant @w : memref<16xf32> = dense<1.0>
func.func @sepc_net(%in: memref<16xf32>, %out: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %w = memref.get_global @w : memref<16xf32> loc("pw")
  %a = memref.alloc() : memref<16xf32> loc("dw")
  scf.parallel (%i) = (%c0) to (%c16) step (%c1) {
    %v = memref.load %in[%i] : memref<16xf32>
    memref.store %v, %a[%i] : memref<16xf32>
    scf.reduce
  } loc("dw")
  %b = memref.alloc() : memref<16xf32> loc("pw")
  scf.for %i = %c0 to %c16 step %c1 {
    %v = memref.load %a[%i] : memref<16xf32>
    %x = memref.load %w[%i] : memref<16xf32>
    %y = arith.mulf %v, %x : f32
    memref.store %y, %b[%i] : memref<16xf32>
  } loc("pw")
  memref.dealloc %a : memref<16xf32>
  memref.copy %b, %out : memref<16xf32> to memref<16xf32> loc("head")
  scf.for %i = %c0 to %c16 step %c1 {
    %v = memref.load %b[%i] : memref<16xf32>
    memref.store %v, %out[%i] : memref<16xf32>
  } loc(fused["pw", "other"])
  memref.dealloc %b : memref<16xf32>
  return
}

func.func @sepc_net_set_threads(%n: i32) {
  return
}
