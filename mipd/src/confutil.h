/*
 * Reading libconfig files with FILE:LINE errors: the helpers mipd's
 * configuration (config.c) and aaad's (aaad/aaad_conf.c) share.  Each helper
 * returns 0, or -1 with "FILE:LINE: message" (or "FILE: message" where there
 * is no line) in the context's error buffer.
 */
#ifndef MIPD_CONFUTIL_H
#define MIPD_CONFUTIL_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

struct cfgctx {
    const char *name; /* file name for messages */
    char *err;
    size_t errlen;
    size_t msgmax; /* a message is cut to this many characters before FILE:LINE goes in front */
};

int cfg_fail(struct cfgctx *x, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* config_init(cf), then reads the file x->name (text NULL) or text.  Returns
 * 0; CFG_READ_BAD with libconfig's "FILE:LINE: error" in x->err; or
 * CFG_READ_NOFILE with "FILE: cannot open: why" (nothing read).  The caller
 * calls config_destroy(cf) in every case. */
enum { CFG_READ_BAD = -1, CFG_READ_NOFILE = -2 };
int cfg_read(config_t *cf, struct cfgctx *x, const char *text);

/* Refuses members of grp not in known (NULL-terminated): a typo in a key must
 * not silently leave a feature off.  "unknown setting 'k' in WHERE" (where
 * NULL: without " in WHERE"). */
int cfg_check_known(struct cfgctx *x, const config_setting_t *grp, const char *where,
                    const char *const *known);

/* Optional typed members of grp (grp NULL = absent): *out = dflt when absent. */
int cfg_get_uint(struct cfgctx *x, const config_setting_t *grp, const char *key, uint32_t min,
                 uint32_t max, uint32_t dflt, uint32_t *out);
int cfg_get_bool(struct cfgctx *x, const config_setting_t *grp, const char *key, bool dflt,
                 bool *out);
/* The string member key of grp: *v (and its setting *s).  Returns 1; 0 when
 * absent and not required; -1 with "missing 'KEY'MISSING" (MISSING says what
 * it holds, e.g. " (hex)") or "'KEY' must be TYPE" (e.g. "a hex string"). */
int cfg_member_str(struct cfgctx *x, const config_setting_t *grp, const char *key, bool required,
                   const char *missing, const char *type, const config_setting_t **s,
                   const char **v);
/* A non-empty string shorter than outlen; absent = out untouched unless required. */
int cfg_get_str(struct cfgctx *x, const config_setting_t *grp, const char *key, bool required,
                char *out, size_t outlen);
/* `log_level = "error" | "warn" | "info" | "debug";` (default info). */
int cfg_get_log_level(struct cfgctx *x, const config_setting_t *root, enum log_level *out);

#endif
