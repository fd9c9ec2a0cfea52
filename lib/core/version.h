#ifndef UPLINK_VERSION_H
#define UPLINK_VERSION_H

/* The release; bumped by hand when one is cut. */
#define UPLINK_VERSION	"0.1.0"

#endif
