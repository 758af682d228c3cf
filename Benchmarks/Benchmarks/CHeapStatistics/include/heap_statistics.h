#ifndef HEAP_STATISTICS_H
#define HEAP_STATISTICS_H

#include <stddef.h>

/// Bytes glibc's allocator has handed out and not had back (small blocks
/// plus mmapped ones), after returning free memory to the system.
size_t heap_bytes_in_use(void);

#endif
