#ifndef UPLINK_CONNECTOR_LAUNCHER_H
#define UPLINK_CONNECTOR_LAUNCHER_H

#include <stddef.h>

#include "tunnel.h"

/*
 * The launcher (docs/install.md, docs/updates.md): "uplink-connector
 * launch" is the service's main process. It runs STATE/versions/current
 * (or, without one, the installed binary itself) as "run", switches to a
 * version the service staged (STATE/versions/next) when that exits with
 * LAUNCHER_EXIT_SWITCH, and holds a newly switched-to version to a health
 * gate: it must report its tunnels up and a passing connectivity check
 * within [update] health_gate, or the launcher stops it, switches back to
 * the previous version and records why in STATE/rollback.json, which the
 * connector then reports to the cloud in its GET /v1/info answer.
 *
 * The other functions are the service's side: a process started by the
 * launcher finds its state directory and the pipe to the launcher in its
 * environment (UPLINK_STATE_DIR, UPLINK_LAUNCHER_FD).
 */

#define LAUNCHER_EXIT_SWITCH	75	/* "a new version is staged: switch" */

struct service;

/* The launcher itself. */
int cmd_launch(int argc, char **argv);

/* The state directory when run by the launcher, else NULL. */
const char *launcher_state_dir(void);

/* Tells the launcher the health gate passed (once; no-op if not launched). */
void launcher_healthy(void);

/*
 * Appends to the /v1/info JSON object text (without its closing brace)
 * what the cloud's rollout needs: ,"arch","channel","launched" and the
 * last "rollback" record when there is one.
 */
void launcher_info(const struct service *svc, char *buf, size_t len);

/* GET /v1/update?version=V from the cloud: download, stage, switch. */
void launcher_update_get(struct service *svc, struct tunnel_stream *s,
    const char *path);

/* cmd_run's exit status: LAUNCHER_EXIT_SWITCH after a staged update. */
int launcher_exit_status(int rc);

#endif
