/* The float32 FMA peak of one core, the ceiling of `sepc profile`'s roofline column and of
 * bench/separable_blocks.py's (its vector width and accumulator count set by the target):
 * independent fused multiply-adds on vectors of VECTOR_BYTES, more accumulators than any
 * core's FMA pipes x latency. Built with -O2 -march=native -ffp-contract=fast. */
#include <time.h>

#ifndef VECTOR_BYTES
#define VECTOR_BYTES 64
#endif
typedef float vec __attribute__((vector_size(VECTOR_BYTES)));
#define LANES (VECTOR_BYTES / 4)

/* 24 accumulators fit 32 vector registers with room for the operands, 12 fit 16. */
#if defined(FEW_REGISTERS)
#define COUNT 12
#define ACCUMULATORS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#else
#define COUNT 24
#define ACCUMULATORS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) \
    X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#endif
#define DECLARE(i) vec a##i = b * (float)(i + 1);
#define STEP(i) a##i = a##i * b + c;
#define SUM(i) sink += a##i[0];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* GFLOP/s of `iterations` steps of COUNT vector FMAs of LANES lanes (2 FLOPs per lane). */
double fma_gflops(long iterations, float seed) {
    vec b = {0}, c = {0};
    b += 1.0f + 1e-7f * seed;
    c += 1e-7f;
    ACCUMULATORS(DECLARE)
    double start = now();
    for (long k = 0; k < iterations; k++) {
        ACCUMULATORS(STEP)
    }
    double seconds = now() - start;
    float sink = 0;
    ACCUMULATORS(SUM)
    /* The sum is used, so no accumulator is dead; it is never 0 for seed >= 0. */
    return (sink != 0.0f) * (double)COUNT * LANES * 2 * iterations / seconds / 1e9;
}
