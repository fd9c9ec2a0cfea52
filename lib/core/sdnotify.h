#ifndef UPLINK_SDNOTIFY_H
#define UPLINK_SDNOTIFY_H

/*
 * Telling systemd how a Type=notify service is doing (sd_notify(3)).
 * Every function does nothing when the process was not started by systemd
 * (no NOTIFY_SOCKET), so the daemons call them unconditionally.
 */

/* READY=1 once, and the first STATUS= line. */
void sdnotify_ready(const char *status);
/* STATUS=..., only when it differs from the last one sent. */
void sdnotify_status(const char *status);
/* RELOADING=1 before a SIGHUP reload, READY=1 after it. */
void sdnotify_reloading(void);
void sdnotify_reloaded(void);
/* STOPPING=1 when a drain begins. */
void sdnotify_stopping(void);

#endif
