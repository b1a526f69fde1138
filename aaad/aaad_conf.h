/*
 * aaad configuration (libconfig; samples conf/aaad-home.conf, conf/aaad-foreign.conf).
 * Every value is validated at start; a bad one is reported as "FILE:LINE: reason" and the
 * daemon refuses to start.  Diameter itself (identity, realm, TLS, peers, routing) lives in
 * freeDiameter's own file, named by diameter_conf.
 */
#ifndef AAAD_CONF_H
#define AAAD_CONF_H

#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

enum aaad_role { AAAD_ROLE_NONE = 0, AAAD_ROLE_HOME, AAAD_ROLE_FOREIGN };

#define AAAD_DIAMID_MAX 255 /* DiameterIdentity: an FQDN (RFC 6733 §4.3.1) */

/* The user's HA address (the VPN database's "ha") -> the HA's Diameter identity, so that the
 * HAR can carry Destination-Host (RFC 4004 §5.3; FLOWS.md "Nodes"). */
struct aaad_home_agent {
    struct in_addr addr;
    char host[AAAD_DIAMID_MAX + 1];
    char realm[AAAD_DIAMID_MAX + 1]; /* "" = our own realm */
};

struct aaad_conf {
    enum aaad_role role;
    uint32_t vendor_id;
    char ctl_path[108];
    enum log_level log_level;
    char diameter_conf[PATH_MAX];

    struct {
        char database[PATH_MAX];
        uint32_t max_lifetime;   /* s, cap on the granted registration lifetime */
        uint32_t har_timeout_ms; /* HAR answer timeout: then AMA 4006 */
        uint32_t expire_interval_ms;
        uint32_t spi_min, spi_max; /* per-user SPI range (aaah_config); 0/0 = default */
        bool require_tls;          /* refuse to send keys over a hop without TLS (5025) */
        struct aaad_home_agent *has;
        size_t n_has;
    } home;

    struct {
        uint32_t amr_timeout_ms; /* how long a forwarded AMR waits for its AMA */
        uint32_t expire_interval_ms;
        bool require_tls; /* an AMR from an FA connected without TLS: 5025 (keys would cross) */
    } foreign;
};

/* Loads path.  role_arg is the --role given on the command line (AAAD_ROLE_NONE if none): the
 * file's "role" must agree with it, and one of them must be there.  On error returns -1 with
 * "FILE:LINE: reason" (or "FILE: reason") in err. */
int aaad_conf_load(struct aaad_conf *c, const char *path, enum aaad_role role_arg, char *err,
                   size_t errlen);
/* Same, from a string (tests); name is used in messages. */
int aaad_conf_load_string(struct aaad_conf *c, const char *text, const char *name,
                          enum aaad_role role_arg, char *err, size_t errlen);
void aaad_conf_free(struct aaad_conf *c);

const char *aaad_role_str(enum aaad_role r); /* "home" "foreign" */
bool aaad_role_parse(const char *s, enum aaad_role *out);

/* The home_agents entry of an HA address, or NULL. */
const struct aaad_home_agent *aaad_conf_home_agent(const struct aaad_conf *c, struct in_addr ha);

#endif
