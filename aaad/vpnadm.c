/*
 * vpnadm — provisions the AAAH's VPN database (DESIGN §5): users, VPN
 * profiles, CN-GW table, default gateway SAs, home-address pools.
 * Exit status: 0 ok, 1 error (message on stderr), 2 usage error.
 */
#include "vpndb.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define EXIT_USAGE 2

static const char USAGE[] =
    "usage: vpnadm [-d DB] [--json] [--show-keys] COMMAND ...\n"
    "  DB defaults to $VPNADM_DB; it is created (mode 0600) and migrated as needed.\n"
    "\n"
    "  user add NAI --spi N --key HEX --ha IP (--hoa IP | --pool NAME)\n"
    "  user set NAI [--spi N] [--key HEX] [--ha IP] [--hoa IP | --pool NAME]\n"
    "  user del NAI\n"
    "  user list\n"
    "  profile add NAI --num N --dst PREFIX [--dscp-up D] [--dscp-down D]\n"
    "              [--sec esp|ah|encap] [--spi-up N] [--spi-down N] [--vpnshare 0|1]\n"
    "              [--enc ALG] [--integ ALG] [--lifetime S]\n"
    "              [--key-up HEX --key-down HEX | --gen-keys | --no-keys]\n"
    "  profile set NAI --num N [any option of add]\n"
    "  profile del NAI --num N\n"
    "  profile list [NAI]\n"
    "  cngw add PREFIX GW static|dynamic\n"
    "  cngw del PREFIX\n"
    "  cngw list\n"
    "  defsa add SRC_GW DST_GW --spi N [--sec esp|ah] [--enc ALG] [--integ ALG]\n"
    "              (--key HEX | --gen-keys)\n"
    "  defsa del SRC_GW DST_GW\n"
    "  defsa list\n"
    "  pool add NAME PREFIX\n"
    "  pool del NAME\n"
    "  pool list\n"
    "  schema                 print the schema version\n"
    "\n"
    "  D: EF, AF11..AF43, CS0..CS7, BE or 0-63.  ALG: enc null|aes-cbc-128|aes-cbc-256|\n"
    "  aes-gcm-128, integ none|hmac-sha1|hmac-sha256.  Profile keys (HEX) are the\n"
    "  encryption key followed by the integrity key, as long as the algorithms need.\n"
    "  Keys are printed only with --show-keys.\n";

static bool g_json, g_show_keys;

static int die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vpnadm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (code == EXIT_USAGE)
        fputs("try 'vpnadm --help'\n", stderr);
    return code;
}

/* ---- option parsing ----------------------------------------------------------- */

#define MAX_ARGS 32

struct args {
    const char *pos[MAX_ARGS];
    int npos;
    const char *name[MAX_ARGS];
    const char *val[MAX_ARGS]; /* NULL for a flag */
    int nopt;
};

/* valopts/flags: space-separated option names, e.g. "--spi --key". */
static bool word_in(const char *list, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = list; (p = strstr(p, w)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

static int parse_args(int argc, char **argv, const char *valopts, const char *flags, struct args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--json") == 0) {
            g_json = true;
        } else if (strcmp(s, "--show-keys") == 0) {
            g_show_keys = true;
        } else if (s[0] == '-' && s[1] == '-') {
            if (a->nopt == MAX_ARGS)
                return die(EXIT_USAGE, "too many options");
            for (int k = 0; k < a->nopt; k++)
                if (strcmp(a->name[k], s) == 0)
                    return die(EXIT_USAGE, "%s given twice", s);
            if (word_in(valopts, s)) {
                if (i + 1 >= argc)
                    return die(EXIT_USAGE, "%s needs a value", s);
                a->name[a->nopt] = s;
                a->val[a->nopt++] = argv[++i];
            } else if (word_in(flags, s)) {
                a->name[a->nopt] = s;
                a->val[a->nopt++] = NULL;
            } else {
                return die(EXIT_USAGE, "unknown option %s here", s);
            }
        } else {
            if (a->npos == MAX_ARGS)
                return die(EXIT_USAGE, "too many arguments");
            a->pos[a->npos++] = s;
        }
    }
    return 0;
}

static bool has(const struct args *a, const char *n)
{
    for (int k = 0; k < a->nopt; k++)
        if (strcmp(a->name[k], n) == 0)
            return true;
    return false;
}

static const char *get(const struct args *a, const char *n)
{
    for (int k = 0; k < a->nopt; k++)
        if (strcmp(a->name[k], n) == 0)
            return a->val[k];
    return NULL;
}

static bool parse_u32(const char *opt, const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || s[0] == '-') {
        die(1, "%s: \"%s\" is not a number 0-4294967295", opt, s ? s : "");
        return false;
    }
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end || v > UINT32_MAX) {
        die(1, "%s: \"%s\" is not a number 0-4294967295", opt, s);
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

static bool parse_ip(const char *opt, const char *s, struct in_addr *out)
{
    if (inet_pton(AF_INET, s, out) != 1) {
        die(1, "%s: \"%s\" is not an IPv4 address", opt, s);
        return false;
    }
    return true;
}

static bool parse_prefix(const char *opt, const char *s, struct vpn_prefix *out)
{
    if (!vpn_prefix_parse(s, out)) {
        die(1, "%s: \"%s\" is not a prefix a.b.c.d/len (len 0-32, no host bits set)", opt, s);
        return false;
    }
    return true;
}

/* ---- output -------------------------------------------------------------------- */

#define MAX_COLS 14

struct table {
    int ncols;
    const char *hdr[MAX_COLS];
    char **cell; /* nrows * ncols */
    size_t nrows;
};

static void table_row(struct table *t, ...)
{
    char **c = realloc(t->cell, (t->nrows + 1) * (size_t)t->ncols * sizeof(*c));
    if (!c) {
        fputs("vpnadm: out of memory\n", stderr);
        exit(1);
    }
    t->cell = c;
    va_list ap;
    va_start(ap, t);
    for (int i = 0; i < t->ncols; i++) {
        const char *s = va_arg(ap, const char *);
        c[t->nrows * (size_t)t->ncols + (size_t)i] = strdup(s ? s : "-");
    }
    va_end(ap);
    t->nrows++;
}

static void table_print(struct table *t)
{
    size_t w[MAX_COLS];
    for (int i = 0; i < t->ncols; i++)
        w[i] = strlen(t->hdr[i]);
    for (size_t r = 0; r < t->nrows; r++)
        for (int i = 0; i < t->ncols; i++) {
            size_t l = strlen(t->cell[r * (size_t)t->ncols + (size_t)i]);
            if (l > w[i])
                w[i] = l;
        }
    for (size_t r = 0; r <= t->nrows; r++) {
        for (int i = 0; i < t->ncols; i++) {
            const char *s = r == 0 ? t->hdr[i] : t->cell[(r - 1) * (size_t)t->ncols + (size_t)i];
            if (i == t->ncols - 1)
                printf("%s\n", s);
            else
                printf("%-*s  ", (int)w[i], s);
        }
    }
    for (size_t k = 0; k < t->nrows * (size_t)t->ncols; k++) {
        OPENSSL_cleanse(t->cell[k], strlen(t->cell[k]));
        free(t->cell[k]);
    }
    free(t->cell);
}

static void hex_str(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

/* ---- common ---------------------------------------------------------------------- */

/* The database is opened -- and so created and migrated -- only once a command
 * has checked its arguments and needs it: a mistyped command line leaves no
 * file behind. */
struct dbref {
    const char *path;
    struct vpndb *db;
};

static struct vpndb *db_of(struct dbref *r)
{
    if (!r->db) {
        char err[VPNDB_ERR_MAX];
        r->db = vpndb_open(r->path, err, sizeof(err));
        if (!r->db)
            exit(die(1, "%s", err));
    }
    return r->db;
}

static int fail_db(const char *err)
{
    return die(1, "%s", err);
}

/* ---- users ---------------------------------------------------------------------- */

static int user_opts(const struct args *a, struct vpndb_user *u)
{
    const char *v;
    if ((v = get(a, "--spi")) && !parse_u32("--spi", v, &u->spi))
        return 1;
    if ((v = get(a, "--key")) && !vpndb_hex_parse(v, u->key, sizeof(u->key), &u->key_len))
        return die(1, "--key: not hex or longer than %d octets", VPNDB_KEY_MAX);
    if ((v = get(a, "--ha")) && !parse_ip("--ha", v, &u->ha))
        return 1;
    if (has(a, "--hoa") && has(a, "--pool"))
        return die(EXIT_USAGE, "give --hoa or --pool, not both");
    if ((v = get(a, "--hoa"))) {
        if (!parse_ip("--hoa", v, &u->hoa))
            return 1;
        u->pool[0] = '\0';
    }
    if ((v = get(a, "--pool"))) {
        if (strlen(v) >= sizeof(u->pool))
            return die(1, "--pool: name longer than %d characters", VPNDB_POOL_NAME_MAX);
        snprintf(u->pool, sizeof(u->pool), "%s", v);
        u->hoa.s_addr = 0;
    }
    return 0;
}

struct list_ctx {
    struct table t;
    int n;
};

/* Every "list" subcommand: the lister fills c (JSON items are printed as they
 * come, table rows are collected); then close the JSON array or print the table. */
static int list_finish(struct list_ctx *c, bool ok, const char *err)
{
    if (!ok)
        return fail_db(err);
    if (g_json)
        puts("]");
    else
        table_print(&c->t);
    return 0;
}

static void list_start(void)
{
    if (g_json)
        putchar('[');
}

static void user_print(const struct vpndb_user *u, void *arg)
{
    struct list_ctx *c = arg;
    char spi[16], ha[INET_ADDRSTRLEN], hoa[INET_ADDRSTRLEN], key[2 * VPNDB_KEY_MAX + 1];
    snprintf(spi, sizeof(spi), "%u", (unsigned)u->spi);
    inet_ntop(AF_INET, &u->ha, ha, sizeof(ha));
    inet_ntop(AF_INET, &u->hoa, hoa, sizeof(hoa));
    if (g_show_keys)
        hex_str(u->key, u->key_len, key);
    else
        snprintf(key, sizeof(key), "<redacted>");
    if (g_json) {
        printf("%s{\"nai\":", c->n++ ? "," : "");
        vpn_json_str(stdout, u->nai);
        printf(",\"spi\":%u,\"ha\":\"%s\",\"hoa\":", (unsigned)u->spi, ha);
        if (u->pool[0]) {
            fputs("null,\"pool\":", stdout);
            vpn_json_str(stdout, u->pool);
        } else {
            printf("\"%s\",\"pool\":null", hoa);
        }
        printf(",\"key\":\"%s\"}", key);
    } else {
        table_row(&c->t, u->nai, spi, ha, u->pool[0] ? "-" : hoa, u->pool[0] ? u->pool : "-", key);
    }
    OPENSSL_cleanse(key, sizeof(key));
}

static int cmd_user(struct dbref *db, int argc, char **argv)
{
    char err[VPNDB_ERR_MAX];
    struct args a;
    if (argc < 1)
        return die(EXIT_USAGE, "user: add, set, del or list?");
    const char *sub = argv[0];
    int rc = parse_args(argc - 1, argv + 1, "--spi --key --ha --hoa --pool", "", &a);
    if (rc)
        return rc;
    if (strcmp(sub, "list") == 0) {
        if (a.npos || a.nopt)
            return die(EXIT_USAGE, "user list takes no arguments");
        struct list_ctx c = {.t = {6, {"NAI", "SPI", "HA", "HOA", "POOL", "KEY"}, NULL, 0}};
        list_start();
        return list_finish(&c, vpndb_user_list(db_of(db), user_print, &c, err, sizeof(err)), err);
    }
    if (a.npos != 1)
        return die(EXIT_USAGE, "user %s: give exactly one NAI", sub);
    const char *nai = a.pos[0];
    if (strcmp(sub, "del") == 0) {
        if (a.nopt)
            return die(EXIT_USAGE, "user del takes no options");
        return vpndb_user_remove(db_of(db), nai, err, sizeof(err)) ? 0 : fail_db(err);
    }
    struct vpndb_user u;
    memset(&u, 0, sizeof(u));
    if (strcmp(sub, "add") == 0) {
        if (!has(&a, "--spi") || !has(&a, "--key") || !has(&a, "--ha") ||
            (!has(&a, "--hoa") && !has(&a, "--pool")))
            return die(EXIT_USAGE, "user add needs --spi, --key, --ha and --hoa or --pool");
        if (strlen(nai) >= sizeof(u.nai))
            return die(1, "NAI longer than %d octets (RFC 7542 §2.2)", VPNDB_NAI_MAX);
        snprintf(u.nai, sizeof(u.nai), "%s", nai);
        rc = user_opts(&a, &u);
        if (!rc && !vpndb_user_add(db_of(db), &u, err, sizeof(err)))
            rc = fail_db(err);
    } else if (strcmp(sub, "set") == 0) {
        if (!a.nopt)
            return die(EXIT_USAGE, "user set: nothing to change");
        int r = vpndb_user_get(db_of(db), nai, &u, err, sizeof(err));
        if (r <= 0)
            return fail_db(err);
        rc = user_opts(&a, &u);
        if (!rc && !vpndb_user_update(db_of(db), &u, err, sizeof(err)))
            rc = fail_db(err);
    } else {
        return die(EXIT_USAGE, "user: unknown subcommand %s", sub);
    }
    vpndb_user_clear(&u);
    return rc;
}

/* ---- profiles ------------------------------------------------------------------ */

static const char PROFILE_OPTS[] = "--num --dst --dscp-up --dscp-down --sec --spi-up --spi-down "
                                   "--vpnshare --enc --integ --lifetime --key-up --key-down";

static int profile_key(const char *opt, const char *hex, struct vpn_profile *p, struct vpn_keys *k)
{
    size_t el = vpn_enc_key_len(p->enc_alg), il = vpn_integ_key_len(p->integ_alg), n;
    uint8_t buf[VPN_ENC_KEY_MAX + VPN_INTEG_KEY_MAX];
    if (!vpndb_hex_parse(hex, buf, sizeof(buf), &n) || n != el + il) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return die(1, "profile %u: %s must be %zu octets of hex (%s %zu + %s %zu)",
                   (unsigned)p->number, opt, el + il, vpn_enc_str(p->enc_alg), el,
                   vpn_integ_str(p->integ_alg), il);
    }
    memset(k, 0, sizeof(*k));
    memcpy(k->enc, buf, el);
    memcpy(k->integ, buf + el, il);
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

static int profile_opts(const struct args *a, struct vpn_profile *p)
{
    const char *v;
    uint32_t n;
    unsigned num = (unsigned)p->number;
    if ((v = get(a, "--dst")) && !parse_prefix("--dst", v, &p->dst))
        return 1;
    if ((v = get(a, "--dscp-up")) && !vpn_dscp_parse(v, &p->dscp_up))
        return die(1, "profile %u: dscp_up %s out of range 0-63 (or not EF/AFxy/CSx/BE)", num, v);
    if ((v = get(a, "--dscp-down")) && !vpn_dscp_parse(v, &p->dscp_down))
        return die(1, "profile %u: dscp_down %s out of range 0-63 (or not EF/AFxy/CSx/BE)", num, v);
    if ((v = get(a, "--vpnshare"))) {
        if (strcmp(v, "0") && strcmp(v, "1"))
            return die(1, "profile %u: vpnshare must be 0 or 1, not %s", num, v);
        p->vpnshare = (uint8_t)(v[0] - '0');
    }
    if ((v = get(a, "--sec"))) {
        enum vpn_sec_type s;
        if (!vpn_sec_parse(v, &s))
            return die(1, "profile %u: security type %s is not esp, ah or encap", num, v);
        p->sec = s;
        /* Defaults that follow from the type unless given explicitly. */
        if (s == VPN_SEC_ENCAP) {
            if (!has(a, "--enc"))
                p->enc_alg = VPN_ENC_NULL;
            if (!has(a, "--integ"))
                p->integ_alg = VPN_INTEG_NONE;
            if (!has(a, "--spi-up"))
                p->spi_up = 0;
            if (!has(a, "--spi-down"))
                p->spi_down = 0;
            p->has_keys = false;
        } else if (s == VPN_SEC_AH && !has(a, "--enc")) {
            p->enc_alg = VPN_ENC_NULL;
        }
    }
    if ((v = get(a, "--enc"))) {
        enum vpn_enc_alg e;
        if (!vpn_enc_parse(v, &e))
            return die(1, "profile %u: unknown encryption algorithm %s", num, v);
        p->enc_alg = e;
        if (e == VPN_ENC_AES_GCM_128 && !has(a, "--integ"))
            p->integ_alg = VPN_INTEG_NONE;
    }
    if ((v = get(a, "--integ"))) {
        enum vpn_integ_alg i;
        if (!vpn_integ_parse(v, &i))
            return die(1, "profile %u: unknown integrity algorithm %s", num, v);
        p->integ_alg = i;
    }
    if ((v = get(a, "--spi-up"))) {
        if (!parse_u32("--spi-up", v, &n))
            return 1;
        p->spi_up = n;
    }
    if ((v = get(a, "--spi-down"))) {
        if (!parse_u32("--spi-down", v, &n))
            return 1;
        p->spi_down = n;
    }
    if ((v = get(a, "--lifetime"))) {
        if (!parse_u32("--lifetime", v, &n))
            return 1;
        p->lifetime = n;
    }
    int kopts = has(a, "--key-up") + has(a, "--key-down");
    if (kopts + has(a, "--gen-keys") + has(a, "--no-keys") > 0 &&
        (kopts ? 1 : 0) + has(a, "--gen-keys") + has(a, "--no-keys") > 1)
        return die(EXIT_USAGE, "give --key-up/--key-down, --gen-keys or --no-keys, not several");
    if (kopts == 1)
        return die(EXIT_USAGE, "--key-up and --key-down go together");
    if (kopts == 2) {
        if (profile_key("--key-up", get(a, "--key-up"), p, &p->key_up) ||
            profile_key("--key-down", get(a, "--key-down"), p, &p->key_down))
            return 1;
        p->has_keys = true;
    } else if (has(a, "--gen-keys")) {
        if (!vpn_profile_generate_keys(p))
            return die(1, "profile %u: no keys needed (vpnshare 0 or encap) or RAND failed", num);
    } else if (has(a, "--no-keys") || has(a, "--enc") || has(a, "--integ")) {
        /* Stored keys do not survive an algorithm change. */
        if (p->has_keys)
            OPENSSL_cleanse(&p->key_up, sizeof(p->key_up) * 2);
        p->has_keys = false;
    }
    return 0;
}

static void profile_print(const struct vpn_profile *p, void *arg)
{
    struct list_ctx *c = arg;
    char num[12], dst[20], du[8], dd[8], su[12], sd[12], lt[12];
    char keys[2 * 2 * (VPN_ENC_KEY_MAX + VPN_INTEG_KEY_MAX) + 2];
    snprintf(num, sizeof(num), "%u", (unsigned)p->number);
    snprintf(su, sizeof(su), "%u", (unsigned)p->spi_up);
    snprintf(sd, sizeof(sd), "%u", (unsigned)p->spi_down);
    snprintf(lt, sizeof(lt), "%u", (unsigned)p->lifetime);
    vpn_prefix_str(&p->dst, dst);
    vpn_dscp_str(p->dscp_up, du);
    vpn_dscp_str(p->dscp_down, dd);
    size_t el = vpn_enc_key_len(p->enc_alg), il = vpn_integ_key_len(p->integ_alg);
    char ku[2 * (VPN_ENC_KEY_MAX + VPN_INTEG_KEY_MAX) + 1], kd[sizeof(ku)];
    ku[0] = kd[0] = '\0';
    if (!p->has_keys) {
        snprintf(keys, sizeof(keys), "none");
    } else if (!g_show_keys) {
        snprintf(keys, sizeof(keys), "<redacted>");
    } else {
        hex_str(p->key_up.enc, el, ku);
        hex_str(p->key_up.integ, il, ku + 2 * el);
        hex_str(p->key_down.enc, el, kd);
        hex_str(p->key_down.integ, il, kd + 2 * el);
        snprintf(keys, sizeof(keys), "%s/%s", ku, kd);
    }
    if (g_json) {
        printf("%s{\"nai\":", c->n++ ? "," : "");
        vpn_json_str(stdout, p->nai);
        printf(",\"profile\":%s,\"vpnshare\":%u,\"dst\":\"%s\",\"dscp_up\":\"%s\","
               "\"dscp_down\":\"%s\",\"sec\":\"%s\",\"enc\":\"%s\",\"integ\":\"%s\","
               "\"spi_up\":%s,\"spi_down\":%s,\"lifetime\":%s,\"keys\":",
               num, p->vpnshare, dst, du, dd, vpn_sec_str(p->sec), vpn_enc_str(p->enc_alg),
               vpn_integ_str(p->integ_alg), su, sd, lt);
        if (p->has_keys && g_show_keys)
            printf("{\"up\":\"%s\",\"down\":\"%s\"}}", ku, kd);
        else
            printf("\"%s\"}", keys);
    } else {
        table_row(&c->t, p->nai, num, p->vpnshare ? "1" : "0", dst, du, dd, vpn_sec_str(p->sec),
                  vpn_enc_str(p->enc_alg), vpn_integ_str(p->integ_alg), su, sd, lt, keys);
    }
    OPENSSL_cleanse(keys, sizeof(keys));
    OPENSSL_cleanse(ku, sizeof(ku));
    OPENSSL_cleanse(kd, sizeof(kd));
}

static int cmd_profile(struct dbref *db, int argc, char **argv)
{
    char err[VPNDB_ERR_MAX];
    struct args a;
    if (argc < 1)
        return die(EXIT_USAGE, "profile: add, set, del or list?");
    const char *sub = argv[0];
    int rc = parse_args(argc - 1, argv + 1, PROFILE_OPTS, "--gen-keys --no-keys", &a);
    if (rc)
        return rc;
    if (strcmp(sub, "list") == 0) {
        if (a.npos > 1 || a.nopt)
            return die(EXIT_USAGE, "profile list takes at most one NAI");
        struct list_ctx c = {.t = {13,
                                   {"NAI", "NUM", "SHARE", "DST", "DSCP-UP", "DSCP-DOWN", "SEC",
                                    "ENC", "INTEG", "SPI-UP", "SPI-DOWN", "LIFETIME", "KEYS"},
                                   NULL,
                                   0}};
        list_start();
        return list_finish(&c,
                           vpndb_profile_list(db_of(db), a.npos ? a.pos[0] : NULL, profile_print,
                                              &c, err, sizeof(err)),
                           err);
    }
    if (a.npos != 1 || !has(&a, "--num"))
        return die(EXIT_USAGE, "profile %s: give one NAI and --num N", sub);
    const char *nai = a.pos[0];
    uint32_t num;
    if (!parse_u32("--num", get(&a, "--num"), &num))
        return 1;
    if (strcmp(sub, "del") == 0) {
        if (a.nopt != 1)
            return die(EXIT_USAGE, "profile del takes only --num");
        return vpndb_profile_remove(db_of(db), nai, num, err, sizeof(err)) ? 0 : fail_db(err);
    }
    struct vpn_profile p;
    vpn_profile_init(&p);
    if (strcmp(sub, "add") == 0) {
        if (!has(&a, "--dst")) {
            vpn_profile_clear(&p);
            return die(EXIT_USAGE, "profile add needs --dst PREFIX");
        }
        if (!vpn_profile_set_nai(&p, nai)) {
            vpn_profile_clear(&p);
            return die(1, "out of memory");
        }
        p.number = num;
        rc = profile_opts(&a, &p);
        if (!rc && !vpndb_profile_add(db_of(db), &p, err, sizeof(err)))
            rc = fail_db(err);
    } else if (strcmp(sub, "set") == 0) {
        if (a.nopt < 2) {
            vpn_profile_clear(&p);
            return die(EXIT_USAGE, "profile set: nothing to change");
        }
        if (vpndb_profile_get(db_of(db), nai, num, &p, err, sizeof(err)) <= 0) {
            vpn_profile_clear(&p);
            return fail_db(err);
        }
        rc = profile_opts(&a, &p);
        if (!rc && !vpndb_profile_update(db_of(db), &p, err, sizeof(err)))
            rc = fail_db(err);
    } else {
        rc = die(EXIT_USAGE, "profile: unknown subcommand %s", sub);
    }
    vpn_profile_clear(&p);
    return rc;
}

/* ---- CN-GW ------------------------------------------------------------------------ */

static void cngw_print(const struct cngw_entry *e, void *arg)
{
    struct list_ctx *c = arg;
    char pfx[20], gw[INET_ADDRSTRLEN];
    vpn_prefix_str(&e->prefix, pfx);
    inet_ntop(AF_INET, &e->gw, gw, sizeof(gw));
    if (g_json)
        printf("%s{\"prefix\":\"%s\",\"gw\":\"%s\",\"type\":\"%s\"}", c->n++ ? "," : "", pfx, gw,
               vpn_gw_type_str(e->type));
    else
        table_row(&c->t, pfx, gw, vpn_gw_type_str(e->type));
}

static int cmd_cngw(struct dbref *db, int argc, char **argv)
{
    char err[VPNDB_ERR_MAX];
    struct args a;
    if (argc < 1)
        return die(EXIT_USAGE, "cngw: add, del or list?");
    const char *sub = argv[0];
    int rc = parse_args(argc - 1, argv + 1, "", "", &a);
    if (rc)
        return rc;
    if (strcmp(sub, "list") == 0) {
        if (a.npos)
            return die(EXIT_USAGE, "cngw list takes no arguments");
        struct list_ctx c = {.t = {3, {"PREFIX", "GATEWAY", "TYPE"}, NULL, 0}};
        list_start();
        return list_finish(&c, vpndb_cngw_list(db_of(db), cngw_print, &c, err, sizeof(err)), err);
    }
    if (strcmp(sub, "add") == 0) {
        if (a.npos != 3)
            return die(EXIT_USAGE, "cngw add PREFIX GW static|dynamic");
        struct cngw_entry e;
        enum vpn_gw_type t;
        if (!parse_prefix("cngw prefix", a.pos[0], &e.prefix) ||
            !parse_ip("cngw gateway", a.pos[1], &e.gw))
            return 1;
        if (!vpn_gw_type_parse(a.pos[2], &t))
            return die(1, "cngw: type %s is not static or dynamic", a.pos[2]);
        e.type = t;
        return vpndb_cngw_add(db_of(db), &e, err, sizeof(err)) ? 0 : fail_db(err);
    }
    if (strcmp(sub, "del") == 0) {
        struct vpn_prefix p;
        if (a.npos != 1)
            return die(EXIT_USAGE, "cngw del PREFIX");
        if (!parse_prefix("cngw prefix", a.pos[0], &p))
            return 1;
        return vpndb_cngw_remove(db_of(db), p, err, sizeof(err)) ? 0 : fail_db(err);
    }
    return die(EXIT_USAGE, "cngw: unknown subcommand %s", sub);
}

/* ---- default SAs ------------------------------------------------------------------- */

static void defsa_print(const struct vpndb_defsa *s, void *arg)
{
    struct list_ctx *c = arg;
    char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN], spi[12];
    char key[2 * (VPN_ENC_KEY_MAX + VPN_INTEG_KEY_MAX) + 1];
    inet_ntop(AF_INET, &s->src, src, sizeof(src));
    inet_ntop(AF_INET, &s->dst, dst, sizeof(dst));
    snprintf(spi, sizeof(spi), "%u", (unsigned)s->spi);
    size_t el = vpn_enc_key_len(s->enc_alg), il = vpn_integ_key_len(s->integ_alg);
    if (g_show_keys && s->has_keys) {
        hex_str(s->keys.enc, el, key);
        hex_str(s->keys.integ, il, key + 2 * el);
    } else {
        snprintf(key, sizeof(key), s->has_keys ? "<redacted>" : "none");
    }
    if (g_json)
        printf("%s{\"src_gw\":\"%s\",\"dst_gw\":\"%s\",\"spi\":%s,\"sec\":\"%s\",\"enc\":\"%s\","
               "\"integ\":\"%s\",\"key\":\"%s\"}",
               c->n++ ? "," : "", src, dst, spi, vpn_sec_str(s->sec), vpn_enc_str(s->enc_alg),
               vpn_integ_str(s->integ_alg), key);
    else
        table_row(&c->t, src, dst, spi, vpn_sec_str(s->sec), vpn_enc_str(s->enc_alg),
                  vpn_integ_str(s->integ_alg), key);
    OPENSSL_cleanse(key, sizeof(key));
}

static int cmd_defsa(struct dbref *db, int argc, char **argv)
{
    char err[VPNDB_ERR_MAX];
    struct args a;
    if (argc < 1)
        return die(EXIT_USAGE, "defsa: add, del or list?");
    const char *sub = argv[0];
    int rc = parse_args(argc - 1, argv + 1, "--spi --sec --enc --integ --key", "--gen-keys", &a);
    if (rc)
        return rc;
    if (strcmp(sub, "list") == 0) {
        if (a.npos || a.nopt)
            return die(EXIT_USAGE, "defsa list takes no arguments");
        struct list_ctx c = {
            .t = {7, {"SRC-GW", "DST-GW", "SPI", "SEC", "ENC", "INTEG", "KEY"}, NULL, 0}};
        list_start();
        return list_finish(&c, vpndb_defsa_list(db_of(db), defsa_print, &c, err, sizeof(err)), err);
    }
    if (a.npos != 2)
        return die(EXIT_USAGE, "defsa %s SRC_GW DST_GW", sub);
    struct vpndb_defsa s;
    memset(&s, 0, sizeof(s));
    if (!parse_ip("defsa source gateway", a.pos[0], &s.src) ||
        !parse_ip("defsa destination gateway", a.pos[1], &s.dst))
        return 1;
    if (strcmp(sub, "del") == 0) {
        if (a.nopt)
            return die(EXIT_USAGE, "defsa del takes no options");
        return vpndb_defsa_remove(db_of(db), s.src, s.dst, err, sizeof(err)) ? 0 : fail_db(err);
    }
    if (strcmp(sub, "add") != 0)
        return die(EXIT_USAGE, "defsa: unknown subcommand %s", sub);
    if (!has(&a, "--spi") || has(&a, "--key") == has(&a, "--gen-keys"))
        return die(EXIT_USAGE, "defsa add needs --spi and one of --key HEX or --gen-keys");
    const char *v;
    s.sec = VPN_SEC_ESP;
    s.enc_alg = VPN_ENC_AES_CBC_128;
    s.integ_alg = VPN_INTEG_HMAC_SHA256;
    if (!parse_u32("--spi", get(&a, "--spi"), &s.spi))
        return 1;
    if ((v = get(&a, "--sec"))) {
        enum vpn_sec_type t;
        if (!vpn_sec_parse(v, &t) || t == VPN_SEC_ENCAP)
            return die(1, "defsa: security type %s is not esp or ah", v);
        s.sec = t;
        if (t == VPN_SEC_AH && !has(&a, "--enc"))
            s.enc_alg = VPN_ENC_NULL;
    }
    if ((v = get(&a, "--enc"))) {
        enum vpn_enc_alg e;
        if (!vpn_enc_parse(v, &e))
            return die(1, "defsa: unknown encryption algorithm %s", v);
        s.enc_alg = e;
        if (e == VPN_ENC_AES_GCM_128 && !has(&a, "--integ"))
            s.integ_alg = VPN_INTEG_NONE;
    }
    if ((v = get(&a, "--integ"))) {
        enum vpn_integ_alg i;
        if (!vpn_integ_parse(v, &i))
            return die(1, "defsa: unknown integrity algorithm %s", v);
        s.integ_alg = i;
    }
    struct vpn_profile tmp;
    vpn_profile_init(&tmp);
    tmp.enc_alg = s.enc_alg;
    tmp.integ_alg = s.integ_alg;
    if (has(&a, "--key")) {
        rc = profile_key("--key", get(&a, "--key"), &tmp, &s.keys);
        s.has_keys = rc == 0;
    } else if (vpn_profile_generate_keys(&tmp)) {
        s.keys = tmp.key_up;
        s.has_keys = true;
    } else {
        rc = die(1, "defsa: no key material needed or RAND failed");
    }
    vpn_profile_clear(&tmp);
    if (!rc && !vpndb_defsa_add(db_of(db), &s, err, sizeof(err)))
        rc = fail_db(err);
    vpndb_defsa_clear(&s);
    return rc;
}

/* ---- pools --------------------------------------------------------------------------- */

static void pool_print(const char *name, struct vpn_prefix p, unsigned used, unsigned size,
                       void *arg)
{
    struct list_ctx *c = arg;
    char pfx[20], u[12], s[12];
    vpn_prefix_str(&p, pfx);
    snprintf(u, sizeof(u), "%u", used);
    snprintf(s, sizeof(s), "%u", size);
    if (g_json) {
        printf("%s{\"name\":", c->n++ ? "," : "");
        vpn_json_str(stdout, name);
        printf(",\"prefix\":\"%s\",\"used\":%u,\"size\":%u}", pfx, used, size);
    } else {
        table_row(&c->t, name, pfx, u, s);
    }
}

static int cmd_pool(struct dbref *db, int argc, char **argv)
{
    char err[VPNDB_ERR_MAX];
    struct args a;
    if (argc < 1)
        return die(EXIT_USAGE, "pool: add, del or list?");
    const char *sub = argv[0];
    int rc = parse_args(argc - 1, argv + 1, "", "", &a);
    if (rc)
        return rc;
    if (strcmp(sub, "list") == 0) {
        if (a.npos)
            return die(EXIT_USAGE, "pool list takes no arguments");
        struct list_ctx c = {.t = {4, {"NAME", "PREFIX", "USED", "SIZE"}, NULL, 0}};
        list_start();
        return list_finish(&c, vpndb_pool_list(db_of(db), pool_print, &c, err, sizeof(err)), err);
    }
    if (strcmp(sub, "add") == 0) {
        struct vpn_prefix p;
        if (a.npos != 2)
            return die(EXIT_USAGE, "pool add NAME PREFIX");
        if (!parse_prefix("pool prefix", a.pos[1], &p))
            return 1;
        return vpndb_pool_add(db_of(db), a.pos[0], p, err, sizeof(err)) ? 0 : fail_db(err);
    }
    if (strcmp(sub, "del") == 0) {
        if (a.npos != 1)
            return die(EXIT_USAGE, "pool del NAME");
        return vpndb_pool_remove(db_of(db), a.pos[0], err, sizeof(err)) ? 0 : fail_db(err);
    }
    return die(EXIT_USAGE, "pool: unknown subcommand %s", sub);
}

/* ---- main ---------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *dbpath = getenv("VPNADM_DB");
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        } else if (strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "--db") == 0) {
            if (++i >= argc)
                return die(EXIT_USAGE, "-d needs a file name");
            dbpath = argv[i];
        } else if (strcmp(argv[i], "--json") == 0) {
            g_json = true;
        } else if (strcmp(argv[i], "--show-keys") == 0) {
            g_show_keys = true;
        } else {
            return die(EXIT_USAGE, "unknown option %s", argv[i]);
        }
    }
    if (i >= argc)
        return die(EXIT_USAGE, "no command");
    if (!dbpath || !*dbpath)
        return die(EXIT_USAGE, "no database: give -d DB or set VPNADM_DB");
    const char *cmd = argv[i++];
    static const char *const CMDS[] = {"user", "profile", "cngw", "defsa", "pool", "schema"};
    bool known = false;
    for (size_t k = 0; k < sizeof(CMDS) / sizeof(CMDS[0]); k++)
        known |= strcmp(cmd, CMDS[k]) == 0;
    if (!known)
        return die(EXIT_USAGE, "unknown command %s", cmd);
    if (strcmp(cmd, "schema") == 0) {
        struct args a;
        int rc = parse_args(argc - i, argv + i, "", "", &a);
        if (rc)
            return rc;
        if (a.npos)
            return die(EXIT_USAGE, "schema takes no arguments");
    }

    struct dbref db = {.path = dbpath, .db = NULL};
    int rc;
    if (strcmp(cmd, "user") == 0)
        rc = cmd_user(&db, argc - i, argv + i);
    else if (strcmp(cmd, "profile") == 0)
        rc = cmd_profile(&db, argc - i, argv + i);
    else if (strcmp(cmd, "cngw") == 0)
        rc = cmd_cngw(&db, argc - i, argv + i);
    else if (strcmp(cmd, "defsa") == 0)
        rc = cmd_defsa(&db, argc - i, argv + i);
    else if (strcmp(cmd, "pool") == 0)
        rc = cmd_pool(&db, argc - i, argv + i);
    else {
        if (g_json)
            printf("{\"schema_version\":%d,\"supported\":%d}\n", vpndb_schema_version(db_of(&db)),
                   VPNDB_SCHEMA_VERSION);
        else
            printf("%d\n", vpndb_schema_version(db_of(&db)));
        rc = 0;
    }
    if (db.db)
        vpndb_close(db.db);
    return rc;
}
