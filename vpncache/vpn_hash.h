/* SipHash-2-4 (Aumasson & Bernstein, 2012) with a per-table random key, so
 * that NAIs and session IDs chosen by a remote party cannot flood one bucket.
 * Internal to vpncache. */
#ifndef VPN_HASH_H
#define VPN_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t vpn_siphash(const uint8_t key[16], const void *data, size_t len);

#endif
