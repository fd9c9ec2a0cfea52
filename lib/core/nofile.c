#include <sys/resource.h>

#include "log.h"
#include "nofile.h"

unsigned
nofile_raise(void)
{
	struct rlimit	 rl;
	rlim_t		 want;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	want = rl.rlim_max;
	if (want == RLIM_INFINITY || want > (rlim_t)NOFILE_MAX)
		want = (rlim_t)NOFILE_MAX;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
		return rl.rlim_cur == RLIM_INFINITY ||
		    rl.rlim_cur > (rlim_t)NOFILE_MAX ? NOFILE_MAX :
		    (unsigned)rl.rlim_cur;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warn("cannot raise the descriptor limit to %llu",
		    (unsigned long long)want);
		if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return 0;
	}
	return rl.rlim_cur > (rlim_t)NOFILE_MAX ? NOFILE_MAX :
	    (unsigned)rl.rlim_cur;
}
