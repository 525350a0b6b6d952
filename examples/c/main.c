/* An application that embeds a sepc-compiled MobileNet block (examples/mobilenet_v1_block):
 * reads the input tensor from a .npy file, runs the model, writes the output as .npy.
 *
 *     mobilenet_block_app INPUT.npy OUTPUT.npy [--threads N] [--concurrent K]
 *
 * --threads N: threads one call uses (OpenMP builds; single-threaded builds ignore it).
 * --concurrent K: then calls the model from K threads at once, each into its own buffer,
 *   and checks that every result equals the first call's, bit for bit (exit 1 if not).
 * No Python and no MLIR at run time: the model is linked in statically (NAME.a). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mobilenet_v1_block.h"
#include "sepc_npy.h"

#define MODEL sepc_mobilenet_v1_block
#define IN_SIZE SEPC_MOBILENET_V1_BLOCK_IN_0_SIZE
#define OUT_SIZE SEPC_MOBILENET_V1_BLOCK_OUT_0_SIZE
#define CALLS_PER_THREAD 20

static const size_t in_shape[] = SEPC_MOBILENET_V1_BLOCK_IN_0_SHAPE;
static const size_t out_shape[] = SEPC_MOBILENET_V1_BLOCK_OUT_0_SHAPE;

struct worker {
    pthread_t thread;
    const float *input, *expected;
    int threads, mismatches;
};

static void *run_worker(void *arg) {
    struct worker *w = arg;
    float *out = malloc(OUT_SIZE * sizeof(float));
    if (!out) {
        w->mismatches = -1;
        return NULL;
    }
    sepc_mobilenet_v1_block_set_threads(w->threads);
    for (int call = 0; call < CALLS_PER_THREAD; call++) {
        memset(out, 0xff, OUT_SIZE * sizeof(float));   /* NaNs: a missed write shows */
        MODEL(w->input, out);
        if (memcmp(out, w->expected, OUT_SIZE * sizeof(float)) != 0) w->mismatches++;
    }
    free(out);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s INPUT.npy OUTPUT.npy [--threads N] [--concurrent K]\n", argv[0]);
        return 2;
    }
    int threads = 1, concurrent = 0;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--concurrent") == 0) concurrent = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[i]);
            return 2;
        }
    }
    char error[512];
    size_t shape[SEPC_NPY_MAX_RANK];
    int rank;
    float *input = sepc_npy_read(argv[1], shape, &rank, error, sizeof error);
    if (!input) {
        fprintf(stderr, "%s\n", error);
        return 2;
    }
    int rank_ok = rank == SEPC_MOBILENET_V1_BLOCK_IN_0_RANK;
    for (int i = 0; rank_ok && i < rank; i++) rank_ok = shape[i] == in_shape[i];
    if (!rank_ok) {
        fprintf(stderr, "%s: expected a float32 array of shape (%zu, %zu, %zu, %zu)\n", argv[1],
                in_shape[0], in_shape[1], in_shape[2], in_shape[3]);
        return 2;
    }
    float *output = malloc(OUT_SIZE * sizeof(float));
    if (!output) return 1;
    sepc_mobilenet_v1_block_set_threads(threads);
    MODEL(input, output);

    if (concurrent > 0) {
        struct worker *workers = calloc((size_t)concurrent, sizeof *workers);
        for (int i = 0; i < concurrent; i++) {
            workers[i] = (struct worker){.input = input, .expected = output, .threads = threads};
            if (pthread_create(&workers[i].thread, NULL, run_worker, &workers[i]) != 0) return 1;
        }
        int bad = 0;
        for (int i = 0; i < concurrent; i++) {
            pthread_join(workers[i].thread, NULL);
            bad += workers[i].mismatches != 0;
        }
        free(workers);
        printf("%d threads x %d concurrent calls: %s\n", concurrent, CALLS_PER_THREAD,
               bad ? "MISMATCH" : "all equal to the single call");
        if (bad) return 1;
    }
    if (sepc_npy_write(argv[2], output, out_shape, SEPC_MOBILENET_V1_BLOCK_OUT_0_RANK,
                       error, sizeof error) != 0) {
        fprintf(stderr, "%s\n", error);
        return 1;
    }
    free(input);
    free(output);
    return 0;
}
