// Early writeback for AtomicFile's sink (WeightFormats). Not a compute kernel, but the one system call Swift's
// Glibc module does not export: sync_file_range needs _GNU_SOURCE.
#define _GNU_SOURCE
#include <fcntl.h>
#include "CKernels.h"

int wl_start_writeback(int fd, long long offset, long long length) {
#ifdef __linux__
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)length;
    return 0;
#endif
}
