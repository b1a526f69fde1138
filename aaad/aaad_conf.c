/* aaad configuration: see aaad_conf.h.  Style of mipd/src/config.c (FILE:LINE errors). */
#include "aaad_conf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cfgctx {
    const char *name; /* file name for messages */
    char *err;
    size_t errlen;
};

static int fail(struct cfgctx *x, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct cfgctx *x, const config_setting_t *s, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *file = s && config_setting_source_file(s) ? config_setting_source_file(s) : x->name;
    unsigned line = s ? config_setting_source_line(s) : 0;
    if (line)
        snprintf(x->err, x->errlen, "%s:%u: %s", file, line, msg);
    else
        snprintf(x->err, x->errlen, "%s: %s", file, msg);
    return -1;
}

/* Rejects members of grp not in known[] (a typo must not be silently ignored). */
static int check_known(struct cfgctx *x, const config_setting_t *grp, const char *where,
                       const char *const *known, size_t n)
{
    for (int i = 0; i < config_setting_length(grp); i++) {
        const config_setting_t *s = config_setting_get_elem(grp, i);
        const char *name = config_setting_name(s);
        bool ok = false;
        for (size_t k = 0; k < n && !ok; k++)
            ok = name && !strcmp(name, known[k]);
        if (!ok)
            return fail(x, s, "unknown setting '%s'%s%s", name ? name : "?", where ? " in " : "",
                        where ? where : "");
    }
    return 0;
}

static int get_uint(struct cfgctx *x, const config_setting_t *grp, const char *key, uint32_t min,
                    uint32_t max, uint32_t dflt, uint32_t *out)
{
    const config_setting_t *s = grp ? config_setting_get_member(grp, key) : NULL;
    if (!s) {
        *out = dflt;
        return 0;
    }
    if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
        return fail(x, s, "'%s' must be an integer", key);
    long long v = config_setting_type(s) == CONFIG_TYPE_INT ? config_setting_get_int(s)
                                                            : config_setting_get_int64(s);
    if (v < (long long)min || v > (long long)max)
        return fail(x, s, "'%s' = %lld is out of range [%u, %u]", key, v, min, max);
    *out = (uint32_t)v;
    return 0;
}

static int get_bool(struct cfgctx *x, const config_setting_t *grp, const char *key, bool dflt,
                    bool *out)
{
    const config_setting_t *s = grp ? config_setting_get_member(grp, key) : NULL;
    if (!s) {
        *out = dflt;
        return 0;
    }
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return fail(x, s, "'%s' must be true or false", key);
    *out = config_setting_get_bool(s);
    return 0;
}

/* A string; absent = leave out untouched (default) unless required. */
static int get_str(struct cfgctx *x, const config_setting_t *grp, const char *key, bool required,
                   char *out, size_t outlen)
{
    const config_setting_t *s = config_setting_get_member(grp, key);
    if (!s)
        return required ? fail(x, grp, "missing '%s'", key) : 0;
    const char *v = config_setting_get_string(s);
    if (!v)
        return fail(x, s, "'%s' must be a string", key);
    if (!*v)
        return fail(x, s, "'%s' must not be empty", key);
    if (strlen(v) >= outlen)
        return fail(x, s, "'%s' is longer than %zu characters", key, outlen - 1);
    strcpy(out, v);
    return 0;
}

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
        return fail(x, g,
                    "missing 'home_agents' (a list of { address = \"HA address\"; host = "
                    "\"HA Diameter identity\"; })");
    if (!config_setting_is_list(l) || config_setting_length(l) == 0)
        return fail(x, l, "'home_agents' must be a non-empty list ( { address; host; }, ... )");
    int n = config_setting_length(l);
    c->home.has = calloc((size_t)n, sizeof(*c->home.has));
    if (!c->home.has)
        return fail(x, l, "out of memory");
    static const char *const known[] = {"address", "host", "realm"};
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(l, i);
        if (!config_setting_is_group(e))
            return fail(x, e, "home_agents entries must be groups { address; host; }");
        if (check_known(x, e, "a home_agents entry", known, 3))
            return -1;
        struct aaad_home_agent *h = &c->home.has[i];
        c->home.n_has = (size_t)i + 1;
        char addr[INET_ADDRSTRLEN + 8] = "";
        if (get_str(x, e, "address", true, addr, sizeof(addr)))
            return -1;
        const config_setting_t *as = config_setting_get_member(e, "address");
        if (inet_pton(AF_INET, addr, &h->addr) != 1 || !h->addr.s_addr)
            return fail(x, as, "'address': \"%s\" is not an IPv4 unicast address", addr);
        if (get_str(x, e, "host", true, h->host, sizeof(h->host)))
            return -1;
        if (!fqdn_ok(h->host))
            return fail(x, config_setting_get_member(e, "host"),
                        "'host': \"%s\" is not a Diameter identity (an FQDN)", h->host);
        if (get_str(x, e, "realm", false, h->realm, sizeof(h->realm)))
            return -1;
        if (h->realm[0] && !fqdn_ok(h->realm))
            return fail(x, config_setting_get_member(e, "realm"),
                        "'realm': \"%s\" is not a Diameter realm (an FQDN)", h->realm);
        for (int j = 0; j < i; j++)
            if (c->home.has[j].addr.s_addr == h->addr.s_addr)
                return fail(x, e, "home agent %s is listed twice", addr);
    }
    return 0;
}

static int load_home(struct cfgctx *x, config_setting_t *root, struct aaad_conf *c)
{
    const config_setting_t *g = config_setting_get_member(root, "home");
    if (!g || !config_setting_is_group(g))
        return fail(x, g ? g : root, "missing group 'home: { ... };' for role home");
    static const char *const known[] = {"database",           "max_lifetime", "har_timeout_ms",
                                        "expire_interval_ms", "spi_min",      "spi_max",
                                        "require_tls",        "home_agents"};
    if (check_known(x, g, "'home'", known, sizeof(known) / sizeof(known[0])) ||
        get_str(x, g, "database", true, c->home.database, sizeof(c->home.database)) ||
        get_uint(x, g, "max_lifetime", 1, 65534, 600, &c->home.max_lifetime) ||
        get_uint(x, g, "har_timeout_ms", 100, 600000, 3000, &c->home.har_timeout_ms) ||
        get_uint(x, g, "expire_interval_ms", 100, 3600000, 1000, &c->home.expire_interval_ms) ||
        get_uint(x, g, "spi_min", 256, 0xffffffffu, 0, &c->home.spi_min) ||
        get_uint(x, g, "spi_max", 256, 0xffffffffu, 0, &c->home.spi_max) ||
        get_bool(x, g, "require_tls", true, &c->home.require_tls))
        return -1;
    if (!c->home.spi_min != !c->home.spi_max)
        return fail(x, g, "give both 'spi_min' and 'spi_max' or neither");
    if (c->home.spi_min > c->home.spi_max)
        return fail(x, config_setting_get_member(g, "spi_max"),
                    "'spi_max' (%u) is below 'spi_min' (%u)", c->home.spi_max, c->home.spi_min);
    return load_home_agents(x, g, c);
}

static int load_foreign(struct cfgctx *x, config_setting_t *root, struct aaad_conf *c)
{
    const config_setting_t *g = config_setting_get_member(root, "foreign");
    if (g && !config_setting_is_group(g))
        return fail(x, g, "'foreign' must be a group 'foreign: { ... };'");
    static const char *const known[] = {"amr_timeout_ms", "expire_interval_ms", "require_tls"};
    if ((g && check_known(x, g, "'foreign'", known, 3)) ||
        get_uint(x, g, "amr_timeout_ms", 100, 600000, 5000, &c->foreign.amr_timeout_ms) ||
        get_uint(x, g, "expire_interval_ms", 100, 3600000, 1000, &c->foreign.expire_interval_ms) ||
        get_bool(x, g, "require_tls", true, &c->foreign.require_tls))
        return -1;
    return 0;
}

static int load(struct aaad_conf *c, config_t *cf, struct cfgctx *x, enum aaad_role role_arg)
{
    config_setting_t *root = config_root_setting(cf);
    memset(c, 0, sizeof(*c));
    static const char *const known[] = {"role",          "vendor_id", "control_socket", "log_level",
                                        "diameter_conf", "home",      "foreign"};
    if (check_known(x, root, NULL, known, sizeof(known) / sizeof(known[0])))
        return -1;

    const config_setting_t *rs = config_setting_get_member(root, "role");
    enum aaad_role role = role_arg;
    if (rs) {
        const char *v = config_setting_get_string(rs);
        enum aaad_role fr;
        if (!v || !aaad_role_parse(v, &fr))
            return fail(x, rs, "'role' must be \"home\" or \"foreign\"");
        if (role_arg != AAAD_ROLE_NONE && fr != role_arg)
            return fail(x, rs, "'role' is \"%s\" but --role %s was given", v,
                        aaad_role_str(role_arg));
        role = fr;
    }
    if (role == AAAD_ROLE_NONE)
        return fail(x, NULL, "no role: set 'role = \"home\";' (or \"foreign\") or give --role");
    c->role = role;

    if (get_uint(x, root, "vendor_id", 1, 0xFFFFFF, 32473, &c->vendor_id))
        return -1;
    snprintf(c->ctl_path, sizeof(c->ctl_path), "/run/aaad-%s.sock", aaad_role_str(role));
    if (get_str(x, root, "control_socket", false, c->ctl_path, sizeof(c->ctl_path)))
        return -1;
    c->log_level = LOG_LVL_INFO;
    const config_setting_t *ll = config_setting_get_member(root, "log_level");
    if (ll) {
        const char *v = config_setting_get_string(ll);
        if (!v || log_level_parse(v, &c->log_level))
            return fail(x, ll, "'log_level' must be one of error, warn, info, debug");
    }
    if (get_str(x, root, "diameter_conf", true, c->diameter_conf, sizeof(c->diameter_conf)))
        return -1;

    /* The other role's section is allowed (one file may serve both) but not read. */
    return role == AAAD_ROLE_HOME ? load_home(x, root, c) : load_foreign(x, root, c);
}

static int finish(struct aaad_conf *c, config_t *cf, struct cfgctx *x, bool read_ok,
                  enum aaad_role role_arg)
{
    int rc;
    if (!read_ok) {
        snprintf(x->err, x->errlen, "%s:%d: %s",
                 config_error_file(cf) ? config_error_file(cf) : x->name, config_error_line(cf),
                 config_error_text(cf));
        rc = -1;
    } else {
        rc = load(c, cf, x, role_arg);
    }
    config_destroy(cf);
    if (rc)
        aaad_conf_free(c);
    return rc;
}

int aaad_conf_load(struct aaad_conf *c, const char *path, enum aaad_role role_arg, char *err,
                   size_t errlen)
{
    config_t cf;
    config_init(&cf);
    struct cfgctx x = {path, err, errlen};
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %m", path);
        config_destroy(&cf);
        memset(c, 0, sizeof(*c));
        return -1;
    }
    fclose(f);
    bool ok = config_read_file(&cf, path) == CONFIG_TRUE;
    return finish(c, &cf, &x, ok, role_arg);
}

int aaad_conf_load_string(struct aaad_conf *c, const char *text, const char *name,
                          enum aaad_role role_arg, char *err, size_t errlen)
{
    config_t cf;
    config_init(&cf);
    struct cfgctx x = {name, err, errlen};
    bool ok = config_read_string(&cf, text) == CONFIG_TRUE;
    return finish(c, &cf, &x, ok, role_arg);
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
