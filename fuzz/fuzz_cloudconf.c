/*
 * libFuzzer target for the cloud configuration file. The input is written
 * to a private file and loaded. Besides the sanitizers, the invariants of
 * the API are checked: an error starts with the file name (and a line
 * number when it has one) and leaves no publish array; a success leaves
 * every value inside its documented range and every listener with a port.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cloudconf.h"
#include "error.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char	 path[64];

static void
remove_file(void)
{
	unlink(path);
}

static void
check_ok(const struct cloud_config *cfg)
{
	size_t	 i;

	if (cfg->listen.port == 0 || cfg->http_listen.port == 0 ||
	    cfg->ingress_listen.port == 0 || cfg->data_dir[0] == '\0' ||
	    cfg->cert_lifetime < 3600 || cfg->cert_lifetime > 365 * 86400 ||
	    cfg->streams_per_tunnel < 1 || cfg->streams_per_tunnel > 100000 ||
	    cfg->stream_buffer < 16384 || cfg->stream_buffer > 16777216 ||
	    cfg->header_bytes < 1024 || cfg->header_bytes > 65536 ||
	    cfg->pending_connects < 1 || cfg->pending_connects > 100000 ||
	    cfg->log_level < LOG_LEVEL_WARN || cfg->log_level > LOG_LEVEL_DEBUG ||
	    (cfg->cert[0] == '\0') != (cfg->key[0] == '\0'))
		abort();
	if ((cfg->npublish == 0) != (cfg->publish == NULL))
		abort();
	for (i = 0; i < cfg->npublish; i++)
		if (cfg->publish[i].name[0] == '\0' ||
		    cfg->publish[i].site[0] == '\0' ||
		    cfg->publish[i].listen.port == 0 ||
		    cfg->publish[i].target.port == 0 ||
		    cfg->publish[i].line < 1)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cloud_config	 cfg;
	char			 err[1024];
	FILE			*fp;
	int			 fd, rc;

	if (path[0] == '\0') {
		snprintf(path, sizeof(path), "/tmp/fuzz_cloudconf.XXXXXX");
		fd = mkstemp(path);
		if (fd == -1)
			abort();
		close(fd);
		atexit(remove_file);
	}
	fp = fopen(path, "w");
	if (fp == NULL || fwrite(data, 1, size, fp) != size || fclose(fp) != 0)
		abort();
	err[0] = '\0';
	rc = cloudconf_load(path, &cfg, err, sizeof(err));
	if (rc == UPLINK_OK)
		check_ok(&cfg);
	else if ((rc != UPLINK_ECONFIG && rc != UPLINK_ENOMEM) ||
	    strncmp(err, path, strlen(path)) != 0 ||
	    err[strlen(path)] != ':' || cfg.publish != NULL ||
	    cfg.npublish != 0)
		abort();
	cloudconf_free(&cfg);
	return 0;
}
