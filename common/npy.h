/* npy.h - NumPy .npy files (format version 1.0/2.0/3.0), read and write.
 *
 * Layout, byte by byte:
 *   0..5   "\x93NUMPY"
 *   6,7    major, minor version (1.0: 2-byte LE header length; 2.0/3.0: 4-byte)
 *   8..    header length HL, then HL bytes of a Python dict literal, e.g.
 *          {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 *          padded with spaces and ending in '\n' so data starts 64-aligned
 *   then   the array data, C order, or Fortran order when fortran_order is
 *          True (read into C order here).
 */
#ifndef COMMON_NPY_H
#define COMMON_NPY_H

#include "tensor.h"

/* Write a C-order tensor; returns 0, or -1 with errno. */
int npy_write(const char *path, dtype_t dtype, int ndim, const int64_t *shape, const void *data);

/* Read a whole .npy file. On success *t views *owned (free it). On failure
 * returns -1 with a message in err. Accepts u1 f2 f4 f8 i4 i8, little- or
 * big-endian (swapped to this machine's little-endian), C or Fortran order. */
int npy_read(const char *path, tensor_t *t, void **owned, char *err, size_t errcap);

#endif
