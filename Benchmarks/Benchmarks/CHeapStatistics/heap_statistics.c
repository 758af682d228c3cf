#include "heap_statistics.h"

#include <malloc.h>

size_t heap_bytes_in_use(void) {
    malloc_trim(0);
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}
