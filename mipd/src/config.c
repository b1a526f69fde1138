#include "config.h"

#include "confutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int get_addr(struct cfgctx *x, const config_setting_t *grp, const char *key, bool required,
                    struct in_addr *out)
{
    const config_setting_t *s;
    const char *v;
    int r = cfg_member_str(x, grp, key, required, " (an IPv4 address)",
                           "a string holding an IPv4 address", &s, &v);
    if (r <= 0)
        return r;
    if (inet_pton(AF_INET, v, out) != 1)
        return cfg_fail(x, s, "'%s': \"%s\" is not an IPv4 address", key, v);
    if (out->s_addr == 0)
        return cfg_fail(x, s, "'%s' must not be 0.0.0.0", key);
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* An SA: spi (>= 256, RFC 5944 §1.6 reserves 0-255) and a hex key of
 * min_key+ octets (16 for the HMAC-MD5 SAs of RFC 5944). */
static int get_sa(struct cfgctx *x, const config_setting_t *grp, struct mipd_sa *sa, size_t min_key)
{
    if (!config_setting_get_member(grp, "spi"))
        return cfg_fail(x, grp, "missing 'spi'");
    if (cfg_get_uint(x, grp, "spi", 256, UINT32_MAX > INT32_MAX ? INT32_MAX : UINT32_MAX, 0,
                     &sa->spi))
        return -1;
    const config_setting_t *s;
    const char *v;
    if (cfg_member_str(x, grp, "key", true, " (hex)", "a hex string", &s, &v) < 0)
        return -1;
    size_t n = strlen(v);
    if (n % 2 || n / 2 < min_key || n / 2 > MIPD_KEY_MAX)
        return cfg_fail(x, s, "'key' must be %zu to %d hex digits", 2 * min_key, 2 * MIPD_KEY_MAX);
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(v[i]), lo = hexval(v[i + 1]);
        if (hi < 0 || lo < 0) {
            OPENSSL_cleanse(sa->key, sizeof(sa->key));
            return cfg_fail(x, s, "'key' has a non-hex character at position %zu",
                            i + (hi < 0 ? 0 : 1));
        }
        sa->key[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    sa->keylen = n / 2;
    sa->alg = MIP_AUTH_HMAC_MD5;
    return 0;
}

static int get_peers(struct cfgctx *x, const config_setting_t *grp, const char *key, size_t min_key,
                     struct mipd_peer **out, size_t *nout)
{
    const config_setting_t *l = config_setting_get_member(grp, key);
    if (!l)
        return 0;
    if (!config_setting_is_list(l) && !config_setting_is_array(l))
        return cfg_fail(x, l, "'%s' must be a list ( {...}, ... )", key);
    int n = config_setting_length(l);
    *out = calloc(n ? (size_t)n : 1, sizeof(**out));
    if (!*out)
        return cfg_fail(x, l, "out of memory");
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(l, i);
        if (!config_setting_is_group(e))
            return cfg_fail(x, e, "'%s' entries must be groups { address; spi; key; }", key);
        struct mipd_peer *p = &(*out)[i];
        static const char *const known[] = {"address", "spi", "key", NULL};
        if (cfg_check_known(x, e, key, known) || get_addr(x, e, "address", true, &p->addr) ||
            get_sa(x, e, &p->sa, min_key))
            return -1;
        *nout = (size_t)i + 1;
        for (int j = 0; j < i; j++)
            if ((*out)[j].addr.s_addr == p->addr.s_addr)
                return cfg_fail(x, e, "%s: address %s is listed twice", key, inet_ntoa(p->addr));
    }
    return 0;
}

/* `aaa = { diameter_conf = "..."; [timeout_ms = N;] };` (timeout only for the FA). */
static int get_aaa(struct cfgctx *x, const config_setting_t *g, bool with_timeout,
                   struct mipd_aaa *aaa)
{
    const config_setting_t *s = config_setting_get_member(g, "aaa");
    if (!s)
        return 0;
    if (!config_setting_is_group(s))
        return cfg_fail(x, s, "'aaa' must be a group { diameter_conf = \"...\"; }");
    static const char *const known_fa[] = {"diameter_conf", "timeout_ms", NULL};
    static const char *const known_ha[] = {"diameter_conf", NULL};
    if (cfg_check_known(x, s, "aaa", with_timeout ? known_fa : known_ha) ||
        cfg_get_str(x, s, "diameter_conf", true, aaa->diameter_conf, sizeof(aaa->diameter_conf)) ||
        cfg_get_uint(x, s, "timeout_ms", 100, 600000, 5000, &aaa->timeout_ms))
        return -1;
    if (access(aaa->diameter_conf, R_OK) != 0)
        return cfg_fail(x, config_setting_get_member(s, "diameter_conf"),
                        "diameter_conf \"%s\": %s", aaa->diameter_conf, strerror(errno));
    aaa->enabled = true;
    return 0;
}

static int get_prefix(struct cfgctx *x, const config_setting_t *s, struct mipd_prefix *out)
{
    const char *v = config_setting_get_string(s);
    if (!v)
        return cfg_fail(x, s, "a served prefix must be a string \"a.b.c.d/len\"");
    char buf[32];
    if (strlen(v) >= sizeof(buf))
        return cfg_fail(x, s, "\"%s\" is not a prefix a.b.c.d/len", v);
    strcpy(buf, v);
    char *slash = strchr(buf, '/');
    long len = 32;
    if (slash) {
        char *end;
        *slash = 0;
        len = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || len < 0 || len > 32)
            return cfg_fail(x, s, "\"%s\": prefix length must be 0..32", v);
    }
    if (inet_pton(AF_INET, buf, &out->addr) != 1)
        return cfg_fail(x, s, "\"%s\" is not a prefix a.b.c.d/len", v);
    uint32_t mask = len ? 0xffffffffu << (32 - len) : 0;
    if (ntohl(out->addr.s_addr) & ~mask)
        return cfg_fail(x, s, "\"%s\" has host bits set (did you mean %s/%ld?)", v,
                        inet_ntoa((struct in_addr){htonl(ntohl(out->addr.s_addr) & mask)}), len);
    out->len = (uint8_t)len;
    return 0;
}

/* Hex string of exactly len octets into out (wiped on error). */
static int get_hex_exact(struct cfgctx *x, const config_setting_t *grp, const char *key,
                         uint8_t *out, size_t len, const char *what)
{
    const config_setting_t *s;
    const char *v;
    if (cfg_member_str(x, grp, key, true, " (hex)", "a hex string", &s, &v) < 0)
        return -1;
    if (strlen(v) != 2 * len)
        return cfg_fail(x, s, "'%s' must be %zu hex digits (%s), not %zu", key, 2 * len, what,
                        strlen(v));
    for (size_t i = 0; i < 2 * len; i += 2) {
        int hi = hexval(v[i]), lo = hexval(v[i + 1]);
        if (hi < 0 || lo < 0) {
            OPENSSL_cleanse(out, len);
            return cfg_fail(x, s, "'%s' has a non-hex character at position %zu", key,
                            i + (hi < 0 ? 0 : 1));
        }
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* One direction's key: the encryption key then the integrity key. */
static int get_sa_key(struct cfgctx *x, const config_setting_t *grp, const char *key,
                      const struct mipd_default_sa *d, struct vpn_keys *k)
{
    size_t el = vpn_enc_key_len(d->enc_alg), il = vpn_integ_key_len(d->integ_alg);
    if (el + il == 0)
        return config_setting_get_member(grp, key)
                   ? cfg_fail(x, config_setting_get_member(grp, key),
                              "'%s': enc \"null\" and integ \"none\" take no key", key)
                   : 0;
    uint8_t buf[VPN_ENC_KEY_MAX + VPN_INTEG_KEY_MAX];
    char what[96];
    snprintf(what, sizeof(what), "%zu octets of %s key then %zu of %s key", el,
             vpn_enc_str(d->enc_alg), il, vpn_integ_str(d->integ_alg));
    if (get_hex_exact(x, grp, key, buf, el + il, what))
        return -1;
    memcpy(k->enc, buf, el);
    memcpy(k->integ, buf + el, il);
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

/* `default_sas = ( { peer; spi_out; spi_in; sec; enc; integ; key_out; key_in; }, ... )` */
static int get_default_sas(struct cfgctx *x, const config_setting_t *g, struct mipd_config *c)
{
    const config_setting_t *l = config_setting_get_member(g, "default_sas");
    if (!l)
        return 0;
    if (!config_setting_is_list(l))
        return cfg_fail(x, l, "'default_sas' must be a list ( { peer = ...; ... }, ... )");
    int n = config_setting_length(l);
    c->default_sas = calloc(n ? (size_t)n : 1, sizeof(*c->default_sas));
    if (!c->default_sas)
        return cfg_fail(x, l, "out of memory");
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(l, i);
        if (!config_setting_is_group(e))
            return cfg_fail(x, e, "default_sas entries must be groups { peer = \"...\"; ... }");
        struct mipd_default_sa *d = &c->default_sas[i];
        c->n_default_sas = (size_t)i + 1;
        static const char *const known[] = {"peer",  "spi_out", "spi_in", "sec", "enc",
                                            "integ", "key_out", "key_in", NULL};
        if (cfg_check_known(x, e, "default_sas", known) || get_addr(x, e, "peer", true, &d->peer))
            return -1;
        if (!config_setting_get_member(e, "spi_out") || !config_setting_get_member(e, "spi_in"))
            return cfg_fail(x, e, "missing 'spi_out' or 'spi_in'");
        /* RFC 4303 §2.1: SPIs 1-255 are reserved, 0 is never sent. */
        if (cfg_get_uint(x, e, "spi_out", VPN_SPI_MIN,
                         UINT32_MAX > INT32_MAX ? INT32_MAX : UINT32_MAX, 0, &d->spi_out) ||
            cfg_get_uint(x, e, "spi_in", VPN_SPI_MIN,
                         UINT32_MAX > INT32_MAX ? INT32_MAX : UINT32_MAX, 0, &d->spi_in))
            return -1;
        char v[32] = "esp";
        enum vpn_sec_type sec;
        if (cfg_get_str(x, e, "sec", false, v, sizeof(v)))
            return -1;
        if (!vpn_sec_parse(v, &sec) || sec == VPN_SEC_ENCAP)
            return cfg_fail(x, config_setting_get_member(e, "sec"),
                            "'sec' must be \"esp\" or \"ah\" (an SA needs IPsec)");
        d->sec = (uint8_t)sec;
        enum vpn_enc_alg enc = sec == VPN_SEC_AH ? VPN_ENC_NULL : VPN_ENC_AES_CBC_128;
        enum vpn_integ_alg integ = VPN_INTEG_HMAC_SHA256;
        snprintf(v, sizeof(v), "%s", vpn_enc_str(enc));
        if (cfg_get_str(x, e, "enc", false, v, sizeof(v)))
            return -1;
        if (!vpn_enc_parse(v, &enc))
            return cfg_fail(x, config_setting_get_member(e, "enc"),
                            "'enc' must be aes-cbc-128, aes-cbc-256, aes-gcm-128 or null");
        snprintf(v, sizeof(v), "%s", vpn_integ_str(integ));
        if (cfg_get_str(x, e, "integ", false, v, sizeof(v)))
            return -1;
        if (!vpn_integ_parse(v, &integ))
            return cfg_fail(x, config_setting_get_member(e, "integ"),
                            "'integ' must be hmac-sha1, hmac-sha256 or none");
        if (enc == VPN_ENC_AES_GCM_128) {
            /* AEAD: no separate integrity algorithm (RFC 4106). */
            if (config_setting_get_member(e, "integ") && integ != VPN_INTEG_NONE)
                return cfg_fail(x, config_setting_get_member(e, "integ"),
                                "'integ' must be \"none\" (or absent) with enc \"aes-gcm-128\"");
            integ = VPN_INTEG_NONE;
        }
        if (sec == VPN_SEC_AH && (enc != VPN_ENC_NULL || integ == VPN_INTEG_NONE))
            return cfg_fail(x, e, "sec \"ah\" needs enc \"null\" and an integrity algorithm");
        if (sec == VPN_SEC_ESP && enc == VPN_ENC_NULL && integ == VPN_INTEG_NONE)
            return cfg_fail(x, e, "sec \"esp\" with enc \"null\" needs an integrity algorithm");
        d->enc_alg = (uint8_t)enc;
        d->integ_alg = (uint8_t)integ;
        if (get_sa_key(x, e, "key_out", d, &d->key_out) ||
            get_sa_key(x, e, "key_in", d, &d->key_in))
            return -1;
        for (int j = 0; j < i; j++)
            if (c->default_sas[j].peer.s_addr == d->peer.s_addr)
                return cfg_fail(x, e, "default_sas: peer %s is listed twice", inet_ntoa(d->peer));
    }
    return 0;
}

static int load_pcn(struct cfgctx *x, config_setting_t *root, struct mipd_config *c)
{
    const config_setting_t *g = config_setting_get_member(root, "pcn");
    if (!g || !config_setting_is_group(g))
        return cfg_fail(x, g ? g : root, "missing group 'pcn: { ... };' for role pcn");
    static const char *const known[] = {"address",       "serves",      "replay_window",
                                        "ha_peers",      "default_sas", "refresh_threshold_s",
                                        "br_timeout_ms", NULL};
    if (cfg_check_known(x, g, "pcn", known) || get_addr(x, g, "address", true, &c->pcn.address) ||
        cfg_get_uint(x, g, "replay_window", 1, 86400, 7, &c->pcn.replay_window) ||
        cfg_get_uint(x, g, "refresh_threshold_s", 0, 86400, 10, &c->pcn.refresh_threshold_s) ||
        cfg_get_uint(x, g, "br_timeout_ms", 50, 60000, 1000, &c->pcn.br_timeout_ms) ||
        get_default_sas(x, g, c))
        return -1;
    const config_setting_t *l = config_setting_get_member(g, "serves");
    if (l) {
        if (!config_setting_is_list(l) && !config_setting_is_array(l))
            return cfg_fail(x, l, "'serves' must be a list of prefixes ( \"a.b.c.d/len\", ... )");
        int n = config_setting_length(l);
        c->pcn.serves = calloc(n ? (size_t)n : 1, sizeof(*c->pcn.serves));
        if (!c->pcn.serves)
            return cfg_fail(x, l, "out of memory");
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(l, i);
            if (get_prefix(x, e, &c->pcn.serves[i]))
                return -1;
            c->pcn.n_serves = (size_t)i + 1;
            for (int j = 0; j < i; j++)
                if (c->pcn.serves[j].addr.s_addr == c->pcn.serves[i].addr.s_addr &&
                    c->pcn.serves[j].len == c->pcn.serves[i].len)
                    return cfg_fail(x, e, "served prefix listed twice");
        }
    }
    if (get_peers(x, g, "ha_peers", MIPD_RO_KEY_MIN, &c->pcn.ha_peers, &c->pcn.n_ha_peers))
        return -1;
    if (c->pcn.n_ha_peers == 0)
        return cfg_fail(x, g,
                        "'ha_peers' must list at least one home agent (address, spi, key): "
                        "every BU is authenticated");
    return 0;
}

static int load_ha(struct cfgctx *x, config_setting_t *root, struct mipd_config *c)
{
    const config_setting_t *g = config_setting_get_member(root, "ha");
    if (!g || !config_setting_is_group(g))
        return cfg_fail(x, g ? g : root, "missing group 'ha: { ... };' for role ha");
    if (get_addr(x, g, "address", true, &c->ha.address) ||
        cfg_get_str(x, g, "home_link", true, c->ha.home_link, sizeof(c->ha.home_link)) ||
        cfg_get_uint(x, g, "max_lifetime", 1, 65534, 600, &c->ha.max_lifetime) ||
        cfg_get_uint(x, g, "replay_window", 1, 86400, 7, &c->ha.replay_window) ||
        cfg_get_bool(x, g, "reverse_tunnel", true, &c->ha.reverse_tunnel))
        return -1;
    const config_setting_t *l = config_setting_get_member(g, "mobile_nodes");
    if (l) {
        if (!config_setting_is_list(l))
            return cfg_fail(x, l, "'mobile_nodes' must be a list ( {...}, ... )");
        int n = config_setting_length(l);
        c->ha.mns = calloc(n ? (size_t)n : 1, sizeof(*c->ha.mns));
        if (!c->ha.mns)
            return cfg_fail(x, l, "out of memory");
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(l, i);
            if (!config_setting_is_group(e))
                return cfg_fail(x, e, "mobile_nodes entries must be groups");
            struct mipd_mn *mn = &c->ha.mns[i];
            c->ha.n_mns = (size_t)i + 1;
            if (cfg_get_str(x, e, "nai", true, mn->nai, sizeof(mn->nai)) ||
                get_addr(x, e, "home_address", true, &mn->home_addr) || get_sa(x, e, &mn->sa, 16))
                return -1;
            for (int j = 0; j < i; j++) {
                if (!strcmp(c->ha.mns[j].nai, mn->nai))
                    return cfg_fail(x, e, "duplicate nai \"%s\"", mn->nai);
                if (c->ha.mns[j].home_addr.s_addr == mn->home_addr.s_addr)
                    return cfg_fail(x, e, "home_address %s is given to two mobile nodes",
                                    inet_ntoa(mn->home_addr));
            }
        }
    }
    if (get_peers(x, g, "fa_peers", 16, &c->ha.fa_peers, &c->ha.n_fa_peers) ||
        get_aaa(x, g, false, &c->ha.aaa) ||
        get_peers(x, g, "pcn_peers", MIPD_RO_KEY_MIN, &c->ha.pcn_peers, &c->ha.n_pcn_peers) ||
        cfg_get_uint(x, g, "bu_timeout_ms", 50, 60000, 1000, &c->ha.bu_timeout_ms) ||
        cfg_get_uint(x, g, "bu_retries", 1, 10, 3, &c->ha.bu_retries) || get_default_sas(x, g, c))
        return -1;
    return 0;
}

static int load_fa(struct cfgctx *x, config_setting_t *root, struct mipd_config *c)
{
    const config_setting_t *g = config_setting_get_member(root, "fa");
    if (!g || !config_setting_is_group(g))
        return cfg_fail(x, g ? g : root, "missing group 'fa: { ... };' for role fa");
    if (get_addr(x, g, "address", true, &c->fa.address) ||
        cfg_get_uint(x, g, "adv_interval_ms", 50, 600000, 1000, &c->fa.adv_interval_ms) ||
        cfg_get_uint(x, g, "adv_lifetime", 1, 9000, 9, &c->fa.adv_lifetime) ||
        cfg_get_uint(x, g, "max_lifetime", 1, 65534, 600, &c->fa.max_lifetime) ||
        cfg_get_uint(x, g, "reg_timeout_ms", 100, 600000, 3000, &c->fa.reg_timeout_ms) ||
        cfg_get_bool(x, g, "reverse_tunnel", true, &c->fa.reverse_tunnel) ||
        cfg_get_bool(x, g, "challenge", true, &c->fa.challenge))
        return -1;
    const config_setting_t *l = config_setting_get_member(g, "access_links");
    if (!l)
        return cfg_fail(x, g, "missing 'access_links' (a list of { interface = \"...\"; })");
    if (!config_setting_is_list(l) || config_setting_length(l) == 0)
        return cfg_fail(x, l,
                        "'access_links' must be a non-empty list ( { interface = \"...\"; } )");
    int n = config_setting_length(l);
    c->fa.links = calloc((size_t)n, sizeof(*c->fa.links));
    if (!c->fa.links)
        return cfg_fail(x, l, "out of memory");
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(l, i);
        if (!config_setting_is_group(e))
            return cfg_fail(x, e, "access_links entries must be groups { interface = \"...\"; }");
        if (cfg_get_str(x, e, "interface", true, c->fa.links[i], sizeof(c->fa.links[i])))
            return -1;
        c->fa.n_links = (size_t)i + 1;
    }
    if (get_peers(x, g, "ha_peers", 16, &c->fa.ha_peers, &c->fa.n_ha_peers) ||
        get_aaa(x, g, true, &c->fa.aaa) || get_default_sas(x, g, c) ||
        cfg_get_bool(x, g, "smooth_handoff", true, &c->fa.smooth_handoff) ||
        get_peers(x, g, "fa_peers", MIPD_RO_KEY_MIN, &c->fa.fa_peers, &c->fa.n_fa_peers) ||
        cfg_get_uint(x, g, "bu_timeout_ms", 50, 60000, 1000, &c->fa.bu_timeout_ms) ||
        cfg_get_uint(x, g, "bu_retries", 1, 10, 3, &c->fa.bu_retries) ||
        cfg_get_uint(x, g, "replay_window", 1, 3600, 7, &c->fa.replay_window))
        return -1;
    /* The old FA's hand-off buffer (hobuf.h defaults). */
    const config_setting_t *hb = config_setting_get_member(g, "handoff_buffer");
    if (hb && !config_setting_is_group(hb))
        return cfg_fail(
            x, hb, "'handoff_buffer' must be a group { packets; bytes; hold_ms; total_bytes; }");
    c->fa.hobuf_pkts = 1000;
    c->fa.hobuf_bytes = 1024 * 1024;
    c->fa.hobuf_hold_ms = 2000;
    c->fa.hobuf_total_bytes = 16 * 1024 * 1024;
    if (hb && (cfg_get_uint(x, hb, "packets", 0, 1000000, 1000, &c->fa.hobuf_pkts) ||
               cfg_get_uint(x, hb, "bytes", 0, 0x7fffffff, 1024 * 1024, &c->fa.hobuf_bytes) ||
               cfg_get_uint(x, hb, "hold_ms", 0, 600000, 2000, &c->fa.hobuf_hold_ms) ||
               cfg_get_uint(x, hb, "total_bytes", 0, 0xffffffff, 16 * 1024 * 1024,
                            &c->fa.hobuf_total_bytes)))
        return -1;
    /* RFC 3012 §3: the MN-AAA authenticator is computed over our challenge. */
    if (c->fa.aaa.enabled && !c->fa.challenge)
        return cfg_fail(x, config_setting_get_member(g, "challenge"),
                        "'challenge' must be true in AAA mode: the MN-AAA authenticator covers the "
                        "advertised challenge (RFC 3012)");
    return 0;
}

static int load(struct mipd_config *c, config_t *cf, struct cfgctx *x, enum mipd_role role)
{
    config_setting_t *root = config_root_setting(cf);
    memset(c, 0, sizeof(*c));
    c->role = role;
    static const char *const known[] = {
        "vendor_id", "control_socket", "log_level", "identity", "ha", "fa", "pcn", NULL};
    if (cfg_check_known(x, root, NULL, known) ||
        cfg_get_uint(x, root, "vendor_id", 1, 0xFFFFFF, 32473, &c->vendor_id))
        return -1;
    snprintf(c->ctl_path, sizeof(c->ctl_path), "/run/mipd-%s.sock", mipd_role_str(role));
    if (cfg_get_str(x, root, "control_socket", false, c->ctl_path, sizeof(c->ctl_path)) ||
        cfg_get_str(x, root, "identity", false, c->identity, sizeof(c->identity)) ||
        cfg_get_log_level(x, root, &c->log_level))
        return -1;
    switch (role) {
    case ROLE_HA:
        return load_ha(x, root, c);
    case ROLE_FA:
        return load_fa(x, root, c);
    case ROLE_PCN:
        return load_pcn(x, root, c);
    }
    return cfg_fail(x, root, "unknown role");
}

const char *mipd_role_str(enum mipd_role r)
{
    return r == ROLE_HA ? "ha" : r == ROLE_FA ? "fa" : "pcn";
}

/* A message longer than this is cut (mipd's limit, kept from before confutil). */
#define MIPD_CFG_MSG_MAX 255

/* The file `name` (text NULL) or text, named `name` in messages. */
static int load_from(struct mipd_config *c, const char *name, const char *text, enum mipd_role role,
                     char *err, size_t errlen)
{
    config_t cf;
    struct cfgctx x = {name, err, errlen, MIPD_CFG_MSG_MAX};
    int read = cfg_read(&cf, &x, text);
    int rc = read == 0 ? load(c, &cf, &x, role) : -1;
    config_destroy(&cf);
    if (rc && read != CFG_READ_NOFILE)
        config_free(c);
    return rc;
}

int config_load(struct mipd_config *c, const char *path, enum mipd_role role, char *err,
                size_t errlen)
{
    return load_from(c, path, NULL, role, err, errlen);
}

int config_load_string(struct mipd_config *c, const char *text, const char *name,
                       enum mipd_role role, char *err, size_t errlen)
{
    return load_from(c, name, text, role, err, errlen);
}

void config_free(struct mipd_config *c)
{
    if (c->ha.mns)
        OPENSSL_cleanse(c->ha.mns, c->ha.n_mns * sizeof(*c->ha.mns));
    free(c->ha.mns);
    if (c->ha.fa_peers)
        OPENSSL_cleanse(c->ha.fa_peers, c->ha.n_fa_peers * sizeof(*c->ha.fa_peers));
    free(c->ha.fa_peers);
    if (c->fa.ha_peers)
        OPENSSL_cleanse(c->fa.ha_peers, c->fa.n_ha_peers * sizeof(*c->fa.ha_peers));
    free(c->fa.ha_peers);
    if (c->fa.fa_peers)
        OPENSSL_cleanse(c->fa.fa_peers, c->fa.n_fa_peers * sizeof(*c->fa.fa_peers));
    free(c->fa.fa_peers);
    free(c->fa.links);
    if (c->ha.pcn_peers)
        OPENSSL_cleanse(c->ha.pcn_peers, c->ha.n_pcn_peers * sizeof(*c->ha.pcn_peers));
    free(c->ha.pcn_peers);
    if (c->pcn.ha_peers)
        OPENSSL_cleanse(c->pcn.ha_peers, c->pcn.n_ha_peers * sizeof(*c->pcn.ha_peers));
    free(c->pcn.ha_peers);
    free(c->pcn.serves);
    if (c->default_sas)
        OPENSSL_cleanse(c->default_sas, c->n_default_sas * sizeof(*c->default_sas));
    free(c->default_sas);
    memset(c, 0, sizeof(*c));
}
