/* Our vendor's registration extensions (mip_proto.h, DESIGN §6): the
 * previous-FA notification CVSE and the service-update NVSE (RFC 3115). */
#include "codec_internal.h"

#include <arpa/inet.h>

#define VSE_HDR 10 /* CVSE and NVSE alike: 4 octets of header, Vendor-ID, vendor type */

/* An FA's address: not 0.0.0.0, loopback, multicast, class E or broadcast. */
static bool unicast(struct in_addr a)
{
    uint32_t h = ntohl(a.s_addr);
    return h != 0 && (h >> 24) != 127 && (h >> 28) != 0xe && (h >> 28) != 0xf;
}

void mip_put_prev_fa(struct mip_writer *w, uint32_t vendor_id, struct in_addr prev_fa)
{
    if (!unicast(prev_fa)) {
        mip_writer_fail(w, MIP_ERR_BAD_VALUE);
        return;
    }
    mip_put_cvse(w, vendor_id, MIP_VSE_TYPE_PREV_FA, &prev_fa.s_addr, MIP_PREV_FA_DATA_LEN);
}

void mip_put_service_update(struct mip_writer *w, uint32_t vendor_id, uint16_t code)
{
    if (code != MIP_SERVICE_UPDATE_RELOAD_PROFILES) {
        mip_writer_fail(w, MIP_ERR_BAD_VALUE);
        return;
    }
    uint8_t d[MIP_SERVICE_UPDATE_DATA_LEN];
    mip_wr16(d, code);
    mip_put_nvse(w, vendor_id, MIP_NVSE_TYPE_SERVICE_UPDATE, d, sizeof(d));
}

/* The first error in message order wins: each check proposes (offset, error). */
struct first_err {
    enum mip_err err;
    size_t off;
};

static void propose(struct first_err *f, size_t off, enum mip_err e)
{
    if (f->err == MIP_OK || off < f->off) {
        f->err = e;
        f->off = off;
    }
}

/* Offset of the extension's Type octet, or false when v does not lie in msg. */
static bool vse_offset(const uint8_t *msg, size_t len, const struct mip_vse *v, size_t *off)
{
    uintptr_t base = (uintptr_t)msg, at = (uintptr_t)v->data.ptr;
    if (!v->data.ptr || at < base + VSE_HDR || at - base > len || v->data.len > len - (at - base))
        return false;
    *off = (size_t)(at - base) - VSE_HDR;
    return true;
}

/* RFC 5944 §3.6.1.3: the MN-HA authenticator covers what precedes it, and these
 * must be covered (mip_proto.h). */
static bool after_mn_ha(const struct mip_exts *x, size_t off)
{
    return x->mn_ha.present && off > x->mn_ha.offset;
}

static void prev_fa(const struct mip_exts *x, const struct mip_vse *v, size_t off,
                    struct first_err *f, struct in_addr *out, unsigned *seen)
{
    if (v->data.len != MIP_PREV_FA_DATA_LEN) {
        propose(f, off, MIP_ERR_BAD_LENGTH);
    } else if (after_mn_ha(x, off)) {
        propose(f, off, MIP_ERR_EXT_ORDER);
    } else if ((*seen)++) {
        propose(f, off, MIP_ERR_DUPLICATE_EXT); /* arrays are in message order */
    } else {
        memcpy(&out->s_addr, v->data.ptr, 4);
        if (!unicast(*out))
            propose(f, off, MIP_ERR_BAD_VALUE);
    }
}

static void service_update(const struct mip_exts *x, const struct mip_vse *v, size_t off,
                           struct first_err *f, uint16_t *out, unsigned *seen)
{
    if (v->data.len != MIP_SERVICE_UPDATE_DATA_LEN) {
        propose(f, off, MIP_ERR_BAD_LENGTH);
    } else if (after_mn_ha(x, off)) {
        propose(f, off, MIP_ERR_EXT_ORDER);
    } else if ((*seen)++) {
        propose(f, off, MIP_ERR_DUPLICATE_EXT);
    } else {
        *out = mip_rd16(v->data.ptr);
        if (*out != MIP_SERVICE_UPDATE_RELOAD_PROFILES)
            propose(f, off, MIP_ERR_BAD_VALUE);
    }
}

enum mip_err mip_get_vendor_exts(const uint8_t *msg, size_t len, uint32_t vendor_id,
                                 struct mip_exts *x, size_t *off_err)
{
    struct first_err f = {MIP_OK, 0};
    struct in_addr fa = {0};
    uint16_t code = 0;
    unsigned n_fa = 0, n_su = 0;

    x->has_prev_fa = false;
    x->prev_fa.s_addr = 0;
    x->has_service_update = false;
    x->service_update = 0;
    if (!msg || x->n_cvse > MIP_MAX_VSE || x->n_nvse > MIP_MAX_VSE) {
        if (off_err)
            *off_err = 0;
        return MIP_ERR_BAD_VALUE;
    }
    for (unsigned i = 0; i < x->n_cvse; i++) {
        const struct mip_vse *v = &x->cvse[i];
        size_t off;
        if (!vse_offset(msg, len, v, &off)) {
            propose(&f, 0, MIP_ERR_BAD_VALUE);
            break;
        }
        if (v->vendor_id != vendor_id)
            continue;
        switch (v->vendor_type) {
        case MIP_VSE_TYPE_RO_AUTH:
        case MIP_VSE_TYPE_VPN_INFO:
            break;
        case MIP_VSE_TYPE_PREV_FA:
            prev_fa(x, v, off, &f, &fa, &n_fa);
            break;
        default:
            propose(&f, off, MIP_ERR_UNKNOWN_CRITICAL_EXT);
        }
    }
    for (unsigned i = 0; i < x->n_nvse; i++) {
        const struct mip_vse *v = &x->nvse[i];
        size_t off;
        if (!vse_offset(msg, len, v, &off)) {
            propose(&f, 0, MIP_ERR_BAD_VALUE);
            break;
        }
        if (v->vendor_id == vendor_id && v->vendor_type == MIP_NVSE_TYPE_SERVICE_UPDATE)
            service_update(x, v, off, &f, &code, &n_su);
    }
    if (f.err != MIP_OK) {
        if (off_err)
            *off_err = f.off;
        return f.err;
    }
    x->has_prev_fa = n_fa > 0;
    x->prev_fa = fa;
    x->has_service_update = n_su > 0;
    x->service_update = code;
    return MIP_OK;
}
