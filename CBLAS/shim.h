// The CBLAS system-library module: OpenBLAS's CBLAS interface and LAPACKE.
//
// Swift cannot import C99 `_Complex` types, so without these macros every
// routine with a complex argument would silently drop out of the module.
// Both headers allow a struct representation instead; we pick it here so the
// whole interface imports. Rankwise itself calls only the real routines.
#ifndef RANKWISE_CBLAS_SHIM_H
#define RANKWISE_CBLAS_SHIM_H

#define FORCE_OPENBLAS_COMPLEX_STRUCT 1

typedef struct { float real, imag; } rankwise_complex_float;
typedef struct { double real, imag; } rankwise_complex_double;
#define LAPACK_COMPLEX_CUSTOM 1
#define lapack_complex_float rankwise_complex_float
#define lapack_complex_double rankwise_complex_double

#include <cblas.h>
#include <lapacke.h>

#endif
