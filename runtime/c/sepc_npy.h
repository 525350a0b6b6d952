/* sepc_npy: read and write float32 NumPy .npy files (format 1.0/2.0, little-endian '<f4',
 * C order), so that C applications can exchange tensors with Python tools.
 * Part of sepc's C runtime pieces; no dependency beyond the C library. */
#ifndef SEPC_NPY_H
#define SEPC_NPY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SEPC_NPY_MAX_RANK 8

/* Reads `path` into a newly malloc'ed buffer (free it with free()). On success returns
 * the buffer and fills shape[0..*rank-1]; on failure returns NULL and writes a one-line
 * reason (naming the file) into error[0..error_size-1]. */
float *sepc_npy_read(const char *path, size_t shape[SEPC_NPY_MAX_RANK], int *rank,
                     char *error, size_t error_size);

/* Writes `data` with the given shape to `path`. Returns 0, or -1 with a reason in error. */
int sepc_npy_write(const char *path, const float *data, const size_t *shape, int rank,
                   char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif /* SEPC_NPY_H */
