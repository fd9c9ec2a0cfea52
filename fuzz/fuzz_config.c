/* The connector's INI configuration, through inih and uplink's handler. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct connector_config	 cfg;
	char			 path[64], err[1024];
	int			 fd;

	fd = memfd_create("fuzz.conf", 0);
	if (fd == -1)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (config_load(path, &cfg, err, sizeof(err)) == 0)
			config_free(&cfg);
	}
	close(fd);
	return 0;
}
