/*
 * mipd configuration (libconfig).  Every value is validated at start; a bad
 * one is reported as "FILE:LINE: reason" and the daemon refuses to start.
 */
#ifndef MIPD_CONFIG_H
#define MIPD_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "mip_proto.h"
#include "vpn_profile.h"

enum mipd_role { ROLE_HA, ROLE_FA, ROLE_PCN };
const char *mipd_role_str(enum mipd_role r); /* "ha" "fa" "pcn" */

#define MIPD_KEY_MAX 64
#define MIPD_NAI_MAX 128

/* A security association with a peer: SPI + key (RFC 5944 §3.5, §5.1). */
struct mipd_sa {
    uint32_t spi;
    uint8_t key[MIPD_KEY_MAX];
    size_t keylen;
    enum mip_auth_alg alg; /* HMAC-MD5 for configured SAs (RFC 5944 §3.5.1) */
};

struct mipd_mn {
    char nai[MIPD_NAI_MAX];
    struct in_addr home_addr;
    struct mipd_sa sa; /* MN-HA */
};

struct mipd_peer {
    struct in_addr addr;
    struct mipd_sa sa;
};

/* AAA mode of an agent (`aaa = { ... }` inside ha / fa). */
struct mipd_aaa {
    bool enabled;
    char diameter_conf[256]; /* freeDiameter configuration file (peers, TLS) */
    uint32_t timeout_ms;     /* FA: AMR answer timeout, then code 78 */
};

/* An IPv4 prefix (network order, host bits zero). */
struct mipd_prefix {
    struct in_addr addr;
    uint8_t len;
};

#define MIPD_IDENTITY_MAX 256

/* A pre-configured gateway-to-gateway SA pair (seed [0028], [0062]): what the
 * profiles with vpnshare 0 (SPI 0) use instead of per-user SAs.  Out: this
 * node -> peer with spi_out / key_out; in: peer -> this node with spi_in /
 * key_in.  Each key is the encryption key followed by the integrity key, as
 * long as the algorithms need (vpn_profile.h). */
struct mipd_default_sa {
    struct in_addr peer;
    uint32_t spi_out, spi_in;
    uint8_t sec;       /* enum vpn_sec_type: esp or ah */
    uint8_t enc_alg;   /* enum vpn_enc_alg */
    uint8_t integ_alg; /* enum vpn_integ_alg */
    struct vpn_keys key_out, key_in;
};

struct mipd_config {
    enum mipd_role role;
    uint32_t vendor_id;
    char ctl_path[108];
    enum log_level log_level;
    /* Name in EVENT log lines; "" = the Diameter identity, else ROLE-ADDRESS. */
    char identity[MIPD_IDENTITY_MAX];

    struct {
        struct in_addr address;
        char home_link[16];
        uint32_t max_lifetime;
        uint32_t replay_window;
        bool reverse_tunnel;
        struct mipd_mn *mns;
        size_t n_mns;
        struct mipd_peer *fa_peers;
        size_t n_fa_peers;
        struct mipd_aaa aaa;
        /* Pairwise BU/BA keys with PCNs (HMAC-SHA-256 RO-auth + VPN-INFO sealing). */
        struct mipd_peer *pcn_peers;
        size_t n_pcn_peers;
        uint32_t bu_timeout_ms; /* first BU retransmission timeout, doubled each time */
        uint32_t bu_retries;    /* BU transmissions before the registration fails */
    } ha;

    struct {
        struct in_addr address;
        char (*links)[16];
        size_t n_links;
        uint32_t adv_interval_ms;
        uint32_t adv_lifetime;
        uint32_t max_lifetime;
        uint32_t reg_timeout_ms;
        bool reverse_tunnel;
        bool challenge;
        struct mipd_peer *ha_peers;
        size_t n_ha_peers;
        struct mipd_aaa aaa;
        /* Moves (issue 5, aaad/FLOWS.md "Hand-off BU"): smooth hand-off on/off,
         * pairwise keys with the other FAs (HMAC-SHA-256 RO-auth + VPN-INFO
         * sealing of the new FA -> old FA BU), BU retransmission. */
        bool smooth_handoff;
        struct mipd_peer *fa_peers;
        size_t n_fa_peers;
        uint32_t bu_timeout_ms;
        uint32_t bu_retries;
        uint32_t replay_window; /* seconds, for the BUs it receives */
        /* fa.handoff_buffer { packets; bytes; hold_ms; total_bytes; } (hobuf.h) */
        uint32_t hobuf_pkts, hobuf_bytes, hobuf_hold_ms, hobuf_total_bytes;
    } fa;

    struct {
        struct in_addr address;     /* this PCN: the tunnel source GW the VPN info must name */
        struct mipd_prefix *serves; /* correspondents behind us: BUs to them are intercepted */
        size_t n_serves;
        uint32_t replay_window;
        struct mipd_peer *ha_peers; /* pairwise keys with home agents */
        size_t n_ha_peers;
        /* Lifetime refresh (seed claim 25): below this many seconds of a
         * session's lifetime, a Binding Request to its HA; 0 = never. */
        uint32_t refresh_threshold_s;
        uint32_t br_timeout_ms; /* first BR retransmission timeout, doubled each time */
    } pcn;

    /* `default_sas` of the role's group (ha, fa or pcn). */
    struct mipd_default_sa *default_sas;
    size_t n_default_sas;
};

/* Pairwise RO keys are HMAC-SHA-256 keys: RFC 4868 §2.1.1 wants 32 octets. */
#define MIPD_RO_KEY_MIN 32

/* Loads path for role; on error returns -1 with "FILE:LINE: reason" in err. */
int config_load(struct mipd_config *c, const char *path, enum mipd_role role, char *err,
                size_t errlen);
/* Same, from a string (tests); name is used in messages. */
int config_load_string(struct mipd_config *c, const char *text, const char *name,
                       enum mipd_role role, char *err, size_t errlen);
/* Frees and wipes key material. */
void config_free(struct mipd_config *c);

#endif
