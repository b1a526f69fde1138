/* aaad configuration: see aaad_conf.h.  Style of mipd/src/config.c (FILE:LINE errors). */
#include "aaad_conf.h"

#include "confutil.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* DiameterIdentity / realm: an FQDN (RFC 6733 §4.3.1): letters, digits, '-' and '.'. */
static bool fqdn_ok(const char *s)
{
    if (!*s || *s == '.' || *s == '-')
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
            return false;
    return true;
}

static int load_home_agents(struct cfgctx *x, const config_setting_t *g, struct aaad_conf *c)
{
    const config_setting_t *l = config_setting_get_member(g, "home_agents");
    if (!l)
        return cfg_fail(x, g,
                        "missing 'home_agents' (a list of { address = \"HA address\"; host = "
                        "\"HA Diameter identity\"; })");
    if (!config_setting_is_list(l) || config_setting_length(l) == 0)
        return cfg_fail(x, l, "'home_agents' must be a non-empty list ( { address; host; }, ... )");
    int n = config_setting_length(l);
    c->home.has = calloc((size_t)n, sizeof(*c->home.has));
    if (!c->home.has)
        return cfg_fail(x, l, "out of memory");
    static const char *const known[] = {"address", "host", "realm", NULL};
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(l, i);
        if (!config_setting_is_group(e))
            return cfg_fail(x, e, "home_agents entries must be groups { address; host; }");
        if (cfg_check_known(x, e, "a home_agents entry", known))
            return -1;
        struct aaad_home_agent *h = &c->home.has[i];
        c->home.n_has = (size_t)i + 1;
        char addr[INET_ADDRSTRLEN + 8] = "";
        if (cfg_get_str(x, e, "address", true, addr, sizeof(addr)))
            return -1;
        const config_setting_t *as = config_setting_get_member(e, "address");
        if (inet_pton(AF_INET, addr, &h->addr) != 1 || !h->addr.s_addr)
            return cfg_fail(x, as, "'address': \"%s\" is not an IPv4 unicast address", addr);
        if (cfg_get_str(x, e, "host", true, h->host, sizeof(h->host)))
            return -1;
        if (!fqdn_ok(h->host))
            return cfg_fail(x, config_setting_get_member(e, "host"),
                            "'host': \"%s\" is not a Diameter identity (an FQDN)", h->host);
        if (cfg_get_str(x, e, "realm", false, h->realm, sizeof(h->realm)))
            return -1;
        if (h->realm[0] && !fqdn_ok(h->realm))
            return cfg_fail(x, config_setting_get_member(e, "realm"),
                            "'realm': \"%s\" is not a Diameter realm (an FQDN)", h->realm);
        for (int j = 0; j < i; j++)
            if (c->home.has[j].addr.s_addr == h->addr.s_addr)
                return cfg_fail(x, e, "home agent %s is listed twice", addr);
    }
    return 0;
}

static int load_home(struct cfgctx *x, config_setting_t *root, struct aaad_conf *c)
{
    const config_setting_t *g = config_setting_get_member(root, "home");
    if (!g || !config_setting_is_group(g))
        return cfg_fail(x, g ? g : root, "missing group 'home: { ... };' for role home");
    static const char *const known[] = {"database",           "max_lifetime", "har_timeout_ms",
                                        "expire_interval_ms", "spi_min",      "spi_max",
                                        "require_tls",        "home_agents",  NULL};
    if (cfg_check_known(x, g, "'home'", known) ||
        cfg_get_str(x, g, "database", true, c->home.database, sizeof(c->home.database)) ||
        cfg_get_uint(x, g, "max_lifetime", 1, 65534, 600, &c->home.max_lifetime) ||
        cfg_get_uint(x, g, "har_timeout_ms", 100, 600000, 3000, &c->home.har_timeout_ms) ||
        cfg_get_uint(x, g, "expire_interval_ms", 100, 3600000, 1000, &c->home.expire_interval_ms) ||
        cfg_get_uint(x, g, "spi_min", 256, 0xffffffffu, 0, &c->home.spi_min) ||
        cfg_get_uint(x, g, "spi_max", 256, 0xffffffffu, 0, &c->home.spi_max) ||
        cfg_get_bool(x, g, "require_tls", true, &c->home.require_tls))
        return -1;
    if (!c->home.spi_min != !c->home.spi_max)
        return cfg_fail(x, g, "give both 'spi_min' and 'spi_max' or neither");
    if (c->home.spi_min > c->home.spi_max)
        return cfg_fail(x, config_setting_get_member(g, "spi_max"),
                        "'spi_max' (%u) is below 'spi_min' (%u)", c->home.spi_max, c->home.spi_min);
    return load_home_agents(x, g, c);
}

static int load_foreign(struct cfgctx *x, config_setting_t *root, struct aaad_conf *c)
{
    const config_setting_t *g = config_setting_get_member(root, "foreign");
    if (g && !config_setting_is_group(g))
        return cfg_fail(x, g, "'foreign' must be a group 'foreign: { ... };'");
    static const char *const known[] = {"amr_timeout_ms", "expire_interval_ms", "require_tls",
                                        NULL};
    if ((g && cfg_check_known(x, g, "'foreign'", known)) ||
        cfg_get_uint(x, g, "amr_timeout_ms", 100, 600000, 5000, &c->foreign.amr_timeout_ms) ||
        cfg_get_uint(x, g, "expire_interval_ms", 100, 3600000, 1000,
                     &c->foreign.expire_interval_ms) ||
        cfg_get_bool(x, g, "require_tls", true, &c->foreign.require_tls))
        return -1;
    return 0;
}

static int load(struct aaad_conf *c, config_t *cf, struct cfgctx *x, enum aaad_role role_arg)
{
    config_setting_t *root = config_root_setting(cf);
    memset(c, 0, sizeof(*c));
    static const char *const known[] = {"role",          "vendor_id", "control_socket", "log_level",
                                        "diameter_conf", "home",      "foreign",        NULL};
    if (cfg_check_known(x, root, NULL, known))
        return -1;

    const config_setting_t *rs = config_setting_get_member(root, "role");
    enum aaad_role role = role_arg;
    if (rs) {
        const char *v = config_setting_get_string(rs);
        enum aaad_role fr;
        if (!v || !aaad_role_parse(v, &fr))
            return cfg_fail(x, rs, "'role' must be \"home\" or \"foreign\"");
        if (role_arg != AAAD_ROLE_NONE && fr != role_arg)
            return cfg_fail(x, rs, "'role' is \"%s\" but --role %s was given", v,
                            aaad_role_str(role_arg));
        role = fr;
    }
    if (role == AAAD_ROLE_NONE)
        return cfg_fail(x, NULL, "no role: set 'role = \"home\";' (or \"foreign\") or give --role");
    c->role = role;

    if (cfg_get_uint(x, root, "vendor_id", 1, 0xFFFFFF, 32473, &c->vendor_id))
        return -1;
    snprintf(c->ctl_path, sizeof(c->ctl_path), "/run/aaad-%s.sock", aaad_role_str(role));
    if (cfg_get_str(x, root, "control_socket", false, c->ctl_path, sizeof(c->ctl_path)))
        return -1;
    if (cfg_get_log_level(x, root, &c->log_level) ||
        cfg_get_str(x, root, "diameter_conf", true, c->diameter_conf, sizeof(c->diameter_conf)))
        return -1;

    /* The other role's section is allowed (one file may serve both) but not read. */
    return role == AAAD_ROLE_HOME ? load_home(x, root, c) : load_foreign(x, root, c);
}

/* A message longer than this is cut (aaad's limit, kept from before confutil). */
#define AAAD_CFG_MSG_MAX 383

/* The file `name` (text NULL) or text, named `name` in messages. */
static int load_from(struct aaad_conf *c, const char *name, const char *text,
                     enum aaad_role role_arg, char *err, size_t errlen)
{
    config_t cf;
    struct cfgctx x = {name, err, errlen, AAAD_CFG_MSG_MAX};
    int read = cfg_read(&cf, &x, text);
    int rc = read == 0 ? load(c, &cf, &x, role_arg) : -1;
    config_destroy(&cf);
    if (read == CFG_READ_NOFILE)
        memset(c, 0, sizeof(*c));
    else if (rc)
        aaad_conf_free(c);
    return rc;
}

int aaad_conf_load(struct aaad_conf *c, const char *path, enum aaad_role role_arg, char *err,
                   size_t errlen)
{
    return load_from(c, path, NULL, role_arg, err, errlen);
}

int aaad_conf_load_string(struct aaad_conf *c, const char *text, const char *name,
                          enum aaad_role role_arg, char *err, size_t errlen)
{
    return load_from(c, name, text, role_arg, err, errlen);
}

void aaad_conf_free(struct aaad_conf *c)
{
    free(c->home.has);
    memset(c, 0, sizeof(*c));
}

const char *aaad_role_str(enum aaad_role r)
{
    return r == AAAD_ROLE_HOME ? "home" : r == AAAD_ROLE_FOREIGN ? "foreign" : "none";
}

bool aaad_role_parse(const char *s, enum aaad_role *out)
{
    if (!strcmp(s, "home"))
        *out = AAAD_ROLE_HOME;
    else if (!strcmp(s, "foreign"))
        *out = AAAD_ROLE_FOREIGN;
    else
        return false;
    return true;
}

const struct aaad_home_agent *aaad_conf_home_agent(const struct aaad_conf *c, struct in_addr ha)
{
    for (size_t i = 0; i < c->home.n_has; i++)
        if (c->home.has[i].addr.s_addr == ha.s_addr)
            return &c->home.has[i];
    return NULL;
}
