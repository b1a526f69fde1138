/*
 * Path decision of the AAAH (seed [0039]-[0041], Fig. 13): from the user's
 * VPN database profiles, the FA address (the AMR's origin, S109), the HA
 * address and the CN-GW table (S110), the profiles each node gets.
 *
 * For each database profile, the CN-GW entry covering its destination gives:
 *  - gateway static (S113, route FA-HA-GW):
 *      HA: leg ha-gw  src GW = HA, dst GW = GW   (SPI/keys from the database:
 *                                                 the SLA of seed [0026])
 *      HA: leg fa-ha  src GW = HA, dst GW = FA   (seed [0042], tunnel (3))
 *      FA: leg fa-ha  src GW = FA, dst GW = HA   (seed [0040], [0044])
 *  - gateway dynamic (S112, route FA-PCN):
 *      HA: leg fa-pcn src GW = PCN, dst GW = FA  (seed [0041]; the HA caches it
 *                                                 and hands it to the PCN in a
 *                                                 BU, [0057], [0076]-[0077])
 *      FA: leg fa-pcn src GW = FA, dst GW = PCN  (seed [0041], [0078])
 *  - no entry: no VPN for that profile (plain Mobile IP), reported in notes.
 * The two ends of one leg carry the same SPIs and keys.  All derived profiles
 * take the selector src = HoA/32 (when known), dst = the database destination,
 * and gw_type = the CN-GW entry's type.  See vpncache/README.md.
 */
#ifndef VPN_PATH_H
#define VPN_PATH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "cngw.h"
#include "vpn_profile.h"

/* Supplies a fresh pair of per-user SPIs (>= 256, unique at their
 * destinations) for a fa-ha leg of a vpnshare=1 profile.  Return false when
 * none is left. */
typedef bool (*vpn_spi_alloc_fn)(void *arg, uint32_t *spi_up, uint32_t *spi_down);

struct vpn_path_input {
    const struct vpn_profile *db; /* the user's database profiles */
    unsigned n_db;
    struct in_addr fa;  /* origin of the AMR (S109) */
    struct in_addr ha;  /* the user's home agent */
    struct in_addr hoa; /* 0.0.0.0: keep the database's source selector */
    const struct cngw_table *cngw;
    vpn_spi_alloc_fn alloc_spi; /* needed only for static + vpnshare 1 */
    void *alloc_arg;
};

struct vpn_path_note {
    uint32_t number;
    char reason[VPN_ERR_MAX];
};

struct vpn_path {
    struct vpn_profile *ha; /* what the HAR carries: the HA's cache */
    unsigned n_ha;
    struct vpn_profile *fa; /* what the AMA carries: the FA's (and AAAF's) cache */
    unsigned n_fa;
    struct vpn_path_note *plain; /* profiles left to plain Mobile IP, with why */
    unsigned n_plain;
};

/* Fills out (which must be zeroed or freed).  Keys missing on a leg that
 * needs them are generated (RAND_bytes, seed [0038]).  On failure out is left
 * empty and err says why (a bad database profile, FA/HA unknown, no SPI). */
bool vpn_path_decide(const struct vpn_path_input *in, struct vpn_path *out, char *err,
                     size_t errlen);
void vpn_path_free(struct vpn_path *p); /* wipes every key */

/* Whether the HA programs this profile itself (ha-gw, fa-ha) or only caches
 * it and forwards it to the PCN in a BU (fa-pcn with a dynamic gateway). */
bool vpn_path_ha_installs(const struct vpn_profile *p);

#endif
