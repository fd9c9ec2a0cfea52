/*
 * Every small string parser an administrator or a peer feeds: proxy URLs,
 * --resolve specs, http:// URLs of CRL distribution points, HOST:PORT.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dial.h"
#include "error.h"
#include "httpget.h"
#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_url	 pu;
	struct resolve_map	 m = { 0 };
	struct hostport		 hp;
	char			*s, why[512], path[256];

	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	proxy_url_parse(s, &pu, why, sizeof(why));
	if (resolve_map_add(&m, s, why, sizeof(why)) == UPLINK_OK)
		(void)resolve_map_lookup(&m, m.v[0].host, m.v[0].port);
	resolve_map_free(&m);
	httpget_parse_url(s, &hp, path, sizeof(path), why, sizeof(why));
	hostport_parse(s, 443, &hp, why, sizeof(why));
	free(s);
	return 0;
}
