#ifndef UPLINK_UNITTEST_H
#define UPLINK_UNITTEST_H

/*
 * UNITTEST marks a helper that is private to its file in normal builds but
 * visible to the unit tests, which link a copy of the library built with
 * -DUPLINK_UNITTEST (curl's habit).
 */
#ifdef UPLINK_UNITTEST
#define UNITTEST
#else
#define UNITTEST static
#endif

#endif
