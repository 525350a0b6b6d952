// partition-parallel-loops: an outermost scf.parallel becomes an omp.parallel in which each
// thread runs its balanced static share of the linearized iterations as an scf.for (no
// worksharing loop, so no runtime call per thread and kernel besides the thread number and
// count); the loop's indices are recovered from the linear index. A nested scf.parallel
// stays for convert-scf-to-openmp.
// RUN: %sepc opt %s --passes=partition-parallel-loops | FileCheck %s

// CHECK-LABEL: func.func @tiles(
// CHECK-SAME:    %[[M:[a-z0-9_]+]]: memref<6x10xf32>
// CHECK-NOT:     scf.parallel
// CHECK:         omp.parallel {
// CHECK:           %[[T:.*]] = func.call @omp_get_thread_num() : () -> i32
// CHECK:           %[[TI:.*]] = arith.index_cast %[[T]]
// CHECK:           %[[P:.*]] = func.call @omp_get_num_threads() : () -> i32
// CHECK:           %[[PI:.*]] = arith.index_cast %[[P]]
// CHECK:           %[[Q:.*]] = arith.divui %[[TOTAL:.*]], %[[PI]]
// CHECK:           %[[R:.*]] = arith.remui %[[TOTAL]], %[[PI]]
// CHECK:           scf.for %[[F:.*]] = %[[B:.*]] to %[[E:.*]] step
// CHECK:             %[[J:.*]] = arith.remui %[[F]], %[[NJ:.*]] : index
// CHECK:             %[[I:.*]] = arith.divui %[[F]], %[[NJ]] : index
// CHECK:             memref.store %{{.*}}, %[[M]][%{{.*}}, %{{.*}}]
// CHECK:           omp.terminator
// CHECK:       func.func private @omp_get_thread_num() -> i32
// CHECK:       func.func private @omp_get_num_threads() -> i32
func.func @tiles(%m: memref<6x10xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c6 = arith.constant 6 : index
  %c10 = arith.constant 10 : index
  %v = arith.constant 1.0 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%c6, %c10) step (%c1, %c2) {
    memref.store %v, %m[%i, %j] : memref<6x10xf32>
    scf.reduce
  }
  return
}
