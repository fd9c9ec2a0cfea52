#include <stdio.h>
#include <string.h>

#include "connector.h"
#include "error.h"

int
settings_load(struct connector_config *cfg, const char *config_path,
    const char *proxy_flag, const char *bypass_flag)
{
	char	 err[1024];

	if (config_path != NULL) {
		if (config_load(config_path, cfg, err, sizeof(err)) != UPLINK_OK) {
			fprintf(stderr, "uplink-connector: %s\n", err);
			return EXIT_USAGE;
		}
	} else {
		memset(cfg, 0, sizeof(*cfg));
		route_table_init(&cfg->routes);
		if (route_table_from_env(&cfg->routes, err, sizeof(err)) !=
		    UPLINK_OK) {
			fprintf(stderr, "uplink-connector: %s\n", err);
			return EXIT_USAGE;
		}
	}
	if (proxy_flag != NULL) {
		if (route_table_set_proxy(&cfg->routes, proxy_flag, err,
		    sizeof(err)) != UPLINK_OK) {
			fprintf(stderr, "uplink-connector: --proxy: %s\n", err);
			config_free(cfg);
			return EXIT_USAGE;
		}
		snprintf(cfg->routes.source, sizeof(cfg->routes.source),
		    "--proxy");
	}
	if (bypass_flag != NULL && route_table_set_bypass(&cfg->routes,
	    bypass_flag, 0, err, sizeof(err)) != UPLINK_OK) {
		fprintf(stderr, "uplink-connector: --bypass: %s\n", err);
		config_free(cfg);
		return EXIT_USAGE;
	}
	return 0;
}
