#ifndef UPLINK_SESSION_H
#define UPLINK_SESSION_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The console's session policy (docs/console.md), after the source
 * documents: the account setting "console inactivity timeout" is disabled
 * by default; enabled, it is 10 minutes to 12 hours (offered at 60).
 * Disabled, a session ends 72 hours after sign-in and has no inactivity
 * timer; enabled, it ends after that many minutes without console
 * activity, and at most 24 hours after sign-in. Pure functions: the
 * caller keeps the times.
 */

#define SESSION_ABSOLUTE_DISABLED	(72 * 3600)
#define SESSION_ABSOLUTE_ENABLED	(24 * 3600)
#define SESSION_IDLE_MIN		10
#define SESSION_IDLE_MAX		720
#define SESSION_IDLE_OFFERED		60

/* Why a session is over, or SESSION_LIVE. */
enum session_end {
	SESSION_LIVE,
	SESSION_EXPIRED_IDLE,
	SESSION_EXPIRED_ABSOLUTE,
};

/*
 * When a session created at created and last active at last_active ends:
 * *idle_at by inactivity (0 when idle_minutes is 0, i.e. disabled; never
 * later than the absolute end) and *absolute_at at the latest.
 */
void session_expiry(int64_t created, int64_t last_active, int idle_minutes,
    int64_t *idle_at, int64_t *absolute_at);

/* Whether the session is over at now, and why. */
enum session_end session_state(int64_t created, int64_t last_active,
    int idle_minutes, int64_t now);

/* An inactivity timeout the setting accepts: 0 (off) or 10..720. */
bool session_idle_valid(int64_t minutes);

#endif
