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

enum mipd_role { ROLE_HA, ROLE_FA };

#define MIPD_KEY_MAX 64
#define MIPD_NAI_MAX 128

/* A security association with a peer: SPI + key (RFC 5944 §3.5, §5.1). */
struct mipd_sa {
    uint32_t spi;
    uint8_t key[MIPD_KEY_MAX];
    size_t keylen;
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

struct mipd_config {
    enum mipd_role role;
    uint32_t vendor_id;
    char ctl_path[108];
    enum log_level log_level;

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
    } fa;
};

/* Loads path for role; on error returns -1 with "FILE:LINE: reason" in err. */
int config_load(struct mipd_config *c, const char *path, enum mipd_role role, char *err,
                size_t errlen);
/* Same, from a string (tests); name is used in messages. */
int config_load_string(struct mipd_config *c, const char *text, const char *name,
                       enum mipd_role role, char *err, size_t errlen);
/* Frees and wipes key material. */
void config_free(struct mipd_config *c);

#endif
