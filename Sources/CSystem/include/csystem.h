// Declarations of the two Linux calls Rankwise needs that Swift's Glibc
// module leaves out (they need _GNU_SOURCE or malloc.h): thin wrappers,
// defined in csystem.c.
#ifndef RANKWISE_CSYSTEM_H
#define RANKWISE_CSYSTEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// copy_file_range(2): copies `length` bytes from `input` to `output` in the
/// kernel (a reflink where the file system shares extents). Offsets may be
/// NULL (then the file position is used and advanced). Returns the bytes
/// copied, 0 at end of input, or -1 with errno set (ENOSYS, EXDEV, EINVAL
/// where unsupported: the caller falls back to read/write).
ssize_t rankwise_copy_file_range(int input, int64_t *input_offset, int output, int64_t *output_offset,
                                 size_t length, unsigned int flags);

/// mallopt(3) with glibc's M_MMAP_MAX and M_TRIM_THRESHOLD: serve every
/// block from the heap (`max_mmaps` = 0) and keep freed memory up to
/// `trim_threshold` bytes. Returns 1 when both settings took, 0 otherwise
/// (or where the C library has no mallopt).
int rankwise_keep_heap(int max_mmaps, int trim_threshold);

#endif
