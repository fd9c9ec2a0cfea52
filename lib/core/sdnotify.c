#include <stdio.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "sdnotify.h"

/*
 * A thin layer over libsystemd's sd_notify(): it remembers the last
 * STATUS= so that callers may report on every change of state without
 * sending the same line twice, and it adds the MONOTONIC_USEC= that
 * systemd (since 253) wants next to RELOADING=1.
 */

static char	last_status[256];

void
sdnotify_status(const char *status)
{
	char	 msg[300];

	if (strcmp(status, last_status) == 0)
		return;
	snprintf(last_status, sizeof(last_status), "%s", status);
	snprintf(msg, sizeof(msg), "STATUS=%s", status);
	(void)sd_notify(0, msg);
}

void
sdnotify_ready(const char *status)
{
	char	 msg[300];

	snprintf(last_status, sizeof(last_status), "%s", status);
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	(void)sd_notify(0, msg);
}

void
sdnotify_reloading(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
}

void
sdnotify_reloaded(void)
{
	(void)sd_notify(0, "READY=1");
}

void
sdnotify_stopping(void)
{
	(void)sd_notify(0, "STOPPING=1");
}
