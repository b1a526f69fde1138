/* VPN profile model: see vpn_profile.h. */
#include "vpn_profile.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

void vpn_profile_init(struct vpn_profile *p)
{
    memset(p, 0, sizeof(*p));
    p->vpnshare = 1;
    p->sec = VPN_SEC_ESP;
    p->enc_alg = VPN_ENC_AES_CBC_128;
    p->integ_alg = VPN_INTEG_HMAC_SHA256;
    p->src.len = 32;
    p->dst.len = 32;
}

void vpn_profile_clear(struct vpn_profile *p)
{
    free(p->nai);
    OPENSSL_cleanse(p, sizeof(*p));
}

bool vpn_profile_set_nai(struct vpn_profile *p, const char *nai)
{
    char *n = NULL;
    if (nai && !(n = strdup(nai)))
        return false;
    free(p->nai);
    p->nai = n;
    return true;
}

bool vpn_profile_copy(struct vpn_profile *dst, const struct vpn_profile *src)
{
    *dst = *src;
    dst->nai = NULL;
    if (src->nai && !(dst->nai = strdup(src->nai))) {
        OPENSSL_cleanse(dst, sizeof(*dst));
        return false;
    }
    return true;
}

size_t vpn_enc_key_len(enum vpn_enc_alg a)
{
    switch (a) {
    case VPN_ENC_AES_CBC_128:
        return 16;
    case VPN_ENC_AES_CBC_256:
        return 32;
    case VPN_ENC_AES_GCM_128:
        return 20; /* RFC 4106 §8.1: 16-octet key + 4-octet salt */
    case VPN_ENC_NULL:
        break;
    }
    return 0;
}

size_t vpn_integ_key_len(enum vpn_integ_alg a)
{
    switch (a) {
    case VPN_INTEG_HMAC_SHA1:
        return 20; /* RFC 2404 */
    case VPN_INTEG_HMAC_SHA256:
        return 32; /* RFC 4868 §2.1.1 */
    case VPN_INTEG_NONE:
        break;
    }
    return 0;
}

bool vpn_profile_needs_keys(const struct vpn_profile *p)
{
    /* Seed [0038]: a default (shared) SPI gets no key; only per-user SAs do. */
    return p->vpnshare == 1 && (p->sec == VPN_SEC_ESP || p->sec == VPN_SEC_AH);
}

bool vpn_profile_generate_keys(struct vpn_profile *p)
{
    if (!vpn_profile_needs_keys(p))
        return false;
    size_t el = vpn_enc_key_len(p->enc_alg), il = vpn_integ_key_len(p->integ_alg);
    OPENSSL_cleanse(&p->key_up, sizeof(p->key_up));
    OPENSSL_cleanse(&p->key_down, sizeof(p->key_down));
    if ((el &&
         (RAND_bytes(p->key_up.enc, (int)el) != 1 || RAND_bytes(p->key_down.enc, (int)el) != 1)) ||
        (il && (RAND_bytes(p->key_up.integ, (int)il) != 1 ||
                RAND_bytes(p->key_down.integ, (int)il) != 1))) {
        OPENSSL_cleanse(&p->key_up, sizeof(p->key_up));
        OPENSSL_cleanse(&p->key_down, sizeof(p->key_down));
        p->has_keys = false;
        return false;
    }
    p->has_keys = true;
    return true;
}

static bool fail(char *err, size_t errlen, const struct vpn_profile *p, const char *fmt, ...)
{
    if (err && errlen) {
        int n = snprintf(err, errlen, "profile %u: ", (unsigned)p->number);
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return false;
}

static bool prefix_ok(const struct vpn_prefix *x)
{
    if (x->len > 32)
        return false;
    uint32_t a = ntohl(x->addr.s_addr);
    uint32_t mask = x->len ? ~0u << (32 - x->len) : 0;
    return (a & ~mask) == 0;
}

static bool spi_ok(uint32_t spi)
{
    return spi >= VPN_SPI_MIN;
}

bool vpn_profile_validate(const struct vpn_profile *p, char *err, size_t errlen)
{
    char b1[20];
    if (p->vpnshare > 1)
        return fail(err, errlen, p, "vpnshare %u is not 0 (shared SA) or 1 (per-user SA)",
                    p->vpnshare);
    if (p->sec > VPN_SEC_ENCAP)
        return fail(err, errlen, p, "unknown security type %u", p->sec);
    if (p->gw_type > VPN_GW_DYNAMIC)
        return fail(err, errlen, p, "unknown destination gateway type %u", p->gw_type);
    if (p->leg > VPN_LEG_FA_PCN)
        return fail(err, errlen, p, "unknown leg %u", p->leg);
    if (p->enc_alg > VPN_ENC_AES_GCM_128)
        return fail(err, errlen, p, "unknown encryption algorithm %u", p->enc_alg);
    if (p->integ_alg > VPN_INTEG_HMAC_SHA256)
        return fail(err, errlen, p, "unknown integrity algorithm %u", p->integ_alg);
    if (p->dscp_up > VPN_DSCP_MAX)
        return fail(err, errlen, p, "DSCP up %u out of range 0-63 (RFC 2474)", p->dscp_up);
    if (p->dscp_down > VPN_DSCP_MAX)
        return fail(err, errlen, p, "DSCP down %u out of range 0-63 (RFC 2474)", p->dscp_down);
    if (p->src.len > 32 || p->dst.len > 32)
        return fail(err, errlen, p, "selector prefix length %u > 32",
                    p->src.len > 32 ? p->src.len : p->dst.len);
    if (!prefix_ok(&p->src))
        return fail(err, errlen, p, "selector source %s has host bits set",
                    vpn_prefix_str(&p->src, b1));
    if (!prefix_ok(&p->dst))
        return fail(err, errlen, p, "selector destination %s has host bits set",
                    vpn_prefix_str(&p->dst, b1));
    if (p->nai && (p->nai[0] == '\0' || strlen(p->nai) > 253))
        return fail(err, errlen, p, "NAI length must be 1-253 octets (RFC 7542 §2.2)");

    switch (p->sec) {
    case VPN_SEC_ENCAP:
        if (p->enc_alg != VPN_ENC_NULL || p->integ_alg != VPN_INTEG_NONE)
            return fail(err, errlen, p, "encap-only takes no algorithms (enc null, integ none)");
        if (p->spi_up || p->spi_down || p->has_keys)
            return fail(err, errlen, p, "encap-only takes no SPI and no keys");
        break;
    case VPN_SEC_AH:
        if (p->enc_alg != VPN_ENC_NULL)
            return fail(err, errlen, p, "AH cannot encrypt: enc must be null");
        if (p->integ_alg == VPN_INTEG_NONE)
            return fail(err, errlen, p, "AH needs an integrity algorithm (RFC 4302 §2.6)");
        break;
    case VPN_SEC_ESP:
        if (p->enc_alg == VPN_ENC_AES_GCM_128 && p->integ_alg != VPN_INTEG_NONE)
            return fail(err, errlen, p,
                        "aes-gcm-128 is combined mode: integ must be none (RFC 4106 §3)");
        if (p->enc_alg == VPN_ENC_NULL && p->integ_alg == VPN_INTEG_NONE)
            return fail(err, errlen, p,
                        "ESP with null encryption and no integrity (RFC 4303 §3.2)");
        if (p->enc_alg != VPN_ENC_NULL && p->enc_alg != VPN_ENC_AES_GCM_128 &&
            p->integ_alg == VPN_INTEG_NONE)
            return fail(err, errlen, p, "%s without integrity is not allowed (RFC 8221 §5)",
                        vpn_enc_str(p->enc_alg));
        break;
    }

    if (p->sec != VPN_SEC_ENCAP) {
        if (p->vpnshare == 1) {
            if (!spi_ok(p->spi_up))
                return fail(err, errlen, p,
                            "SPI up %u is reserved (RFC 4303 §2.1: 0 and 1-255 reserved)",
                            (unsigned)p->spi_up);
            if (!spi_ok(p->spi_down))
                return fail(err, errlen, p,
                            "SPI down %u is reserved (RFC 4303 §2.1: 0 and 1-255 reserved)",
                            (unsigned)p->spi_down);
            /* Both directions terminate at the same gateway on some node (the HA
             * receives FA->HA up-link and GW->HA down-link), so equal SPIs
             * would collide on (dst, SPI, proto). */
            if (p->spi_up == p->spi_down)
                return fail(err, errlen, p, "SPI up and down are both %u; they must differ",
                            (unsigned)p->spi_up);
        } else {
            /* vpnshare 0: 0 = the pre-configured default SA (seed [0028], [0062]). */
            if (p->spi_up && !spi_ok(p->spi_up))
                return fail(err, errlen, p, "SPI up %u is reserved (RFC 4303 §2.1: 1-255 reserved)",
                            (unsigned)p->spi_up);
            if (p->spi_down && !spi_ok(p->spi_down))
                return fail(err, errlen, p,
                            "SPI down %u is reserved (RFC 4303 §2.1: 1-255 reserved)",
                            (unsigned)p->spi_down);
            if (p->has_keys)
                return fail(err, errlen, p,
                            "vpnshare 0 uses the shared gateway SA and carries no keys");
        }
    }

    if (p->leg != VPN_LEG_NONE) {
        if (p->src_gw.s_addr == 0 || p->dst_gw.s_addr == 0)
            return fail(err, errlen, p, "tunnel %s gateway is 0.0.0.0",
                        p->src_gw.s_addr == 0 ? "source" : "destination");
        if (p->src_gw.s_addr == p->dst_gw.s_addr)
            return fail(err, errlen, p, "tunnel source and destination gateway are the same");
    }
    return true;
}

/* ---- names ---------------------------------------------------------------- */

static const char *const SEC_NAMES[] = {"esp", "ah", "encap-only"};
static const char *const GW_NAMES[] = {"static", "dynamic"};
static const char *const ENC_NAMES[] = {"null", "aes-cbc-128", "aes-cbc-256", "aes-gcm-128"};
static const char *const INTEG_NAMES[] = {"none", "hmac-sha1", "hmac-sha256"};
static const char *const LEG_NAMES[] = {"none", "ha-gw", "fa-ha", "fa-pcn"};

#define NAME_OF(tab, v) ((unsigned)(v) < sizeof(tab) / sizeof(tab[0]) ? tab[v] : "?")

static bool parse_name(const char *const *tab, size_t n, const char *s, unsigned *out)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcasecmp(s, tab[i]) == 0) {
            *out = (unsigned)i;
            return true;
        }
    return false;
}

const char *vpn_sec_str(enum vpn_sec_type s)
{
    return NAME_OF(SEC_NAMES, s);
}
bool vpn_sec_parse(const char *s, enum vpn_sec_type *out)
{
    unsigned v;
    if (s && strcasecmp(s, "encap") == 0)
        s = "encap-only";
    if (!parse_name(SEC_NAMES, 3, s, &v))
        return false;
    *out = (enum vpn_sec_type)v;
    return true;
}
const char *vpn_gw_type_str(enum vpn_gw_type t)
{
    return NAME_OF(GW_NAMES, t);
}
bool vpn_gw_type_parse(const char *s, enum vpn_gw_type *out)
{
    unsigned v;
    if (!parse_name(GW_NAMES, 2, s, &v))
        return false;
    *out = (enum vpn_gw_type)v;
    return true;
}
const char *vpn_enc_str(enum vpn_enc_alg a)
{
    return NAME_OF(ENC_NAMES, a);
}
bool vpn_enc_parse(const char *s, enum vpn_enc_alg *out)
{
    unsigned v;
    /* the RFC name of the GCM transform is accepted as an alias */
    if (s && strcasecmp(s, "rfc4106(gcm(aes))") == 0)
        s = "aes-gcm-128";
    if (!parse_name(ENC_NAMES, 4, s, &v))
        return false;
    *out = (enum vpn_enc_alg)v;
    return true;
}
const char *vpn_integ_str(enum vpn_integ_alg a)
{
    return NAME_OF(INTEG_NAMES, a);
}
bool vpn_integ_parse(const char *s, enum vpn_integ_alg *out)
{
    unsigned v;
    if (!parse_name(INTEG_NAMES, 3, s, &v))
        return false;
    *out = (enum vpn_integ_alg)v;
    return true;
}
const char *vpn_leg_str(enum vpn_leg l)
{
    return NAME_OF(LEG_NAMES, l);
}

/* DSCP names: RFC 2474 class selectors, RFC 2597 AF, RFC 3246 EF. */
bool vpn_dscp_parse(const char *s, uint8_t *out)
{
    if (!s || !*s)
        return false;
    if (isdigit((unsigned char)s[0])) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (*end || v > VPN_DSCP_MAX || strlen(s) > 2)
            return false;
        *out = (uint8_t)v;
        return true;
    }
    if (strcasecmp(s, "EF") == 0) {
        *out = 46;
        return true;
    }
    if (strcasecmp(s, "BE") == 0 || strcasecmp(s, "default") == 0) {
        *out = 0;
        return true;
    }
    if (strlen(s) == 3 && (s[0] == 'c' || s[0] == 'C') && (s[1] == 's' || s[1] == 'S') &&
        s[2] >= '0' && s[2] <= '7') {
        *out = (uint8_t)((s[2] - '0') * 8);
        return true;
    }
    if (strlen(s) == 4 && (s[0] == 'a' || s[0] == 'A') && (s[1] == 'f' || s[1] == 'F') &&
        s[2] >= '1' && s[2] <= '4' && s[3] >= '1' && s[3] <= '3') {
        *out = (uint8_t)((s[2] - '0') * 8 + (s[3] - '0') * 2);
        return true;
    }
    return false;
}

const char *vpn_dscp_str(uint8_t d, char buf[8])
{
    if (d == 46)
        snprintf(buf, 8, "EF");
    else if (d % 8 == 0 && d <= 56)
        snprintf(buf, 8, "CS%u", d / 8u);
    else if (d >= 10 && d <= 38 && d % 2 == 0 && (d % 8) / 2 >= 1 && (d % 8) / 2 <= 3)
        snprintf(buf, 8, "AF%u%u", d / 8u, (d % 8u) / 2u);
    else
        snprintf(buf, 8, "%u", d);
    return buf;
}

bool vpn_prefix_parse(const char *s, struct vpn_prefix *out)
{
    char tmp[32];
    if (!s || strlen(s) >= sizeof(tmp))
        return false;
    strcpy(tmp, s);
    unsigned len = 32;
    char *slash = strchr(tmp, '/');
    if (slash) {
        *slash = '\0';
        char *end;
        const char *l = slash + 1;
        if (!isdigit((unsigned char)*l) || strlen(l) > 2)
            return false;
        unsigned long v = strtoul(l, &end, 10);
        if (*end || v > 32)
            return false;
        len = (unsigned)v;
    }
    struct vpn_prefix p;
    if (inet_pton(AF_INET, tmp, &p.addr) != 1)
        return false;
    p.len = (uint8_t)len;
    if (!prefix_ok(&p))
        return false;
    *out = p;
    return true;
}

const char *vpn_prefix_str(const struct vpn_prefix *p, char buf[20])
{
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &p->addr, a, sizeof(a));
    snprintf(buf, 20, "%s/%u", a, p->len);
    return buf;
}

/* ---- JSON ----------------------------------------------------------------- */

void vpn_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(out, "\\%c", *c);
        else if (*c < 0x20 || *c == 0x7f)
            fprintf(out, "\\u%04x", *c);
        else
            fputc(*c, out);
    }
    fputc('"', out);
}

static void json_hex(FILE *out, const uint8_t *b, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%02x", b[i]);
    fputc('"', out);
}

void vpn_profile_json(const struct vpn_profile *p, bool with_keys, FILE *out)
{
    char s[20], d[20], du[8], dd[8], sg[INET_ADDRSTRLEN], dg[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &p->src_gw, sg, sizeof(sg));
    inet_ntop(AF_INET, &p->dst_gw, dg, sizeof(dg));
    fprintf(out, "{\"profile\":%u,", (unsigned)p->number);
    if (p->nai) {
        fputs("\"nai\":", out);
        vpn_json_str(out, p->nai);
        fputc(',', out);
    }
    fprintf(out,
            "\"vpnshare\":%u,\"src\":\"%s\",\"dst\":\"%s\",\"dscp_up\":\"%s\","
            "\"dscp_down\":\"%s\",\"sec\":\"%s\",\"enc\":\"%s\",\"integ\":\"%s\","
            "\"src_gw\":\"%s\",\"dst_gw\":\"%s\",\"gw_type\":\"%s\",\"leg\":\"%s\","
            "\"spi_up\":%u,\"spi_down\":%u,\"lifetime\":%u,\"keys\":",
            p->vpnshare, vpn_prefix_str(&p->src, s), vpn_prefix_str(&p->dst, d),
            vpn_dscp_str(p->dscp_up, du), vpn_dscp_str(p->dscp_down, dd), vpn_sec_str(p->sec),
            vpn_enc_str(p->enc_alg), vpn_integ_str(p->integ_alg), sg, dg,
            vpn_gw_type_str(p->gw_type), vpn_leg_str(p->leg), (unsigned)p->spi_up,
            (unsigned)p->spi_down, (unsigned)p->lifetime);
    if (!p->has_keys) {
        fputs("\"none\"}", out);
        return;
    }
    if (!with_keys) {
        fputs("\"<redacted>\"}", out);
        return;
    }
    size_t el = vpn_enc_key_len(p->enc_alg), il = vpn_integ_key_len(p->integ_alg);
    fputs("{\"enc_up\":", out);
    json_hex(out, p->key_up.enc, el);
    fputs(",\"integ_up\":", out);
    json_hex(out, p->key_up.integ, il);
    fputs(",\"enc_down\":", out);
    json_hex(out, p->key_down.enc, el);
    fputs(",\"integ_down\":", out);
    json_hex(out, p->key_down.integ, il);
    fputs("}}", out);
}
