/* sepc_harness: runs a sepc library built for another architecture (under qemu).
 *
 *   sepc_harness LIBRARY ENTRY N_INPUTS N_OUTPUTS FILE:BYTES...
 *
 * Inputs are raw float32 files, read in model order; outputs are written to their files
 * after the single call. The entry point takes one pointer per tensor (docs/abi.md), so the
 * call goes through a switch on the pointer count: C has no portable way to build a call
 * with a count known only at run time.
 *
 * Prints "sve_vl_bits=N" (0 without SVE) on stdout so the caller can check that the
 * emulator ran at the vector length it asked for.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#ifndef PR_SVE_GET_VL
#define PR_SVE_GET_VL 51
#endif
#define MAX_TENSORS 32

static int fail(const char *what, const char *detail) {
    fprintf(stderr, "sepc_harness: %s: %s\n", what, detail);
    return 1;
}

static int call(void *entry, int n, void **b) {
    switch (n) {
    case 1: ((void (*)(void *))entry)(b[0]); return 0;
    case 2: ((void (*)(void *, void *))entry)(b[0], b[1]); return 0;
    case 3: ((void (*)(void *, void *, void *))entry)(b[0], b[1], b[2]); return 0;
    case 4: ((void (*)(void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3]); return 0;
    case 5: ((void (*)(void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4]); return 0;
    case 6: ((void (*)(void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5]); return 0;
    case 7: ((void (*)(void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6]); return 0;
    case 8: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]); return 0;
    case 9: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8]); return 0;
    case 10: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9]); return 0;
    case 11: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10]); return 0;
    case 12: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11]); return 0;
    case 13: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12]); return 0;
    case 14: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13]); return 0;
    case 15: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14]); return 0;
    case 16: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]); return 0;
    case 17: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16]); return 0;
    case 18: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17]); return 0;
    case 19: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17], b[18]); return 0;
    case 20: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19]); return 0;
    case 21: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19], b[20]); return 0;
    case 22: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19], b[20], b[21]); return 0;
    case 23: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19], b[20], b[21], b[22]); return 0;
    case 24: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19], b[20], b[21], b[22], b[23]); return 0;
    case 25: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19], b[20], b[21], b[22], b[23], b[24]); return 0;
    case 26: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19], b[20], b[21], b[22], b[23], b[24], b[25]); return 0;
    case 27: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19], b[20], b[21], b[22], b[23], b[24], b[25], b[26]); return 0;
    case 28: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19], b[20], b[21], b[22], b[23], b[24], b[25], b[26], b[27]); return 0;
    case 29: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19], b[20], b[21], b[22], b[23], b[24], b[25], b[26], b[27], b[28]); return 0;
    case 30: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19], b[20], b[21], b[22], b[23], b[24], b[25], b[26], b[27], b[28], b[29]); return 0;
    case 31: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19], b[20], b[21], b[22], b[23], b[24], b[25], b[26], b[27], b[28], b[29], b[30]); return 0;
    case 32: ((void (*)(void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *, void *))entry)(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19], b[20], b[21], b[22], b[23], b[24], b[25], b[26], b[27], b[28], b[29], b[30], b[31]); return 0;
    default: return -1;
    }
}

static int sve_vl_bits(void) {
    int vl = prctl(PR_SVE_GET_VL);
    return vl < 0 ? 0 : (vl & 0xffff) * 8;
}

int main(int argc, char **argv) {
    if (argc < 5) return fail("usage", "LIBRARY ENTRY N_INPUTS N_OUTPUTS FILE:BYTES...");
    int n_in = atoi(argv[3]), n_out = atoi(argv[4]), n = n_in + n_out;
    if (n < 1 || n > MAX_TENSORS || argc != 5 + n) return fail("usage", "wrong tensor count");
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) return fail("dlopen", dlerror());
    void *entry = dlsym(lib, argv[2]);
    if (!entry) return fail("dlsym", dlerror());
    void *buffers[MAX_TENSORS];
    char *paths[MAX_TENSORS];
    size_t sizes[MAX_TENSORS];
    for (int i = 0; i < n; i++) {
        paths[i] = argv[5 + i];
        char *colon = strrchr(paths[i], ':');
        if (!colon) return fail("argument without :BYTES", paths[i]);
        *colon = '\0';
        sizes[i] = strtoull(colon + 1, NULL, 10);
        buffers[i] = aligned_alloc(64, (sizes[i] + 63) / 64 * 64);
        if (!buffers[i]) return fail("out of memory", paths[i]);
        if (i < n_in) {
            FILE *f = fopen(paths[i], "rb");
            if (!f || fread(buffers[i], 1, sizes[i], f) != sizes[i]) return fail("cannot read", paths[i]);
            fclose(f);
        }
    }
    if (call(entry, n, buffers) != 0) return fail("call", "too many tensors");
    for (int i = n_in; i < n; i++) {
        FILE *f = fopen(paths[i], "wb");
        if (!f || fwrite(buffers[i], 1, sizes[i], f) != sizes[i]) return fail("cannot write", paths[i]);
        fclose(f);
    }
    printf("sve_vl_bits=%d\n", sve_vl_bits());
    return 0;
}
