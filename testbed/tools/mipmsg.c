/*
 * mipmsg: build Mobile IPv4 messages as hex, or decode hex to one-line JSON.
 *
 *   mipmsg rrq --hoa A --ha A --coa A --id HEX16 --lifetime N --flags HEX
 *              [--nai S] [--spi N --key HEX] [--challenge HEX]
 *              [--mn-aaa-spi N --mn-aaa-key HEX] [--mn-fa-spi N --mn-fa-key HEX]
 *              [--fa-ha-spi N --fa-ha-key HEX] [--encap-delivery]
 *              [--nvse VTYPE:HEX] [--cvse VTYPE:HEX] [--vendor N]
 *   mipmsg rrp --code N --hoa A --ha A --id HEX16 --lifetime N [--spi N --key HEX] ...
 *   mipmsg bu  --hoa A --coa A --id HEX16 --lifetime N --flags HEX [--cvse VTYPE:HEX]
 *              [--ro-spi N --ro-key HEX] [--vendor N]
 *   mipmsg ba  --hoa A --id HEX16 --lifetime N --status N [--ro-spi N --ro-key HEX]
 *   mipmsg br  --hoa A --id HEX16 [--ro-spi N --ro-key HEX]
 *   mipmsg bw  --hoa A --target A [--ro-spi N --ro-key HEX]
 *   mipmsg adv --seq N --reg-lifetime N --flags HEX [--coa A]... [--router A]
 *              [--lifetime N] [--challenge HEX] [--prefix-len N]...
 *   mipmsg sol
 *   mipmsg decode HEX      (Mobile IP message or ICMP advert/solicitation)
 *
 * Extensions are emitted in this order: NAI, encapsulating delivery, NVSE,
 * CVSE, MN-HA auth, challenge, MN-FA auth, MN-AAA auth, FA-HA auth, RO auth.
 * Exit status 0 on success, 1 on a decode error, 2 on a usage error.
 */
#include "mip_proto.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEX 1024

struct opts {
    const char *hoa, *ha, *coa_s, *target, *router, *nai;
    const char *id, *key, *mn_aaa_key, *mn_fa_key, *fa_ha_key, *ro_key, *challenge;
    const char *cvse[MIP_MAX_VSE], *nvse[MIP_MAX_VSE];
    unsigned n_cvse, n_nvse;
    const char *coas[MIP_ADV_MAX_COA];
    unsigned n_coas;
    unsigned prefix_lens[MIP_ADV_MAX_ROUTERS];
    unsigned n_prefix;
    unsigned long lifetime, flags, code, status, seq, reg_lifetime;
    unsigned long spi, mn_aaa_spi, mn_fa_spi, fa_ha_spi, ro_spi, vendor;
    bool have_spi, have_mn_aaa, have_mn_fa, have_fa_ha, have_ro, encap_delivery;
};

static void usage(void)
{
    fprintf(stderr, "usage: mipmsg rrq|rrp|bu|ba|br|bw|adv|sol [options] | mipmsg decode HEX\n"
                    "(see the comment at the top of testbed/tools/mipmsg.c)\n");
    exit(2);
}

static void die(const char *what, const char *arg)
{
    fprintf(stderr, "mipmsg: %s: %s\n", what, arg ? arg : "");
    exit(2);
}

static unsigned long num(const char *s, int base)
{
    char *end;
    if (!s || !*s)
        die("missing number", s);
    unsigned long v = strtoul(s, &end, base);
    if (*end)
        die("bad number", s);
    return v;
}

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    if (!s)
        return 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    while (*s) {
        if (isspace((unsigned char)*s) || *s == ':') {
            s++;
            continue;
        }
        if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]) || n >= cap)
            die("bad hex", s);
        char b[3] = {s[0], s[1], 0};
        out[n++] = (uint8_t)strtoul(b, NULL, 16);
        s += 2;
    }
    return n;
}

static struct in_addr addr(const char *s, const char *what)
{
    struct in_addr a = {0};
    if (!s)
        die("missing address", what);
    if (inet_pton(AF_INET, s, &a) != 1)
        die("bad address", s);
    return a;
}

static uint64_t ident(const char *s)
{
    uint8_t b[8];
    if (!s)
        return mip_ident_now();
    if (unhex(s, b, sizeof(b)) != 8)
        die("--id needs 16 hex digits", s);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return v;
}

static void parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->vendor = MIP_DEFAULT_VENDOR_ID;
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--encap-delivery")) {
            o->encap_delivery = true;
            continue;
        }
        if (i + 1 >= argc)
            die("option needs a value", k);
        const char *v = argv[++i];
        if (!strcmp(k, "--hoa"))
            o->hoa = v;
        else if (!strcmp(k, "--ha"))
            o->ha = v;
        else if (!strcmp(k, "--coa")) {
            o->coa_s = v;
            if (o->n_coas < MIP_ADV_MAX_COA)
                o->coas[o->n_coas++] = v;
        } else if (!strcmp(k, "--target"))
            o->target = v;
        else if (!strcmp(k, "--router"))
            o->router = v;
        else if (!strcmp(k, "--nai"))
            o->nai = v;
        else if (!strcmp(k, "--id"))
            o->id = v;
        else if (!strcmp(k, "--lifetime"))
            o->lifetime = num(v, 0);
        else if (!strcmp(k, "--flags"))
            o->flags = num(v, 16);
        else if (!strcmp(k, "--code"))
            o->code = num(v, 0);
        else if (!strcmp(k, "--status"))
            o->status = num(v, 0);
        else if (!strcmp(k, "--seq"))
            o->seq = num(v, 0);
        else if (!strcmp(k, "--reg-lifetime"))
            o->reg_lifetime = num(v, 0);
        else if (!strcmp(k, "--vendor"))
            o->vendor = num(v, 0);
        else if (!strcmp(k, "--spi")) {
            o->spi = num(v, 0);
            o->have_spi = true;
        } else if (!strcmp(k, "--key"))
            o->key = v;
        else if (!strcmp(k, "--mn-aaa-spi")) {
            o->mn_aaa_spi = num(v, 0);
            o->have_mn_aaa = true;
        } else if (!strcmp(k, "--mn-aaa-key"))
            o->mn_aaa_key = v;
        else if (!strcmp(k, "--mn-fa-spi")) {
            o->mn_fa_spi = num(v, 0);
            o->have_mn_fa = true;
        } else if (!strcmp(k, "--mn-fa-key"))
            o->mn_fa_key = v;
        else if (!strcmp(k, "--fa-ha-spi")) {
            o->fa_ha_spi = num(v, 0);
            o->have_fa_ha = true;
        } else if (!strcmp(k, "--fa-ha-key"))
            o->fa_ha_key = v;
        else if (!strcmp(k, "--ro-spi")) {
            o->ro_spi = num(v, 0);
            o->have_ro = true;
        } else if (!strcmp(k, "--ro-key"))
            o->ro_key = v;
        else if (!strcmp(k, "--challenge"))
            o->challenge = v;
        else if (!strcmp(k, "--cvse")) {
            if (o->n_cvse >= MIP_MAX_VSE)
                die("too many --cvse", v);
            o->cvse[o->n_cvse++] = v;
        } else if (!strcmp(k, "--nvse")) {
            if (o->n_nvse >= MIP_MAX_VSE)
                die("too many --nvse", v);
            o->nvse[o->n_nvse++] = v;
        } else if (!strcmp(k, "--prefix-len")) {
            if (o->n_prefix >= MIP_ADV_MAX_ROUTERS)
                die("too many --prefix-len", v);
            o->prefix_lens[o->n_prefix++] = (unsigned)num(v, 0);
        } else
            die("unknown option", k);
    }
}

/* VTYPE:HEX → vendor type and data. */
static size_t vse_arg(const char *s, uint16_t *vtype, uint8_t *data, size_t cap)
{
    const char *colon = strchr(s, ':');
    char t[16];
    if (!colon || (size_t)(colon - s) >= sizeof(t))
        die("VSE argument must be VTYPE:HEX", s);
    memcpy(t, s, (size_t)(colon - s));
    t[colon - s] = 0;
    *vtype = (uint16_t)num(t, 0);
    return unhex(colon + 1, data, cap);
}

static void put_auth(struct mip_writer *w, uint8_t type, unsigned long spi, const char *keyhex)
{
    uint8_t key[256];
    size_t kl = unhex(keyhex, key, sizeof(key));
    if (!keyhex)
        die("auth SPI given without key", NULL);
    mip_put_auth_hmac_md5(w, type, (uint32_t)spi, key, kl);
}

/* Extensions common to all messages, in the order documented above. */
static void put_exts(struct mip_writer *w, const struct opts *o)
{
    uint8_t data[MAX_HEX];
    uint16_t vt;
    if (o->nai)
        mip_put_nai(w, o->nai, strlen(o->nai));
    if (o->encap_delivery)
        mip_put_encap_delivery(w);
    for (unsigned i = 0; i < o->n_nvse; i++) {
        size_t n = vse_arg(o->nvse[i], &vt, data, sizeof(data));
        mip_put_nvse(w, (uint32_t)o->vendor, vt, data, n);
    }
    for (unsigned i = 0; i < o->n_cvse; i++) {
        size_t n = vse_arg(o->cvse[i], &vt, data, sizeof(data));
        mip_put_cvse(w, (uint32_t)o->vendor, vt, data, n);
    }
    if (o->have_spi)
        put_auth(w, MIP_EXT_MN_HA_AUTH, o->spi, o->key);
    uint8_t chal[256];
    size_t cl = unhex(o->challenge, chal, sizeof(chal));
    if (o->challenge)
        mip_put_challenge(w, chal, cl);
    if (o->have_mn_fa)
        put_auth(w, MIP_EXT_MN_FA_AUTH, o->mn_fa_spi, o->mn_fa_key);
    if (o->have_mn_aaa) {
        uint8_t key[256];
        if (!o->mn_aaa_key || !o->challenge)
            die("--mn-aaa-spi needs --mn-aaa-key and --challenge", NULL);
        size_t kl = unhex(o->mn_aaa_key, key, sizeof(key));
        mip_put_mn_aaa_auth(w, (uint32_t)o->mn_aaa_spi, key, kl, chal, cl);
    }
    if (o->have_fa_ha)
        put_auth(w, MIP_EXT_FA_HA_AUTH, o->fa_ha_spi, o->fa_ha_key);
    if (o->have_ro) {
        uint8_t key[256];
        if (!o->ro_key)
            die("--ro-spi needs --ro-key", NULL);
        size_t kl = unhex(o->ro_key, key, sizeof(key));
        mip_put_ro_auth(w, (uint32_t)o->vendor, (uint32_t)o->ro_spi, key, kl);
    }
}

static void print_hex(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
    printf("\n");
}

static int encode(const char *cmd, const struct opts *o)
{
    uint8_t buf[MIP_MAX_MSG];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));

    if (!strcmp(cmd, "rrq")) {
        struct mip_reg_request rq = {0};
        rq.flags = (uint8_t)o->flags;
        rq.lifetime = (uint16_t)o->lifetime;
        rq.home_addr = addr(o->hoa, "--hoa");
        rq.home_agent = addr(o->ha, "--ha");
        rq.care_of_addr = addr(o->coa_s, "--coa");
        rq.identification = ident(o->id);
        mip_put_reg_request(&w, &rq);
    } else if (!strcmp(cmd, "rrp")) {
        struct mip_reg_reply rp = {0};
        rp.code = (uint8_t)o->code;
        rp.lifetime = (uint16_t)o->lifetime;
        rp.home_addr = addr(o->hoa, "--hoa");
        rp.home_agent = addr(o->ha, "--ha");
        rp.identification = ident(o->id);
        mip_put_reg_reply(&w, &rp);
    } else if (!strcmp(cmd, "bu") || !strcmp(cmd, "ba") || !strcmp(cmd, "br") ||
               !strcmp(cmd, "bw")) {
        struct mip_experimental m = {0};
        switch (cmd[1]) {
        case 'u':
            m.subtype = MIP_EXP_BINDING_UPDATE;
            m.u.bu.flags = (uint8_t)o->flags;
            m.u.bu.lifetime = (uint16_t)o->lifetime;
            m.u.bu.home_addr = addr(o->hoa, "--hoa");
            m.u.bu.care_of_addr = addr(o->coa_s, "--coa");
            m.u.bu.identification = ident(o->id);
            break;
        case 'a':
            m.subtype = MIP_EXP_BINDING_ACK;
            m.u.ba.status = (uint8_t)o->status;
            m.u.ba.lifetime = (uint16_t)o->lifetime;
            m.u.ba.home_addr = addr(o->hoa, "--hoa");
            m.u.ba.identification = ident(o->id);
            break;
        case 'r':
            m.subtype = MIP_EXP_BINDING_REQUEST;
            m.u.br.home_addr = addr(o->hoa, "--hoa");
            m.u.br.identification = ident(o->id);
            break;
        default:
            m.subtype = MIP_EXP_BINDING_WARNING;
            m.u.bw.home_addr = addr(o->hoa, "--hoa");
            m.u.bw.target_node = addr(o->target, "--target");
            break;
        }
        mip_put_experimental(&w, &m);
    } else if (!strcmp(cmd, "adv")) {
        struct mip_agent_adv a = {0};
        a.adv_lifetime = (uint16_t)(o->lifetime ? o->lifetime : 1800);
        if (o->router) {
            a.n_routers = 1;
            a.routers[0] = addr(o->router, "--router");
        }
        a.seq = (uint16_t)o->seq;
        a.reg_lifetime = (uint16_t)o->reg_lifetime;
        a.flags = (uint16_t)o->flags;
        a.n_coa = o->n_coas;
        for (unsigned i = 0; i < o->n_coas; i++)
            a.coa[i] = addr(o->coas[i], "--coa");
        if (o->n_prefix) {
            a.has_prefix_len = true;
            a.n_prefix_len = o->n_prefix;
            for (unsigned i = 0; i < o->n_prefix; i++)
                a.prefix_len[i] = (uint8_t)o->prefix_lens[i];
        }
        if (o->challenge) {
            a.has_challenge = true;
            a.challenge_len = (uint8_t)unhex(o->challenge, a.challenge, sizeof(a.challenge));
        }
        size_t n = mip_put_agent_adv(buf, sizeof(buf), &a);
        if (!n)
            die("cannot encode advertisement", NULL);
        print_hex(buf, n);
        return 0;
    } else if (!strcmp(cmd, "sol")) {
        size_t n = mip_put_agent_solicit(buf, sizeof(buf));
        print_hex(buf, n);
        return 0;
    } else {
        usage();
    }
    put_exts(&w, o);
    if (w.err != MIP_OK)
        die("encoding failed", mip_err_str(w.err));
    print_hex(buf, w.len);
    return 0;
}

/* ---- decode → JSON ----------------------------------------------------- */

static void json_str(const uint8_t *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void json_hex(const uint8_t *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    putchar('"');
}

static void json_addr(const char *name, struct in_addr a)
{
    char s[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, s, sizeof(s));
    printf(",\"%s\":\"%s\"", name, s);
}

static void json_auth(const char *name, const struct mip_auth_ext *a)
{
    if (!a->present)
        return;
    printf(",\"%s\":{\"spi\":%u,\"offset\":%zu,\"covered_len\":%zu,\"authenticator\":", name,
           a->spi, a->offset, a->covered_len);
    json_hex(a->authenticator.ptr, a->authenticator.len);
    printf("}");
}

static void json_vses(const char *name, const struct mip_vse *v, unsigned n)
{
    if (!n)
        return;
    printf(",\"%s\":[", name);
    for (unsigned i = 0; i < n; i++) {
        printf("%s{\"vendor_id\":%u,\"vendor_type\":%u,\"data\":", i ? "," : "", v[i].vendor_id,
               v[i].vendor_type);
        json_hex(v[i].data.ptr, v[i].data.len);
        printf("}");
    }
    printf("]");
}

static void json_exts(const struct mip_exts *x)
{
    printf(",\"ext\":{\"skipped\":%u", x->n_skipped);
    if (x->has_nai) {
        printf(",\"nai\":");
        json_str(x->nai.ptr, x->nai.len);
    }
    if (x->encap_delivery)
        printf(",\"encap_delivery\":true");
    if (x->has_challenge) {
        printf(",\"challenge\":");
        json_hex(x->challenge.ptr, x->challenge.len);
    }
    json_auth("mn_ha", &x->mn_ha);
    json_auth("mn_fa", &x->mn_fa);
    json_auth("fa_ha", &x->fa_ha);
    json_auth("mn_aaa", &x->mn_aaa);
    json_vses("cvse", x->cvse, x->n_cvse);
    json_vses("nvse", x->nvse, x->n_nvse);
    printf("}");
}

static int decode_fail(enum mip_err e, size_t off)
{
    printf("{\"error\":\"%s\",\"offset\":%zu}\n", mip_err_str(e), off);
    return 1;
}

static int decode(const char *hex)
{
    static uint8_t buf[MIP_MAX_MSG * 2];
    size_t n = unhex(hex, buf, sizeof(buf));
    size_t off = 0;
    enum mip_err e;
    if (n == 0)
        return decode_fail(MIP_ERR_TRUNCATED, 0);

    switch (buf[0]) {
    case MIP_MSG_REG_REQUEST: {
        struct mip_reg_request rq;
        if ((e = mip_get_reg_request(buf, n, &rq, &off)) != MIP_OK)
            return decode_fail(e, off);
        printf("{\"type\":\"rrq\",\"flags\":\"%02x\",\"lifetime\":%u", rq.flags, rq.lifetime);
        json_addr("hoa", rq.home_addr);
        json_addr("ha", rq.home_agent);
        json_addr("coa", rq.care_of_addr);
        printf(",\"id\":\"%016llx\"", (unsigned long long)rq.identification);
        json_exts(&rq.ext);
        break;
    }
    case MIP_MSG_REG_REPLY: {
        struct mip_reg_reply rp;
        if ((e = mip_get_reg_reply(buf, n, &rp, &off)) != MIP_OK)
            return decode_fail(e, off);
        printf("{\"type\":\"rrp\",\"code\":%u,\"code_str\":\"%s\",\"lifetime\":%u", rp.code,
               mip_code_str(rp.code), rp.lifetime);
        json_addr("hoa", rp.home_addr);
        json_addr("ha", rp.home_agent);
        printf(",\"id\":\"%016llx\"", (unsigned long long)rp.identification);
        json_exts(&rp.ext);
        break;
    }
    case MIP_MSG_EXPERIMENTAL: {
        struct mip_experimental m;
        if ((e = mip_get_experimental(buf, n, &m, &off)) != MIP_OK)
            return decode_fail(e, off);
        switch (m.subtype) {
        case MIP_EXP_BINDING_UPDATE:
            printf("{\"type\":\"bu\",\"flags\":\"%02x\",\"lifetime\":%u", m.u.bu.flags,
                   m.u.bu.lifetime);
            json_addr("hoa", m.u.bu.home_addr);
            json_addr("coa", m.u.bu.care_of_addr);
            printf(",\"id\":\"%016llx\"", (unsigned long long)m.u.bu.identification);
            break;
        case MIP_EXP_BINDING_ACK:
            printf("{\"type\":\"ba\",\"status\":%u,\"lifetime\":%u", m.u.ba.status,
                   m.u.ba.lifetime);
            json_addr("hoa", m.u.ba.home_addr);
            printf(",\"id\":\"%016llx\"", (unsigned long long)m.u.ba.identification);
            break;
        case MIP_EXP_BINDING_REQUEST:
            printf("{\"type\":\"br\"");
            json_addr("hoa", m.u.br.home_addr);
            printf(",\"id\":\"%016llx\"", (unsigned long long)m.u.br.identification);
            break;
        default:
            printf("{\"type\":\"bw\"");
            json_addr("hoa", m.u.bw.home_addr);
            json_addr("target", m.u.bw.target_node);
            break;
        }
        json_exts(&m.ext);
        break;
    }
    case 9: {
        struct mip_agent_adv a;
        if ((e = mip_get_agent_adv(buf, n, &a)) != MIP_OK)
            return decode_fail(e, 0);
        printf("{\"type\":\"adv\",\"code\":%u,\"adv_lifetime\":%u,\"routers\":[", a.code,
               a.adv_lifetime);
        for (unsigned i = 0; i < a.n_routers; i++) {
            char s[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &a.routers[i], s, sizeof(s));
            printf("%s{\"addr\":\"%s\",\"pref\":%d}", i ? "," : "", s, (int)a.pref[i]);
        }
        printf("],\"seq\":%u,\"reg_lifetime\":%u,\"flags\":\"%04x\",\"coa\":[", a.seq,
               a.reg_lifetime, a.flags);
        for (unsigned i = 0; i < a.n_coa; i++) {
            char s[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &a.coa[i], s, sizeof(s));
            printf("%s\"%s\"", i ? "," : "", s);
        }
        printf("]");
        if (a.has_prefix_len) {
            printf(",\"prefix_len\":[");
            for (unsigned i = 0; i < a.n_prefix_len; i++)
                printf("%s%u", i ? "," : "", a.prefix_len[i]);
            printf("]");
        }
        if (a.has_challenge) {
            printf(",\"challenge\":");
            json_hex(a.challenge, a.challenge_len);
        }
        break;
    }
    case 10:
        if ((e = mip_get_agent_solicit(buf, n)) != MIP_OK)
            return decode_fail(e, 0);
        printf("{\"type\":\"sol\"");
        break;
    default:
        return decode_fail(MIP_ERR_BAD_TYPE, 0);
    }
    printf(",\"len\":%zu}\n", n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    if (!strcmp(argv[1], "decode")) {
        if (argc != 3)
            usage();
        return decode(argv[2]);
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
        usage();
    struct opts o;
    parse(argc, argv, &o);
    return encode(argv[1], &o);
}
