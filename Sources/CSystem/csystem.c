#define _GNU_SOURCE
#include "csystem.h"

#include <errno.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

ssize_t rankwise_copy_file_range(int input, int64_t *input_offset, int output, int64_t *output_offset,
                                 size_t length, unsigned int flags) {
#if defined(__linux__) && defined(__GLIBC__)
    return copy_file_range(input, (off64_t *)input_offset, output, (off64_t *)output_offset, length, flags);
#else
    (void)input; (void)input_offset; (void)output; (void)output_offset; (void)length; (void)flags;
    errno = ENOSYS;
    return -1;
#endif
}

int rankwise_keep_heap(int max_mmaps, int trim_threshold) {
#if defined(__GLIBC__)
    return mallopt(M_MMAP_MAX, max_mmaps) == 1 && mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1;
#else
    (void)max_mmaps; (void)trim_threshold;
    return 0;
#endif
}
