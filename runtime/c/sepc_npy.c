/* sepc_npy.c: see sepc_npy.h. The header dictionary is parsed just enough for what NumPy
 * writes for a float32 array: 'descr', 'fortran_order' and 'shape'. */
#include "sepc_npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char MAGIC[] = "\x93NUMPY";

static void fail(char *error, size_t size, const char *path, const char *what) {
    if (error && size) snprintf(error, size, "%s: %s", path, what);
}

static size_t element_count(const size_t *shape, int rank) {
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    return n;
}

static int parse_shape(const char *header, size_t shape[SEPC_NPY_MAX_RANK], int *rank) {
    const char *p = strstr(header, "'shape'");
    if (!p || !(p = strchr(p, '('))) return -1;
    p++;
    *rank = 0;
    while (*p && *p != ')') {
        char *end;
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || *rank == SEPC_NPY_MAX_RANK) return -1;
        shape[(*rank)++] = (size_t)v;
        p = end;
    }
    return *p == ')' ? 0 : -1;
}

float *sepc_npy_read(const char *path, size_t shape[SEPC_NPY_MAX_RANK], int *rank,
                     char *error, size_t error_size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(error, error_size, path, strerror(errno));
        return NULL;
    }
    unsigned char lead[10];
    float *data = NULL;
    char *header = NULL;
    if (fread(lead, 1, 8, f) != 8 || memcmp(lead, MAGIC, 6) != 0) {
        fail(error, error_size, path, "not a .npy file");
        goto done;
    }
    size_t header_len;
    if (lead[6] == 1) {
        if (fread(lead + 8, 1, 2, f) != 2) goto truncated;
        header_len = lead[8] | (size_t)lead[9] << 8;
    } else if (lead[6] == 2 || lead[6] == 3) {
        unsigned char len[4];
        if (fread(len, 1, 4, f) != 4) goto truncated;
        header_len = len[0] | (size_t)len[1] << 8 | (size_t)len[2] << 16 | (size_t)len[3] << 24;
    } else {
        fail(error, error_size, path, "unsupported .npy format version");
        goto done;
    }
    header = malloc(header_len + 1);
    if (!header || fread(header, 1, header_len, f) != header_len) goto truncated;
    header[header_len] = '\0';
    if (!strstr(header, "'<f4'")) {
        fail(error, error_size, path, "expected dtype float32 ('<f4')");
        goto done;
    }
    if (strstr(header, "'fortran_order': True")) {
        fail(error, error_size, path, "expected C order, got Fortran order");
        goto done;
    }
    if (parse_shape(header, shape, rank) != 0) {
        fail(error, error_size, path, "cannot read the shape in the header");
        goto done;
    }
    size_t n = element_count(shape, *rank);
    data = malloc(n ? n * sizeof(float) : 1);
    if (!data || fread(data, sizeof(float), n, f) != n) {
        free(data);
        data = NULL;
        goto truncated;
    }
    goto done;
truncated:
    fail(error, error_size, path, "truncated file");
done:
    free(header);
    fclose(f);
    return data;
}

int sepc_npy_write(const char *path, const float *data, const size_t *shape, int rank,
                   char *error, size_t error_size) {
    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < rank; i++)
        len += snprintf(dict + len, sizeof dict - len, "%zu%s", shape[i],
                        rank == 1 ? "," : (i + 1 < rank ? ", " : ""));
    len += snprintf(dict + len, sizeof dict - len, "), }");
    /* magic (6) + version (2) + length (2) + dict + padding spaces + '\n', a multiple of 64 */
    size_t total = (size_t)(10 + len + 1 + 63) / 64 * 64;
    size_t header_len = total - 10;
    FILE *f = fopen(path, "wb");
    if (!f) {
        fail(error, error_size, path, strerror(errno));
        return -1;
    }
    unsigned char lead[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                              (unsigned char)(header_len & 0xff), (unsigned char)(header_len >> 8)};
    int ok = fwrite(lead, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)len, f) == (size_t)len;
    for (size_t i = (size_t)len; ok && i < header_len - 1; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    size_t n = element_count(shape, rank);
    ok = ok && fwrite(data, sizeof(float), n, f) == n;
    if (fclose(f) != 0) ok = 0;
    if (!ok) {
        fail(error, error_size, path, "cannot write");
        return -1;
    }
    return 0;
}
