/* libFuzzer target: the VPN-INFO CVSE decoder (vpncache/vpn_cvse.c) on
 * untrusted input, three ways:
 *  1. the input as CVSE data, straight into vpn_cvse_get;
 *  2. the input as a whole Mobile IP message: every VPN-INFO CVSE found by
 *     the mipproto decoder goes through vpn_cvse_get;
 *  3. the input as struct vpn_info fields: whatever the encoder accepts must
 *     decode back to the same thing (reaches the checks after the tag). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mip_proto.h"
#include "vpn_cvse.h"

static const uint8_t KEY[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static void decode_one(const struct mip_vse *v)
{
    struct vpn_info out;
    char err[VPN_ERR_MAX];
    err[0] = '\0';
    if (vpn_cvse_get(v, MIP_DEFAULT_VENDOR_ID, KEY, sizeof(KEY), &out, err, sizeof(err))) {
        CHECK(out.n <= VPN_CVSE_MAX_PROFILES);
        vpn_info_clear(&out);
    } else {
        CHECK(err[0] != '\0');
    }
}

static void roundtrip(const uint8_t *d, size_t n)
{
    struct vpn_info in;
    memset(&in, 0, sizeof(in));
    if (n < 8)
        return;
    size_t sl = 1 + d[0] % 40;
    memset(in.session_id, 'a' + d[1] % 26, sl);
    in.lifetime = (uint32_t)d[2] << 8 | d[3];
    memcpy(&in.hoa.s_addr, d + 4, 4);
    d += 8;
    n -= 8;
    size_t rec = sizeof(struct vpn_profile) - offsetof(struct vpn_profile, vpnshare);
    while (n >= rec && in.n < VPN_CVSE_MAX_PROFILES) {
        struct vpn_profile *p = &in.profiles[in.n++];
        memcpy(&p->vpnshare, d, rec);
        uint8_t hk; /* a bool must hold 0 or 1 */
        memcpy(&hk, &p->has_keys, 1);
        p->has_keys = hk & 1;
        p->number = in.n;
        d += rec;
        n -= rec;
    }
    uint8_t buf[4096];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    char err[VPN_ERR_MAX];
    if (vpn_cvse_put(&w, MIP_DEFAULT_VENDOR_ID, &in, KEY, sizeof(KEY), err, sizeof(err))) {
        struct mip_vse v = {MIP_DEFAULT_VENDOR_ID, VPN_VSE_TYPE_VPN_INFO, {buf + 10, w.len - 10}};
        struct vpn_info out;
        CHECK(vpn_cvse_get(&v, MIP_DEFAULT_VENDOR_ID, KEY, sizeof(KEY), &out, err, sizeof(err)));
        CHECK(out.n == in.n && out.lifetime == in.lifetime);
        CHECK(strcmp(out.session_id, in.session_id) == 0);
        for (unsigned i = 0; i < in.n; i++) {
            CHECK(out.profiles[i].spi_up == in.profiles[i].spi_up);
            CHECK(out.profiles[i].has_keys == in.profiles[i].has_keys);
            if (in.profiles[i].has_keys) {
                size_t el = vpn_enc_key_len(in.profiles[i].enc_alg);
                CHECK(memcmp(out.profiles[i].key_up.enc, in.profiles[i].key_up.enc, el) == 0);
            }
        }
        vpn_info_clear(&out);
    }
    vpn_info_clear(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mip_vse v = {MIP_DEFAULT_VENDOR_ID, VPN_VSE_TYPE_VPN_INFO, {data, size}};
    decode_one(&v);

    struct mip_experimental m;
    size_t off;
    if (mip_get_experimental(data, size, &m, &off) == MIP_OK)
        for (unsigned i = 0; i < m.ext.n_cvse; i++)
            if (m.ext.cvse[i].vendor_type == VPN_VSE_TYPE_VPN_INFO)
                decode_one(&m.ext.cvse[i]);

    roundtrip(data, size);
    return 0;
}
