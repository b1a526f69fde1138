/* Unit tests: vpncache/vpn_cvse, VPN information in a BU (DESIGN §6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "vpn_cvse.h"

static const uint8_t KEY[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t KEY2[32] = "0123456789abcdef0123456789abcdeF";
#define VID MIP_DEFAULT_VENDOR_ID

static struct in_addr A(const char *s) {
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static void
mk_info(struct vpn_info *in)
{
    memset(in, 0, sizeof(*in));
    strcpy(in->session_id, "aaah.home.example;1234;5");
    strcpy(in->nai, "alice@home.example");
    in->hoa = A("10.10.0.100");
    in->lifetime = 1800;
    in->n = 3;
    for (unsigned i = 0; i < 3; i++) {
        struct vpn_profile *p = &in->profiles[i];
        vpn_profile_init(p);
        p->number = i + 1;
        p->leg = VPN_LEG_FA_PCN;
        p->gw_type = VPN_GW_DYNAMIC;
        assert_true(vpn_prefix_parse("10.10.0.100/32", &p->src));
        assert_true(vpn_prefix_parse("172.20.5.0/24", &p->dst));
        p->src_gw = A("198.51.100.70");
        p->dst_gw = A("203.0.113.10");
        p->spi_up = 0x1000 + i;
        p->spi_down = 0x2000 + i;
        p->dscp_up = 46;
        p->dscp_down = 10;
        p->lifetime = 600;
    }
    in->profiles[1].enc_alg = VPN_ENC_AES_GCM_128;
    in->profiles[1].integ_alg = VPN_INTEG_NONE;
    assert_true(vpn_profile_generate_keys(&in->profiles[0]));
    assert_true(vpn_profile_generate_keys(&in->profiles[1]));
    in->profiles[2].vpnshare = 0; /* default SA: no keys */
    in->profiles[2].spi_up = in->profiles[2].spi_down = 0;
}

/* A whole BU (experimental message, subtype 18) carrying the CVSE. */
static size_t build_bu(uint8_t *buf, size_t cap, const struct vpn_info *in, const uint8_t *key)
{
    struct mip_writer w;
    mip_writer_init(&w, buf, cap);
    struct mip_experimental m;
    memset(&m, 0, sizeof(m));
    m.subtype = MIP_EXP_BINDING_UPDATE;
    m.u.bu.flags = MIP_BU_FLAG_A;
    m.u.bu.lifetime = 1800;
    m.u.bu.home_addr = in->hoa;
    m.u.bu.care_of_addr = A("203.0.113.10");
    m.u.bu.identification = 42;
    mip_put_experimental(&w, &m);
    char err[VPN_ERR_MAX];
    if (!vpn_cvse_put(&w, VID, in, key, 32, err, sizeof(err)))
        fail_msg("put: %s", err);
    assert_int_equal(w.err, MIP_OK);
    return w.len;
}

static bool decode_bu(const uint8_t *buf, size_t len, struct vpn_info *out, char *err)
{
    struct mip_experimental m;
    size_t off;
    enum mip_err e = mip_get_experimental(buf, len, &m, &off);
    if (e != MIP_OK) {
        snprintf(err, VPN_ERR_MAX, "mip: %s", mip_err_str(e));
        return false;
    }
    unsigned count;
    const struct mip_vse *v = vpn_cvse_find(&m.ext, VID, &count);
    if (!v) {
        snprintf(err, VPN_ERR_MAX, "no VPN-INFO");
        return false;
    }
    return vpn_cvse_get(v, VID, KEY, sizeof(KEY), out, err, VPN_ERR_MAX);
}

static void test_roundtrip(void **st)
{
    (void)st;
    struct vpn_info in, out;
    uint8_t buf[MIP_MAX_MSG];
    char err[VPN_ERR_MAX];
    mk_info(&in);
    size_t len = build_bu(buf, sizeof(buf), &in, KEY);
    /* the keys never appear in clear on the wire */
    assert_null(memmem(buf, len, in.profiles[0].key_up.enc, 8));
    assert_null(memmem(buf, len, in.profiles[1].key_down.enc, 8));
    assert_non_null(memmem(buf, len, "alice@home.example", 18));
    assert_true(decode_bu(buf, len, &out, err));
    assert_string_equal(out.session_id, in.session_id);
    assert_string_equal(out.nai, in.nai);
    assert_int_equal(out.hoa.s_addr, in.hoa.s_addr);
    assert_int_equal(out.lifetime, 1800);
    assert_int_equal(out.n, 3);
    for (unsigned i = 0; i < 3; i++) {
        const struct vpn_profile *a = &in.profiles[i], *b = &out.profiles[i];
        assert_int_equal(a->number, b->number);
        assert_int_equal(a->leg, b->leg);
        assert_int_equal(a->gw_type, b->gw_type);
        assert_int_equal(a->src.addr.s_addr, b->src.addr.s_addr);
        assert_int_equal(a->dst.len, b->dst.len);
        assert_int_equal(a->dscp_down, b->dscp_down);
        assert_int_equal(a->src_gw.s_addr, b->src_gw.s_addr);
        assert_int_equal(a->dst_gw.s_addr, b->dst_gw.s_addr);
        assert_int_equal(a->spi_up, b->spi_up);
        assert_int_equal(a->spi_down, b->spi_down);
        assert_int_equal(a->enc_alg, b->enc_alg);
        assert_int_equal(a->lifetime, b->lifetime);
        assert_int_equal(a->has_keys, b->has_keys);
        assert_memory_equal(&a->key_up, &b->key_up, sizeof(a->key_up));
        assert_memory_equal(&a->key_down, &b->key_down, sizeof(a->key_down));
    }
    vpn_info_clear(&out);

    /* two encodings differ (random nonce) and both decode */
    uint8_t buf2[MIP_MAX_MSG];
    size_t len2 = build_bu(buf2, sizeof(buf2), &in, KEY);
    assert_int_equal(len, len2);
    assert_memory_not_equal(buf, buf2, len);
    assert_true(decode_bu(buf2, len2, &out, err));
    vpn_info_clear(&out);

    /* no profiles at all: still sealed (authenticates the session data) */
    in.n = 0;
    len = build_bu(buf, sizeof(buf), &in, KEY);
    assert_true(decode_bu(buf, len, &out, err));
    assert_int_equal(out.n, 0);
    in.n = 3;
    vpn_info_clear(&out);
    vpn_info_clear(&in);
}

static void test_tamper_every_octet(void **st)
{
    (void)st;
    struct vpn_info in, out;
    uint8_t buf[MIP_MAX_MSG];
    char err[VPN_ERR_MAX];
    mk_info(&in);
    size_t len = build_bu(buf, sizeof(buf), &in, KEY);
    size_t cvse = 2 + MIP_EXP_LEN_BU; /* BU: Type, Length, then Length octets */
    for (size_t i = cvse; i < len; i++) {
        if (i == cvse + 1) /* CVSE Reserved: ignored on reception (RFC 3115 §3.1) */
            continue;
        for (unsigned bit = 0; bit < 8; bit += 3) {
            buf[i] ^= (uint8_t)(1u << bit);
            err[0] = '\0';
            if (decode_bu(buf, len, &out, err))
                fail_msg("flipping bit %u of octet %zu went unnoticed", bit, i);
            assert_true(strlen(err) > 0);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* every truncation fails cleanly */
    for (size_t l = cvse; l < len; l++)
        assert_false(decode_bu(buf, l, &out, err));
    /* wrong key */
    len = build_bu(buf, sizeof(buf), &in, KEY2);
    assert_false(decode_bu(buf, len, &out, err));
    assert_string_equal(err, "VPN-INFO CVSE: authentication failed: tampered or wrong agent key");
    vpn_info_clear(&in);
}

/* Hand-made CVSE data, decoded with a given vendor type. */
static bool raw(const uint8_t *d, size_t n, char *err)
{
    struct mip_vse v = {VID, VPN_VSE_TYPE_VPN_INFO, {d, n}};
    struct vpn_info out;
    return vpn_cvse_get(&v, VID, KEY, sizeof(KEY), &out, err, VPN_ERR_MAX);
}

static void expect(const uint8_t *d, size_t n, const char *needle)
{
    char err[VPN_ERR_MAX] = "";
    assert_false(raw(d, n, err));
    if (!strstr(err, needle))
        fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void test_malformed(void **st)
{
    (void)st;
    char err[VPN_ERR_MAX];
    expect((const uint8_t *)"", 0, "no Version octet");
    expect((const uint8_t *)"\x02", 1, "version 2 not supported");
    expect((const uint8_t *)"\x01\x01", 2, "truncated TLV header at offset 1");
    expect((const uint8_t *)"\x01\x01\x00\x05"
                            "ab",
           6, "SESSION-ID TLV at offset 1: length 5 runs past");
    expect((const uint8_t *)"\x01\x09\x00\x00", 4, "unknown TLV type 9");
    expect((const uint8_t *)"\x01\x01\x00\x00", 4, "SESSION-ID length 0");
    expect((const uint8_t *)"\x01\x01\x00\x02"
                            "a\0",
           6, "SESSION-ID contains a NUL");
    expect((const uint8_t *)"\x01\x01\x00\x01"
                            "a\x01\x00\x01"
                            "b",
           9, "duplicate SESSION-ID");
    expect((const uint8_t *)"\x01\x03\x00\x03"
                            "abc",
           7, "HOME-ADDR length 3");
    expect((const uint8_t *)"\x01\x04\x00\x04"
                            "abcd",
           8, "missing SESSION-ID");
    expect((const uint8_t *)"\x01\x01\x00\x01"
                            "a",
           5, "missing LIFETIME");
    expect((const uint8_t *)"\x01\x01\x00\x01"
                            "a\x04\x00\x04"
                            "abcd",
           12, "missing SEALED");
    expect((const uint8_t *)"\x01\x05\x00\x03"
                            "abc",
           7, "PROFILE 0 length 3, must be 44");
    uint8_t d[200] = {1, 1, 0, 1, 'a', 4, 0, 4, 0, 0, 0, 9, 6, 0, 20};
    expect(d, 35, "SEALED length 20, at least 28");
    d[14] = 28;
    d[43] = 5; /* a TLV after SEALED */
    expect(d, 46, "PROFILE TLV after SEALED");
    d[14] = 29;
    expect(d, 44, "SEALED carries 1 key octets, the profiles need 0");
    d[14] = 28;
    expect(d, 43, "authentication failed");
    /* profile with reserved bits / unknown algorithm */
    uint8_t q[100] = {1, 5, 0, 44};
    q[4 + 22] = 0x80;
    expect(q, 48, "PROFILE 0: reserved flag bits 0x80 set");
    q[4 + 22] = 0;
    q[4 + 23] = 1;
    expect(q, 48, "PROFILE 0: reserved octet is 1");
    q[4 + 23] = 0;
    q[4 + 20] = 77;
    expect(q, 48, "PROFILE 0: unknown algorithm (enc 77");
    /* more than 8 profiles */
    uint8_t many[1 + 9 * 47];
    memset(many, 0, sizeof(many));
    many[0] = 1;
    for (int i = 0; i < 9; i++) {
        many[1 + i * 47] = 5;
        many[1 + i * 47 + 2] = 44;
    }
    expect(many, sizeof(many), "more than 8 PROFILE TLVs");
    /* wrong vendor / vendor type */
    struct mip_vse v = {VID + 1, VPN_VSE_TYPE_VPN_INFO, {d, 43}};
    struct vpn_info out;
    assert_false(vpn_cvse_get(&v, VID, KEY, sizeof(KEY), &out, err, sizeof(err)));
    assert_non_null(strstr(err, "vendor ID 32474, expected 32473"));
    v.vendor_id = VID;
    v.vendor_type = MIP_VSE_TYPE_RO_AUTH;
    assert_false(vpn_cvse_get(&v, VID, KEY, sizeof(KEY), &out, err, sizeof(err)));
    assert_non_null(strstr(err, "Vendor-CVSE-Type 1 is not VPN-INFO"));
    v.vendor_type = VPN_VSE_TYPE_VPN_INFO;
    assert_false(vpn_cvse_get(&v, VID, KEY, 8, &out, err, sizeof(err)));
    assert_non_null(strstr(err, "agent key shorter"));
}

/* A correctly sealed CVSE whose profile is inconsistent is still refused. */
static void test_sealed_but_invalid(void **st)
{
    (void)st;
    struct vpn_info in, out;
    uint8_t buf[MIP_MAX_MSG];
    char err[VPN_ERR_MAX];
    mk_info(&in);
    /* encoder refuses first */
    in.profiles[0].spi_up = 9;
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    assert_false(vpn_cvse_put(&w, VID, &in, KEY, sizeof(KEY), err, sizeof(err)));
    assert_non_null(strstr(err, "profile 1: SPI up 9 is reserved"));
    in.profiles[0].spi_up = 0x1000;
    /* too small an output buffer */
    mip_writer_init(&w, buf, 40);
    assert_false(vpn_cvse_put(&w, VID, &in, KEY, sizeof(KEY), err, sizeof(err)));
    /* duplicate profile number for the same leg, sealed by a peer with the key */
    in.profiles[1].number = in.profiles[0].number;
    mip_writer_init(&w, buf, sizeof(buf));
    assert_true(vpn_cvse_put(&w, VID, &in, KEY, sizeof(KEY), err, sizeof(err)));
    struct mip_vse v = {VID, VPN_VSE_TYPE_VPN_INFO, {buf + 10, w.len - 10}};
    assert_false(vpn_cvse_get(&v, VID, KEY, sizeof(KEY), &out, err, sizeof(err)));
    assert_non_null(strstr(err, "profile 1 appears twice for leg fa-pcn"));
    /* find: counts VPN-INFO CVSEs */
    struct mip_exts x;
    memset(&x, 0, sizeof(x));
    x.n_cvse = 2;
    x.cvse[0] = v;
    x.cvse[1] = v;
    unsigned count;
    assert_ptr_equal(vpn_cvse_find(&x, VID, &count), &x.cvse[0]);
    assert_int_equal(count, 2);
    assert_null(vpn_cvse_find(&x, VID + 1, &count));
    assert_int_equal(count, 0);
    vpn_info_clear(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_tamper_every_octet),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_sealed_but_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
