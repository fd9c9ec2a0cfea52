/* The JSON catalog of required addresses, which the cloud also serves. */
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct catalog	 c = { 0 };
	char		 err[512];

	catalog_load_json(&c, (const char *)data, size, "fuzz", err,
	    sizeof(err));
	catalog_free(&c);
	return 0;
}
