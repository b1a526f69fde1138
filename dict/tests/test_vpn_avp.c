/* Unit tests: VPN profiles <-> our Diameter AVPs (dict/vpn_avp.h), through real freeDiameter
 * messages: built with the dictionary, serialised (fd_msg_bufferize), parsed back
 * (fd_msg_parse_buffer + fd_msg_parse_dict) and decoded. */
#include "vpn_avp.h"

#include "mip4vpn_dict.h"

#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>

#include <freeDiameter/freeDiameter-host.h>
#include <freeDiameter/libfdcore.h>

static struct dictionary *D;

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static struct msg *new_msg(const char *cmd_name)
{
    struct dict_object *cmd = NULL;
    assert_int_equal(fd_dict_search(D, DICT_COMMAND, CMD_BY_NAME, cmd_name, &cmd, ENOENT), 0);
    struct msg *m = NULL;
    assert_int_equal(fd_msg_new(cmd, 0, &m), 0);
    struct msg_hdr *h = NULL;
    assert_int_equal(fd_msg_hdr(m, &h), 0);
    h->msg_appl = MIP4_APPLICATION_ID;
    return m;
}

/* Serialise m (freed, its key AVPs wiped first), parse it back against the dictionary. */
static struct msg *wire(struct msg *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(fd_msg_bufferize(m, &buf, &len), 0);
    vpn_avp_wipe_keys(m);
    fd_msg_free(m);
    struct msg *back = NULL;
    assert_int_equal(fd_msg_parse_buffer(&buf, len, &back), 0); /* takes buf */
    struct fd_pei pei;
    memset(&pei, 0, sizeof(pei));
    assert_int_equal(fd_msg_parse_dict(back, D, &pei), 0);
    return back;
}

static void free_msg(struct msg *m)
{
    vpn_avp_wipe_keys(m);
    fd_msg_free(m);
}

/* ---- profiles ------------------------------------------------------------------------------ */

static void base(struct vpn_profile *p, uint32_t number)
{
    vpn_profile_init(p);
    p->number = number;
    vpn_prefix_parse("10.10.0.100/32", &p->src);
    vpn_prefix_parse("172.16.50.0/24", &p->dst);
    p->src_gw = ip("192.0.2.11");
    p->dst_gw = ip("10.10.0.1");
    p->gw_type = VPN_GW_STATIC;
    p->dscp_up = 46;
    p->dscp_down = 10;
    p->lifetime = 3600;
}

static void esp_keys(struct vpn_profile *p, uint32_t number, enum vpn_enc_alg e,
                     enum vpn_integ_alg i)
{
    base(p, number);
    p->vpnshare = 1;
    p->sec = VPN_SEC_ESP;
    p->enc_alg = e;
    p->integ_alg = i;
    p->spi_up = 0x1001;
    p->spi_down = 0x2001;
    assert_true(vpn_profile_generate_keys(p));
}

static void ah_keys(struct vpn_profile *p, uint32_t number)
{
    base(p, number);
    p->vpnshare = 1;
    p->sec = VPN_SEC_AH;
    p->enc_alg = VPN_ENC_NULL;
    p->integ_alg = VPN_INTEG_HMAC_SHA1;
    p->spi_up = 0x3001;
    p->spi_down = 0x3002;
    assert_true(vpn_profile_generate_keys(p));
}

static void encap(struct vpn_profile *p, uint32_t number)
{
    base(p, number);
    p->vpnshare = 0;
    p->sec = VPN_SEC_ENCAP;
    p->enc_alg = VPN_ENC_NULL;
    p->integ_alg = VPN_INTEG_NONE;
    p->gw_type = VPN_GW_DYNAMIC;
    p->dscp_up = p->dscp_down = 0;
    p->lifetime = 0;
}

static void shared(struct vpn_profile *p, uint32_t number)
{
    base(p, number); /* ESP, aes-cbc-128 + hmac-sha256 by default */
    p->vpnshare = 0; /* the default gateway SA: SPI 0, no keys */
}

static void assert_same(const struct vpn_profile *a, const struct vpn_profile *b)
{
    assert_int_equal(a->number, b->number);
    assert_null(b->nai);
    assert_int_equal(a->vpnshare, b->vpnshare);
    assert_int_equal(a->sec, b->sec);
    assert_int_equal(a->gw_type, b->gw_type);
    assert_int_equal(b->leg, VPN_LEG_NONE);
    assert_int_equal(a->src.addr.s_addr, b->src.addr.s_addr);
    assert_int_equal(a->src.len, b->src.len);
    assert_int_equal(a->dst.addr.s_addr, b->dst.addr.s_addr);
    assert_int_equal(a->dst.len, b->dst.len);
    assert_int_equal(a->dscp_up, b->dscp_up);
    assert_int_equal(a->dscp_down, b->dscp_down);
    assert_int_equal(a->enc_alg, b->enc_alg);
    assert_int_equal(a->integ_alg, b->integ_alg);
    assert_int_equal(a->has_keys, b->has_keys);
    assert_int_equal(a->src_gw.s_addr, b->src_gw.s_addr);
    assert_int_equal(a->dst_gw.s_addr, b->dst_gw.s_addr);
    assert_int_equal(a->spi_up, b->spi_up);
    assert_int_equal(a->spi_down, b->spi_down);
    assert_int_equal(a->lifetime, b->lifetime);
    size_t el = vpn_enc_key_len(a->enc_alg), il = vpn_integ_key_len(a->integ_alg);
    if (a->has_keys) {
        if (el) {
            assert_memory_equal(a->key_up.enc, b->key_up.enc, el);
            assert_memory_equal(a->key_down.enc, b->key_down.enc, el);
        }
        if (il) {
            assert_memory_equal(a->key_up.integ, b->key_up.integ, il);
            assert_memory_equal(a->key_down.integ, b->key_down.integ, il);
        }
    }
}

static void clear_all(struct vpn_profile *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vpn_profile_clear(&p[i]);
}

/* ---- round trips ---------------------------------------------------------------------------- */

static void test_roundtrip_ama(void **state)
{
    (void)state;
    enum { N = 6 };
    struct vpn_profile in[N], out[8];
    esp_keys(&in[0], 1, VPN_ENC_AES_CBC_128, VPN_INTEG_HMAC_SHA256);
    esp_keys(&in[1], 2, VPN_ENC_AES_CBC_256, VPN_INTEG_HMAC_SHA1);
    esp_keys(&in[2], 3, VPN_ENC_AES_GCM_128, VPN_INTEG_NONE);
    ah_keys(&in[3], 4);
    encap(&in[4], 5);
    shared(&in[5], 6);

    struct msg *m = new_msg(MIP4_CMD_AMA_NAME);
    assert_int_equal(vpn_avp_put_profile_cache(m, N, 0), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(vpn_avp_put_profile(m, &in[i], 0), 0);
    assert_int_equal(vpn_avp_put_prev_fa(m, ip("192.0.2.12"), 0), 0);
    m = wire(m);

    char err[VPN_AVP_ERR_MAX];
    size_t n = 99;
    int rc = vpn_avp_get_profiles(m, out, 8, &n, err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_int_equal(n, N);
    for (int i = 0; i < N; i++)
        assert_same(&in[i], &out[i]);

    bool present;
    uint32_t pc = 0;
    assert_int_equal(vpn_avp_get_profile_cache(m, &present, &pc, err, sizeof(err)), 0);
    assert_true(present);
    assert_int_equal(pc, N);
    struct in_addr fa = {0};
    assert_int_equal(vpn_avp_get_prev_fa(m, &present, &fa, err, sizeof(err)), 0);
    assert_true(present);
    assert_int_equal(fa.s_addr, ip("192.0.2.12").s_addr);
    assert_int_equal(vpn_avp_get_service_update(m, &present, err, sizeof(err)), 0);
    assert_false(present);

    /* vpn_avp_wipe_keys zeroes the key AVPs inside the message (the received buffer). */
    vpn_avp_wipe_keys(m);
    struct vpn_profile w[8];
    assert_int_equal(vpn_avp_get_profiles(m, w, 8, &n, err, sizeof(err)), 0);
    static const uint8_t zero[VPN_ENC_KEY_MAX];
    assert_memory_equal(w[0].key_up.enc, zero, 16);
    assert_memory_equal(w[0].key_down.integ, zero, 32);
    clear_all(w, n);

    free_msg(m);
    clear_all(out, N);
    clear_all(in, N);
}

static void test_roundtrip_amr_and_empty(void **state)
{
    (void)state;
    struct msg *m = new_msg(MIP4_CMD_AMR_NAME);
    assert_int_equal(vpn_avp_put_prev_fa(m, ip("198.51.100.7"), 0), 0);
    assert_int_equal(vpn_avp_put_service_update(m, 0), 0);
    m = wire(m);
    char err[VPN_AVP_ERR_MAX];
    bool present = false;
    struct in_addr fa;
    assert_int_equal(vpn_avp_get_service_update(m, &present, err, sizeof(err)), 0);
    assert_true(present);
    assert_int_equal(vpn_avp_get_prev_fa(m, &present, &fa, err, sizeof(err)), 0);
    assert_true(present);
    assert_int_equal(fa.s_addr, ip("198.51.100.7").s_addr);
    uint32_t pc;
    assert_int_equal(vpn_avp_get_profile_cache(m, &present, &pc, err, sizeof(err)), 0);
    assert_false(present);
    size_t n = 5;
    assert_int_equal(vpn_avp_get_profiles(m, NULL, 0, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    free_msg(m);

    /* HAR with Profile-Cache 0: "empty the cache". */
    m = new_msg(MIP4_CMD_HAR_NAME);
    assert_int_equal(vpn_avp_put_profile_cache(m, 0, 0), 0);
    m = wire(m);
    assert_int_equal(vpn_avp_get_profiles(m, NULL, 0, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    free_msg(m);
}

static void test_put_refuses(void **state)
{
    (void)state;
    struct vpn_profile p;
    struct msg *m = new_msg(MIP4_CMD_AMA_NAME);
    esp_keys(&p, 1, VPN_ENC_AES_CBC_128, VPN_INTEG_HMAC_SHA256);
    p.spi_down = p.spi_up; /* invalid */
    assert_int_equal(vpn_avp_put_profile(m, &p, 0), EINVAL);
    vpn_profile_clear(&p);
    esp_keys(&p, 1, VPN_ENC_AES_CBC_128, VPN_INTEG_HMAC_SHA256);
    p.vpnshare = 2; /* invalid */
    assert_int_equal(vpn_avp_put_profile(m, &p, 0), EINVAL);
    assert_int_equal(vpn_avp_put_profile(m, &p, 4242), EINVAL);
    p.vpnshare = 0; /* the shared SA carries no keys */
    assert_int_equal(vpn_avp_put_profile(m, &p, 0), EINVAL);
    vpn_profile_clear(&p);
    shared(&p, 1);
    assert_int_equal(vpn_avp_put_profile(m, &p, 4242), ENOENT); /* vendor not registered */
    struct avp *first = NULL;
    fd_msg_browse(m, MSG_BRW_FIRST_CHILD, &first, NULL);
    assert_null(first); /* nothing appended */
    vpn_profile_clear(&p);
    fd_msg_free(m);
}

/* Encodes p alone in an AMA, parses it back, decodes it and checks it came back unchanged. */
static void roundtrip_one(const struct vpn_profile *p)
{
    struct msg *m = new_msg(MIP4_CMD_AMA_NAME);
    assert_int_equal(vpn_avp_put_profile(m, p, 0), 0);
    m = wire(m);
    struct vpn_profile out[1];
    size_t n = 0;
    char err[VPN_AVP_ERR_MAX] = "";
    int rc = vpn_avp_get_profiles(m, out, 1, &n, err, sizeof(err));
    if (rc)
        fail_msg("decode: %d %s", rc, err);
    assert_int_equal(n, 1);
    assert_same(p, &out[0]);
    vpn_profile_clear(&out[0]);
    free_msg(m);
}

/* vpnshare travels as MIP4VPN-VPN-Share, independently of the keys and SPIs. */
static void test_roundtrip_vpnshare(void **state)
{
    (void)state;
    struct vpn_profile p;
    /* 1, with keys (ESP and AH) */
    esp_keys(&p, 1, VPN_ENC_AES_CBC_256, VPN_INTEG_HMAC_SHA256);
    roundtrip_one(&p);
    vpn_profile_clear(&p);
    ah_keys(&p, 2);
    roundtrip_one(&p);
    vpn_profile_clear(&p);
    /* 1, without keys (the receiver gets the SPIs only): refused before the AVP existed */
    esp_keys(&p, 3, VPN_ENC_AES_CBC_128, VPN_INTEG_HMAC_SHA256);
    OPENSSL_cleanse(&p.key_up, sizeof(p.key_up));
    OPENSSL_cleanse(&p.key_down, sizeof(p.key_down));
    p.has_keys = false;
    roundtrip_one(&p);
    vpn_profile_clear(&p);
    ah_keys(&p, 4);
    OPENSSL_cleanse(&p.key_up, sizeof(p.key_up));
    OPENSSL_cleanse(&p.key_down, sizeof(p.key_down));
    p.has_keys = false;
    roundtrip_one(&p);
    vpn_profile_clear(&p);
    /* 1, encap-only (no SA at all, but the profile's own vpnshare is kept) */
    encap(&p, 5);
    p.vpnshare = 1;
    roundtrip_one(&p);
    vpn_profile_clear(&p);
    /* 0, default SA (no SPIs, no keys) and 0 with explicit shared-SA SPIs */
    shared(&p, 6);
    roundtrip_one(&p);
    p.spi_up = 0x4001;
    p.spi_down = 0x4002;
    roundtrip_one(&p);
    vpn_profile_clear(&p);
    /* 0, encap-only */
    encap(&p, 7);
    roundtrip_one(&p);
    vpn_profile_clear(&p);
    /* "with keys" for vpnshare 0 is refused (vpn_profile_validate): see test_put_refuses */
}

/* ---- malformed: raw groups built member by member ------------------------------------------ */

enum kind { U32, I32, OS };
struct member {
    uint32_t code;
    enum kind kind;
    uint32_t u;
    const uint8_t *os;
    size_t len;
};

static const uint8_t A_SRC[6] = {0, 1, 10, 10, 0, 100}, A_DST[6] = {0, 1, 172, 16, 50, 0},
                     A_SGW[6] = {0, 1, 192, 0, 2, 11}, A_DGW[6] = {0, 1, 10, 10, 0, 1};
static const uint8_t KEY16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t KEY32[32] = {0x55};

/* A valid ESP aes-cbc-128 + hmac-sha256 profile, number 7. */
static const struct member GOOD[] = {
    {MIP4VPN_AVP_PROFILE_NUMBER, U32, 7, NULL, 0},
    {MIP4VPN_AVP_SOURCE_PREFIX, OS, 0, A_SRC, 6},
    {MIP4VPN_AVP_SOURCE_PREFIX_LENGTH, U32, 32, NULL, 0},
    {MIP4VPN_AVP_DESTINATION_PREFIX, OS, 0, A_DST, 6},
    {MIP4VPN_AVP_DESTINATION_PREFIX_LENGTH, U32, 24, NULL, 0},
    {MIP4VPN_AVP_SECURITY_TYPE, I32, MIP4VPN_SEC_ESP, NULL, 0},
    {MIP4VPN_AVP_TUNNEL_SOURCE_GATEWAY, OS, 0, A_SGW, 6},
    {MIP4VPN_AVP_TUNNEL_DESTINATION_GATEWAY, OS, 0, A_DGW, 6},
    {MIP4VPN_AVP_DESTINATION_GATEWAY_TYPE, I32, MIP4VPN_GW_STATIC, NULL, 0},
    {MIP4VPN_AVP_SPI_UP, U32, 0x1001, NULL, 0},
    {MIP4VPN_AVP_SPI_DOWN, U32, 0x2001, NULL, 0},
    {MIP4VPN_AVP_ENCRYPTION_KEY_UP, OS, 0, KEY16, 16},
    {MIP4VPN_AVP_ENCRYPTION_KEY_DOWN, OS, 0, KEY16, 16},
    {MIP4VPN_AVP_AUTH_KEY_UP, OS, 0, KEY32, 32},
    {MIP4VPN_AVP_AUTH_KEY_DOWN, OS, 0, KEY32, 32},
    {MIP4VPN_AVP_ENCRYPTION_ALGORITHM, I32, MIP4VPN_ENCR_AES_CBC, NULL, 0},
    {MIP4VPN_AVP_INTEGRITY_ALGORITHM, I32, MIP4VPN_AUTH_HMAC_SHA2_256_128, NULL, 0},
};
#define NGOOD (sizeof(GOOD) / sizeof(GOOD[0]))

static void add_member(struct avp *g, const struct member *mb)
{
    struct dict_object *model = NULL;
    assert_int_equal(mip4vpn_dict_find_vendor_avp(D, mb->code, &model), 0);
    struct avp *a = NULL;
    assert_int_equal(fd_msg_avp_new(model, 0, &a), 0);
    union avp_value v;
    memset(&v, 0, sizeof(v));
    if (mb->kind == U32)
        v.u32 = mb->u;
    else if (mb->kind == I32)
        v.i32 = (int32_t)mb->u;
    else {
        v.os.data = (uint8_t *)(uintptr_t)mb->os;
        v.os.len = mb->len;
    }
    assert_int_equal(fd_msg_avp_setvalue(a, &v), 0);
    assert_int_equal(fd_msg_avp_add(g, MSG_BRW_LAST_CHILD, a), 0);
}

static void add_group(struct msg *m, const struct member *mbs, size_t n)
{
    struct dict_object *model = NULL;
    assert_int_equal(mip4vpn_dict_find_vendor_avp(D, MIP4VPN_AVP_VPN_PROFILE, &model), 0);
    struct avp *g = NULL;
    assert_int_equal(fd_msg_avp_new(model, 0, &g), 0);
    for (size_t i = 0; i < n; i++)
        add_member(g, &mbs[i]);
    assert_int_equal(fd_msg_avp_add(m, MSG_BRW_LAST_CHILD, g), 0);
}

/* GOOD with one change: drop (code, NULL), replace (code, &new) or duplicate (dup = true). */
static size_t variant(struct member *out, uint32_t code, const struct member *repl, bool dup)
{
    size_t n = 0;
    for (size_t i = 0; i < NGOOD; i++) {
        if (GOOD[i].code != code) {
            out[n++] = GOOD[i];
            continue;
        }
        if (dup) {
            out[n++] = GOOD[i];
            out[n++] = GOOD[i];
        } else if (repl) {
            out[n++] = *repl;
        }
    }
    return n;
}

/* Decodes a message holding a good profile then the given one; expects rc and err to contain
 * want (the bad profile is #2). */
static void expect_bad(const struct member *mbs, size_t n, int rc_want, const char *want)
{
    struct msg *m = new_msg(MIP4_CMD_AMA_NAME);
    add_group(m, GOOD, NGOOD);
    add_group(m, mbs, n);
    m = wire(m);
    struct vpn_profile out[4];
    memset(out, 0xa5, sizeof(out));
    size_t got = 99;
    char err[VPN_AVP_ERR_MAX] = "";
    int rc = vpn_avp_get_profiles(m, out, 4, &got, err, sizeof(err));
    print_message("  -> %d %s\n", rc, err);
    assert_int_equal(rc, rc_want);
    assert_int_equal(got, 0);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
    /* the first (good) profile was wiped again */
    static const uint8_t zero[16];
    assert_memory_equal(out[0].key_up.enc, zero, 16);
    free_msg(m);
}

static void test_good_raw(void **state)
{
    (void)state;
    struct msg *m = new_msg(MIP4_CMD_HAR_NAME);
    add_group(m, GOOD, NGOOD);
    m = wire(m);
    struct vpn_profile out[1];
    size_t n = 0;
    char err[VPN_AVP_ERR_MAX];
    assert_int_equal(vpn_avp_get_profiles(m, out, 1, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].number, 7);
    assert_int_equal(out[0].enc_alg, VPN_ENC_AES_CBC_128);
    assert_int_equal(out[0].integ_alg, VPN_INTEG_HMAC_SHA256);
    assert_int_equal(out[0].vpnshare, 1);
    assert_memory_equal(out[0].key_up.enc, KEY16, 16);
    vpn_profile_clear(&out[0]);
    free_msg(m);
}

/* Decodes one raw group (expected valid) and returns its vpnshare. */
static uint8_t raw_vpnshare(const struct member *mbs, size_t n)
{
    struct msg *m = new_msg(MIP4_CMD_HAR_NAME);
    add_group(m, mbs, n);
    m = wire(m);
    struct vpn_profile out[1];
    size_t got = 0;
    char err[VPN_AVP_ERR_MAX] = "";
    int rc = vpn_avp_get_profiles(m, out, 1, &got, err, sizeof(err));
    if (rc)
        fail_msg("decode: %d %s", rc, err);
    assert_int_equal(got, 1);
    uint8_t share = out[0].vpnshare;
    vpn_profile_clear(&out[0]);
    free_msg(m);
    return share;
}

/* Without MIP4VPN-VPN-Share (an older sender): 1 unless there are no keys and no SPIs. */
static void test_vpnshare_absent(void **state)
{
    (void)state;
    struct member v[NGOOD + 1];
    size_t n = 0;
    for (size_t i = 0; i < NGOOD; i++)
        assert_int_not_equal(GOOD[i].code, MIP4VPN_AVP_VPN_SHARE);
    assert_int_equal(raw_vpnshare(GOOD, NGOOD), 1); /* keys + SPIs */
    for (size_t i = 0; i < NGOOD; i++)              /* SPIs, no keys */
        if (GOOD[i].code < MIP4VPN_AVP_ENCRYPTION_KEY_UP ||
            GOOD[i].code > MIP4VPN_AVP_AUTH_KEY_DOWN)
            v[n++] = GOOD[i];
    assert_int_equal(raw_vpnshare(v, n), 1);
    n = 0;
    for (size_t i = 0; i < NGOOD; i++) /* neither keys nor SPIs: the default SA */
        if (GOOD[i].code < MIP4VPN_AVP_SPI_UP || GOOD[i].code > MIP4VPN_AVP_AUTH_KEY_DOWN)
            v[n++] = GOOD[i];
    assert_int_equal(raw_vpnshare(v, n), 0);
    /* explicit values win */
    n = 0;
    for (size_t i = 0; i < NGOOD; i++)
        if (GOOD[i].code < MIP4VPN_AVP_SPI_UP || GOOD[i].code > MIP4VPN_AVP_AUTH_KEY_DOWN)
            v[n++] = GOOD[i];
    v[n++] = (struct member){MIP4VPN_AVP_VPN_SHARE, I32, MIP4VPN_VPN_SHARE_SHARED, NULL, 0};
    assert_int_equal(raw_vpnshare(v, n), 0);
    v[n - 1].u = MIP4VPN_VPN_SHARE_PER_USER; /* per-user without SPIs: invalid profile */
    expect_bad(v, n, 5004, "VPN-Profile #2 (number 7): profile 7: SPI up 0 is reserved");
}

static void test_vpnshare_bad(void **state)
{
    (void)state;
    struct member v[NGOOD + 2];
    size_t n = variant(v, 0, NULL, false);
    v[n++] = (struct member){MIP4VPN_AVP_VPN_SHARE, I32, 2, NULL, 0};
    expect_bad(v, n, 5004,
               "VPN-Profile #2 (number 7): MIP4VPN-VPN-Share 2 out of range (0 SHARED, 1 "
               "PER-USER)");
    v[n - 1].u = (uint32_t)-1;
    expect_bad(v, n, 5004, "MIP4VPN-VPN-Share -1 out of range (0 SHARED, 1 PER-USER)");
    v[n - 1].u = MIP4VPN_VPN_SHARE_SHARED; /* keys with the shared SA */
    expect_bad(v, n, 5004, "vpnshare 0 uses the shared gateway SA and carries no keys");
    v[n - 1].u = MIP4VPN_VPN_SHARE_PER_USER;
    v[n] = v[n - 1]; /* twice */
    n++;
    expect_bad(v, n, 5009, "MIP4VPN-VPN-Share occurs more than once");
}

static void test_missing(void **state)
{
    (void)state;
    struct member v[NGOOD + 1];
    size_t n = variant(v, MIP4VPN_AVP_SECURITY_TYPE, NULL, false);
    expect_bad(v, n, 5005, "VPN-Profile #2 (number 7): missing MIP4VPN-Security-Type");
    n = variant(v, MIP4VPN_AVP_PROFILE_NUMBER, NULL, false);
    expect_bad(v, n, 5005, "VPN-Profile #2: missing MIP4VPN-Profile-Number");
    n = variant(v, MIP4VPN_AVP_TUNNEL_DESTINATION_GATEWAY, NULL, false);
    expect_bad(v, n, 5005, "(number 7): missing MIP4VPN-Tunnel-Destination-Gateway");
    n = variant(v, MIP4VPN_AVP_AUTH_KEY_DOWN, NULL, false);
    expect_bad(v, n, 5005, "(number 7): missing MIP4VPN-Auth-Key-Down (hmac-sha256 needs a 32");
}

static void test_duplicate(void **state)
{
    (void)state;
    struct member v[NGOOD + 1];
    size_t n = variant(v, MIP4VPN_AVP_SPI_UP, NULL, true);
    expect_bad(v, n, 5009, "VPN-Profile #2 (number 7): MIP4VPN-SPI-Up occurs more than once");
    n = variant(v, MIP4VPN_AVP_PROFILE_NUMBER, NULL, true);
    expect_bad(v, n, 5009, "MIP4VPN-Profile-Number occurs more than once");
}

static void test_bad_enum(void **state)
{
    (void)state;
    struct member v[NGOOD + 1];
    struct member r = {MIP4VPN_AVP_SECURITY_TYPE, I32, 9, NULL, 0};
    size_t n = variant(v, r.code, &r, false);
    expect_bad(v, n, 5004,
               "VPN-Profile #2 (number 7): MIP4VPN-Security-Type 9 out of range (1 ESP, 2 AH, 3 "
               "ENCAP-ONLY)");
    r = (struct member){MIP4VPN_AVP_DESTINATION_GATEWAY_TYPE, I32, 0, NULL, 0};
    n = variant(v, r.code, &r, false);
    expect_bad(v, n, 5004, "MIP4VPN-Destination-Gateway-Type 0 out of range");
    r = (struct member){MIP4VPN_AVP_ENCRYPTION_ALGORITHM, I32, MIP4VPN_ENCR_AES_CTR, NULL, 0};
    n = variant(v, r.code, &r, false);
    expect_bad(v, n, 5004, "MIP4VPN-Encryption-Algorithm 13 not supported");
    r = (struct member){MIP4VPN_AVP_INTEGRITY_ALGORITHM, I32, MIP4VPN_AUTH_HMAC_MD5_96, NULL, 0};
    n = variant(v, r.code, &r, false);
    expect_bad(v, n, 5004, "MIP4VPN-Integrity-Algorithm 1 not supported");
    r = (struct member){MIP4VPN_AVP_DSCP_UP, U32, 64, NULL, 0};
    n = variant(v, 0, NULL, false); /* GOOD has no DSCP: append one */
    v[n++] = r;
    expect_bad(v, n, 5004, "MIP4VPN-DSCP-Up 64 out of range 0-63");
    r = (struct member){MIP4VPN_AVP_SOURCE_PREFIX_LENGTH, U32, 33, NULL, 0};
    n = variant(v, r.code, &r, false);
    expect_bad(v, n, 5004, "MIP4VPN-Source-Prefix-Length 33 out of range 0-32");
}

static void test_bad_address(void **state)
{
    (void)state;
    static const uint8_t v6[18] = {0, 2, 0x20, 0x01, 0x0d, 0xb8};
    static const uint8_t short4[5] = {0, 1, 10, 10, 0};
    static const uint8_t fam9[6] = {0, 9, 1, 2, 3, 4};
    struct member v[NGOOD + 1];
    struct member r = {MIP4VPN_AVP_SOURCE_PREFIX, OS, 0, v6, sizeof(v6)};
    size_t n = variant(v, r.code, &r, false);
    expect_bad(v, n, 5004,
               "VPN-Profile #2 (number 7): MIP4VPN-Source-Prefix has address family 2 (IPv6)");
    r = (struct member){MIP4VPN_AVP_TUNNEL_SOURCE_GATEWAY, OS, 0, short4, sizeof(short4)};
    n = variant(v, r.code, &r, false);
    expect_bad(v, n, 5014, "MIP4VPN-Tunnel-Source-Gateway is not 6 octets");
    r = (struct member){MIP4VPN_AVP_DESTINATION_PREFIX, OS, 0, fam9, sizeof(fam9)};
    n = variant(v, r.code, &r, false);
    expect_bad(v, n, 5004, "MIP4VPN-Destination-Prefix has an unknown address family");
    r = (struct member){MIP4VPN_AVP_DESTINATION_PREFIX, OS, 0, fam9, 1};
    n = variant(v, r.code, &r, false);
    expect_bad(v, n, 5014, "MIP4VPN-Destination-Prefix is shorter than");
}

static void test_bad_keys_and_semantics(void **state)
{
    (void)state;
    struct member v[NGOOD + 1];
    struct member r = {MIP4VPN_AVP_ENCRYPTION_KEY_DOWN, OS, 0, KEY32, 32};
    size_t n = variant(v, r.code, &r, false); /* up 16, down 32 */
    expect_bad(v, n, 5004, "MIP4VPN-Encryption-Key-Down is 32 octets; aes-cbc-128 needs 16");
    r = (struct member){MIP4VPN_AVP_ENCRYPTION_KEY_UP, OS, 0, KEY16, 7};
    n = variant(v, r.code, &r, false);
    expect_bad(v, n, 5004, "MIP4VPN-Encryption-Key-Up is 7 octets; ENCR_AES_CBC takes 16 or 32");
    r = (struct member){MIP4VPN_AVP_INTEGRITY_ALGORITHM, I32, MIP4VPN_AUTH_NONE, NULL, 0};
    n = variant(v, r.code, &r, false);
    expect_bad(v, n, 5004, "MIP4VPN-Auth-Key-Up present but none takes no key");
    /* vpn_profile_validate() failures come through with the profile's own message. */
    static const uint8_t hostbits[6] = {0, 1, 172, 16, 50, 9};
    r = (struct member){MIP4VPN_AVP_DESTINATION_PREFIX, OS, 0, hostbits, 6};
    n = variant(v, r.code, &r, false);
    expect_bad(v, n, 5004, "VPN-Profile #2 (number 7): profile 7: selector destination");
    r = (struct member){MIP4VPN_AVP_SPI_DOWN, U32, 0x1001, NULL, 0};
    n = variant(v, r.code, &r, false);
    expect_bad(v, n, 5004, "they must differ");
}

static void test_counts(void **state)
{
    (void)state;
    char err[VPN_AVP_ERR_MAX];
    struct vpn_profile out[2];
    size_t n;
    /* more profiles than the caller's room */
    struct msg *m = new_msg(MIP4_CMD_AMA_NAME);
    add_group(m, GOOD, NGOOD);
    add_group(m, GOOD, NGOOD);
    m = wire(m);
    assert_int_equal(vpn_avp_get_profiles(m, out, 1, &n, err, sizeof(err)), 5009);
    assert_non_null(strstr(err, "VPN-Profile #2: more than 1 VPN-Profile AVPs"));
    free_msg(m);
    /* Profile-Cache disagrees with the number of profiles */
    m = new_msg(MIP4_CMD_AMA_NAME);
    assert_int_equal(vpn_avp_put_profile_cache(m, 2, 0), 0);
    add_group(m, GOOD, NGOOD);
    m = wire(m);
    assert_int_equal(vpn_avp_get_profiles(m, out, 2, &n, err, sizeof(err)), 5004);
    assert_string_equal(err, "MIP4VPN-Profile-Cache 2 but the message carries 1 VPN-Profile AVPs");
    free_msg(m);
    /* duplicate top-level AVPs, bad Service-Update-Request value */
    m = new_msg(MIP4_CMD_AMR_NAME);
    assert_int_equal(vpn_avp_put_prev_fa(m, ip("192.0.2.1"), 0), 0);
    assert_int_equal(vpn_avp_put_prev_fa(m, ip("192.0.2.2"), 0), 0);
    struct avp *a = NULL;
    struct dict_object *model = NULL;
    assert_int_equal(mip4vpn_dict_find_vendor_avp(D, MIP4VPN_AVP_SERVICE_UPDATE_REQUEST, &model),
                     0);
    assert_int_equal(fd_msg_avp_new(model, 0, &a), 0);
    union avp_value v = {.i32 = 2};
    assert_int_equal(fd_msg_avp_setvalue(a, &v), 0);
    assert_int_equal(fd_msg_avp_add(m, MSG_BRW_LAST_CHILD, a), 0);
    m = wire(m);
    bool present = true;
    struct in_addr fa;
    assert_int_equal(vpn_avp_get_prev_fa(m, &present, &fa, err, sizeof(err)), 5009);
    assert_string_equal(err, "MIP4VPN-Previous-FA-Address occurs more than once");
    assert_false(present);
    assert_int_equal(vpn_avp_get_service_update(m, &present, err, sizeof(err)), 5004);
    assert_string_equal(err, "MIP4VPN-Service-Update-Request 2 out of range (1 RELOAD-PROFILES)");
    free_msg(m);
}

static int setup(void **state)
{
    (void)state;
    if (fd_core_initialize() != 0)
        return -1;
    D = fd_g_config->cnf_dict;
    return mip4vpn_dict_init(0) ? -1 : 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_ama),   cmocka_unit_test(test_roundtrip_amr_and_empty),
        cmocka_unit_test(test_put_refuses),     cmocka_unit_test(test_roundtrip_vpnshare),
        cmocka_unit_test(test_vpnshare_absent), cmocka_unit_test(test_vpnshare_bad),
        cmocka_unit_test(test_good_raw),        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_duplicate),       cmocka_unit_test(test_bad_enum),
        cmocka_unit_test(test_bad_address),     cmocka_unit_test(test_bad_keys_and_semantics),
        cmocka_unit_test(test_counts),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
