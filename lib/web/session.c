#include "session.h"

/*
 * The session policy in one place, so that the daemon, the console's
 * figures (idle_expires_at, absolute_expires_at) and the tests agree.
 */

void
session_expiry(int64_t created, int64_t last_active, int idle_minutes,
    int64_t *idle_at, int64_t *absolute_at)
{
	if (idle_minutes == 0) {
		*idle_at = 0;
		*absolute_at = created + SESSION_ABSOLUTE_DISABLED;
		return;
	}
	*absolute_at = created + SESSION_ABSOLUTE_ENABLED;
	*idle_at = last_active + (int64_t)idle_minutes * 60;
	if (*idle_at > *absolute_at)
		*idle_at = *absolute_at;
}

enum session_end
session_state(int64_t created, int64_t last_active, int idle_minutes,
    int64_t now)
{
	int64_t	 idle_at, absolute_at;

	session_expiry(created, last_active, idle_minutes, &idle_at,
	    &absolute_at);
	if (now >= absolute_at)
		return SESSION_EXPIRED_ABSOLUTE;
	if (idle_at != 0 && now >= idle_at)
		return SESSION_EXPIRED_IDLE;
	return SESSION_LIVE;
}

bool
session_idle_valid(int64_t minutes)
{
	return minutes == 0 || (minutes >= SESSION_IDLE_MIN &&
	    minutes <= SESSION_IDLE_MAX);
}
