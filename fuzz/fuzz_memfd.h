/* fuzz_memfd.h - a fuzz input as a file: the readers under test take paths
 * (or descriptors), as the programs give them files on disk. */
#ifndef FUZZ_MEMFD_H
#define FUZZ_MEMFD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* data[0..size) in a new memory file, read position at its start; its
 * /proc/self/fd path into path. Returns the descriptor (close it). */
static inline int fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t cap)
{
	int fd = memfd_create("fuzz", 0);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size) || lseek(fd, 0, SEEK_SET) != 0)
		abort();
	snprintf(path, cap, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
