/*
 * addrcount: connections per source address, a chained hash keyed by the
 * address (SipHash with a per-table random key from libsodium, so chains
 * stay short whatever addresses a peer picks). Entries are freed when their
 * count drops to zero; the bucket array doubles above one entry per bucket
 * and halves below one per eight, never under ADDRCOUNT_MIN_BUCKETS.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "addrcount.h"
#include "unittest.h"
#include "xmalloc.h"

#define ADDRCOUNT_MIN_BUCKETS	64

/* The part of an address that is counted: family tag and leading bytes. */
struct ac_key {
	uint8_t		fam;		/* 4, 6, or 0 for any other family */
	uint8_t		b[8];		/* IPv4 in b[0..3], an IPv6 /64 in b[0..7] */
};

struct ac_entry {
	struct ac_entry	*next;
	struct ac_key	 key;
	unsigned	 count;
};

struct addrcount {
	struct ac_entry	**buckets;
	unsigned	  nbuckets;	/* a power of two */
	unsigned	  nentries;
	unsigned	  total;
	unsigned	  per_addr_max;
	unsigned	  total_max;
	unsigned char	  hkey[crypto_shorthash_KEYBYTES];
};

static void
ac_key_of(const struct sockaddr *sa, struct ac_key *k)
{
	static const uint8_t mapped[12] =
	    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(k, 0, sizeof(*k));
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		k->fam = 4;
		memcpy(k->b, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		const uint8_t *a = sin6->sin6_addr.s6_addr;

		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			k->fam = 4;
			memcpy(k->b, a + 12, 4);
		} else {
			k->fam = 6;
			memcpy(k->b, a, 8);
		}
	}
}

static unsigned
ac_hash(const struct addrcount *ac, const struct ac_key *k)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t h;

	crypto_shorthash(out, (const unsigned char *)k, sizeof(*k), ac->hkey);
	memcpy(&h, out, sizeof(h));
	return (unsigned)(h & (ac->nbuckets - 1));
}

static struct ac_entry **
ac_find(const struct addrcount *ac, const struct ac_key *k)
{
	struct ac_entry **pp = &ac->buckets[ac_hash(ac, k)];

	while (*pp != NULL && memcmp(&(*pp)->key, k, sizeof(*k)) != 0)
		pp = &(*pp)->next;
	return pp;
}

/* Moves every entry into a bucket array of n buckets. */
static void
ac_rehash(struct addrcount *ac, unsigned n)
{
	struct ac_entry **old = ac->buckets, *e, *next;
	unsigned oldn = ac->nbuckets, i, h;

	ac->buckets = xcalloc(n, sizeof(*ac->buckets));
	ac->nbuckets = n;
	for (i = 0; i < oldn; i++) {
		for (e = old[i]; e != NULL; e = next) {
			next = e->next;
			h = ac_hash(ac, &e->key);
			e->next = ac->buckets[h];
			ac->buckets[h] = e;
		}
	}
	free(old);
}

struct addrcount *
addrcount_new(unsigned per_addr_max, unsigned total_max)
{
	struct addrcount *ac = xcalloc(1, sizeof(*ac));

	ac->per_addr_max = per_addr_max;
	ac->total_max = total_max;
	ac->nbuckets = ADDRCOUNT_MIN_BUCKETS;
	ac->buckets = xcalloc(ac->nbuckets, sizeof(*ac->buckets));
	/* randombytes_buf() needs no sodium_init() and cannot fail. */
	randombytes_buf(ac->hkey, sizeof(ac->hkey));
	return ac;
}

void
addrcount_free(struct addrcount *ac)
{
	struct ac_entry *e, *next;
	unsigned i;

	if (ac == NULL)
		return;
	for (i = 0; i < ac->nbuckets; i++) {
		for (e = ac->buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(ac->buckets);
	free(ac);
}

int
addrcount_take(struct addrcount *ac, const struct sockaddr *sa)
{
	struct ac_key k;
	struct ac_entry **pp, *e;

	if (ac->total_max != 0 && ac->total >= ac->total_max)
		return -1;
	ac_key_of(sa, &k);
	pp = ac_find(ac, &k);
	if (*pp != NULL) {
		if (ac->per_addr_max != 0 && (*pp)->count >= ac->per_addr_max)
			return -1;
		(*pp)->count++;
		ac->total++;
		return 0;
	}
	e = xcalloc(1, sizeof(*e));
	e->key = k;
	e->count = 1;
	e->next = *pp;
	*pp = e;
	ac->nentries++;
	ac->total++;
	if (ac->nentries > ac->nbuckets && ac->nbuckets < (1u << 30))
		ac_rehash(ac, ac->nbuckets * 2);
	return 0;
}

void
addrcount_release(struct addrcount *ac, const struct sockaddr *sa)
{
	struct ac_key k;
	struct ac_entry **pp, *e;

	ac_key_of(sa, &k);
	pp = ac_find(ac, &k);
	e = *pp;
	if (e == NULL)
		return;
	ac->total--;
	if (--e->count > 0)
		return;
	*pp = e->next;
	free(e);
	ac->nentries--;
	if (ac->nbuckets > ADDRCOUNT_MIN_BUCKETS &&
	    ac->nentries < ac->nbuckets / 8)
		ac_rehash(ac, ac->nbuckets / 2);
}

unsigned
addrcount_get(const struct addrcount *ac, const struct sockaddr *sa)
{
	struct ac_key k;
	struct ac_entry **pp;

	ac_key_of(sa, &k);
	pp = ac_find(ac, &k);
	return *pp != NULL ? (*pp)->count : 0;
}

unsigned
addrcount_total(const struct addrcount *ac)
{
	return ac->total;
}

#ifdef UPLINK_UNITTEST
unsigned
addrcount_buckets(const struct addrcount *ac)
{
	return ac->nbuckets;
}
#endif

UNITTEST bool
log_rate_allow_at(struct log_rate *lr, unsigned burst, int64_t interval_ms,
    int64_t now_ms, unsigned *suppressed)
{
	/* A new window starts at the first line after the last one ended. */
	if (now_ms - lr->start_ms >= interval_ms || now_ms < lr->start_ms) {
		lr->start_ms = now_ms;
		lr->n = 0;
	}
	if (lr->n < burst) {
		lr->n++;
		*suppressed = lr->suppressed;
		lr->suppressed = 0;
		return true;
	}
	if (lr->suppressed < UINT32_MAX)
		lr->suppressed++;
	*suppressed = 0;
	return false;
}

bool
log_rate_allow(struct log_rate *lr, unsigned burst, int64_t interval_ms,
    unsigned *suppressed)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return log_rate_allow_at(lr, burst, interval_ms,
	    (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, suppressed);
}
