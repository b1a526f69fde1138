/* Shared libconfig helpers: see confutil.h. */
#include "confutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cfg_fail(struct cfgctx *x, const config_setting_t *s, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int cut = (int)(x->msgmax < sizeof(msg) - 1 ? x->msgmax : sizeof(msg) - 1);
    const char *file = s && config_setting_source_file(s) ? config_setting_source_file(s) : x->name;
    unsigned line = s ? config_setting_source_line(s) : 0;
    if (line)
        snprintf(x->err, x->errlen, "%s:%u: %.*s", file, line, cut, msg);
    else
        snprintf(x->err, x->errlen, "%s: %.*s", file, cut, msg);
    return -1;
}

int cfg_read(config_t *cf, struct cfgctx *x, const char *text)
{
    config_init(cf);
    if (!text) {
        FILE *f = fopen(x->name, "r");
        if (!f) {
            snprintf(x->err, x->errlen, "%s: cannot open: %m", x->name);
            return CFG_READ_NOFILE;
        }
        fclose(f);
    }
    if ((text ? config_read_string(cf, text) : config_read_file(cf, x->name)) == CONFIG_TRUE)
        return 0;
    snprintf(x->err, x->errlen, "%s:%d: %s",
             config_error_file(cf) ? config_error_file(cf) : x->name, config_error_line(cf),
             config_error_text(cf));
    return CFG_READ_BAD;
}

int cfg_check_known(struct cfgctx *x, const config_setting_t *grp, const char *where,
                    const char *const *known)
{
    for (int i = 0; i < config_setting_length(grp); i++) {
        const config_setting_t *s = config_setting_get_elem(grp, i);
        const char *name = config_setting_name(s);
        bool ok = false;
        for (size_t k = 0; known[k] && !ok; k++)
            ok = name && !strcmp(name, known[k]);
        if (!ok)
            return cfg_fail(x, s, "unknown setting '%s'%s%s", name ? name : "?",
                            where ? " in " : "", where ? where : "");
    }
    return 0;
}

int cfg_get_uint(struct cfgctx *x, const config_setting_t *grp, const char *key, uint32_t min,
                 uint32_t max, uint32_t dflt, uint32_t *out)
{
    const config_setting_t *s = grp ? config_setting_get_member(grp, key) : NULL;
    if (!s) {
        *out = dflt;
        return 0;
    }
    if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
        return cfg_fail(x, s, "'%s' must be an integer", key);
    long long v = config_setting_type(s) == CONFIG_TYPE_INT ? config_setting_get_int(s)
                                                            : config_setting_get_int64(s);
    if (v < (long long)min || v > (long long)max)
        return cfg_fail(x, s, "'%s' = %lld is out of range [%u, %u]", key, v, min, max);
    *out = (uint32_t)v;
    return 0;
}

int cfg_get_bool(struct cfgctx *x, const config_setting_t *grp, const char *key, bool dflt,
                 bool *out)
{
    const config_setting_t *s = grp ? config_setting_get_member(grp, key) : NULL;
    if (!s) {
        *out = dflt;
        return 0;
    }
    if (config_setting_type(s) != CONFIG_TYPE_BOOL)
        return cfg_fail(x, s, "'%s' must be true or false", key);
    *out = config_setting_get_bool(s);
    return 0;
}

int cfg_member_str(struct cfgctx *x, const config_setting_t *grp, const char *key, bool required,
                   const char *missing, const char *type, const config_setting_t **s,
                   const char **v)
{
    *s = config_setting_get_member(grp, key);
    if (!*s)
        return required ? cfg_fail(x, grp, "missing '%s'%s", key, missing) : 0;
    *v = config_setting_get_string(*s);
    return *v ? 1 : cfg_fail(x, *s, "'%s' must be %s", key, type);
}

int cfg_get_str(struct cfgctx *x, const config_setting_t *grp, const char *key, bool required,
                char *out, size_t outlen)
{
    const config_setting_t *s;
    const char *v;
    int r = cfg_member_str(x, grp, key, required, "", "a string", &s, &v);
    if (r <= 0)
        return r;
    if (!*v)
        return cfg_fail(x, s, "'%s' must not be empty", key);
    if (strlen(v) >= outlen)
        return cfg_fail(x, s, "'%s' is longer than %zu characters", key, outlen - 1);
    strcpy(out, v);
    return 0;
}

int cfg_get_log_level(struct cfgctx *x, const config_setting_t *root, enum log_level *out)
{
    *out = LOG_LVL_INFO;
    const config_setting_t *ll = config_setting_get_member(root, "log_level");
    if (ll) {
        const char *v = config_setting_get_string(ll);
        if (!v || log_level_parse(v, out))
            return cfg_fail(x, ll, "'log_level' must be one of error, warn, info, debug");
    }
    return 0;
}
