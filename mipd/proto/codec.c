/* Registration request/reply, experimental message and extension codec
 * (RFC 5944 §1.9-1.12, §3.3-3.6; RFC 2794; RFC 3012; RFC 3024; RFC 3115;
 * RFC 4064 experimental message as laid out in DESIGN §6). */
#include "codec_internal.h"

#define RRQ_FIXED_LEN 24
#define RRP_FIXED_LEN 20
#define SHORT_AUTH_HDR 6 /* Type, Length, SPI */
#define LONG_AUTH_HDR 8  /* Type, Subtype, Length(2), SPI */
#define CVSE_HDR 10      /* Type, Reserved, Length(2), Vendor-ID, Vendor-CVSE-Type */
#define NVSE_HDR 10      /* Type, Length, Reserved(2), Vendor-ID, Vendor-NVSE-Type */

/* ---- writer ------------------------------------------------------------ */

void mip_writer_init(struct mip_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->err = MIP_OK;
}

void mip_writer_fail(struct mip_writer *w, enum mip_err e)
{
    if (w->err == MIP_OK)
        w->err = e;
}

uint8_t *mip_writer_reserve(struct mip_writer *w, size_t n)
{
    if (w->err != MIP_OK)
        return NULL;
    if (n > w->cap - w->len) {
        w->err = MIP_ERR_NOSPACE;
        return NULL;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

void mip_put_bytes(struct mip_writer *w, const void *p, size_t len)
{
    uint8_t *d = mip_writer_reserve(w, len);
    if (d && len)
        memcpy(d, p, len);
}

static void put_addr(uint8_t *p, struct in_addr a)
{
    memcpy(p, &a.s_addr, 4); /* already network order */
}

static struct in_addr get_addr(const uint8_t *p)
{
    struct in_addr a;
    memcpy(&a.s_addr, p, 4);
    return a;
}

/* ---- fixed parts ------------------------------------------------------- */

void mip_put_reg_request(struct mip_writer *w, const struct mip_reg_request *rq)
{
    uint8_t *p = mip_writer_reserve(w, RRQ_FIXED_LEN);
    if (!p)
        return;
    p[0] = MIP_MSG_REG_REQUEST;
    p[1] = rq->flags;
    mip_wr16(p + 2, rq->lifetime);
    put_addr(p + 4, rq->home_addr);
    put_addr(p + 8, rq->home_agent);
    put_addr(p + 12, rq->care_of_addr);
    mip_wr64(p + 16, rq->identification);
}

void mip_put_reg_reply(struct mip_writer *w, const struct mip_reg_reply *rp)
{
    uint8_t *p = mip_writer_reserve(w, RRP_FIXED_LEN);
    if (!p)
        return;
    p[0] = MIP_MSG_REG_REPLY;
    p[1] = rp->code;
    mip_wr16(p + 2, rp->lifetime);
    put_addr(p + 4, rp->home_addr);
    put_addr(p + 8, rp->home_agent);
    mip_wr64(p + 12, rp->identification);
}

static int exp_fixed_len(uint8_t subtype)
{
    switch (subtype) {
    case MIP_EXP_BINDING_UPDATE:
        return MIP_EXP_LEN_BU;
    case MIP_EXP_BINDING_ACK:
        return MIP_EXP_LEN_BA;
    case MIP_EXP_BINDING_REQUEST:
        return MIP_EXP_LEN_BR;
    case MIP_EXP_BINDING_WARNING:
        return MIP_EXP_LEN_BW;
    default:
        return -1;
    }
}

void mip_put_experimental(struct mip_writer *w, const struct mip_experimental *m)
{
    int flen = exp_fixed_len(m->subtype);
    if (flen < 0) {
        mip_writer_fail(w, MIP_ERR_BAD_VALUE);
        return;
    }
    uint8_t *p = mip_writer_reserve(w, 2 + (size_t)flen);
    if (!p)
        return;
    memset(p, 0, 2 + (size_t)flen);
    p[0] = MIP_MSG_EXPERIMENTAL;
    p[1] = (uint8_t)flen;
    p[2] = m->subtype;
    uint8_t *f = p + 3; /* first fixed field after Subtype */
    switch (m->subtype) {
    case MIP_EXP_BINDING_UPDATE:
        f[0] = m->u.bu.flags;
        mip_wr16(f + 2, m->u.bu.lifetime);
        put_addr(f + 4, m->u.bu.home_addr);
        put_addr(f + 8, m->u.bu.care_of_addr);
        mip_wr64(f + 12, m->u.bu.identification);
        break;
    case MIP_EXP_BINDING_ACK:
        f[1] = m->u.ba.status;
        mip_wr16(f + 2, m->u.ba.lifetime);
        put_addr(f + 4, m->u.ba.home_addr);
        mip_wr64(f + 8, m->u.ba.identification);
        break;
    case MIP_EXP_BINDING_REQUEST:
        put_addr(f + 1, m->u.br.home_addr);
        mip_wr64(f + 5, m->u.br.identification);
        break;
    case MIP_EXP_BINDING_WARNING:
        put_addr(f + 1, m->u.bw.home_addr);
        put_addr(f + 5, m->u.bw.target_node);
        break;
    }
}

/* ---- simple extensions ------------------------------------------------- */

static void put_short_ext(struct mip_writer *w, uint8_t type, const void *data, size_t len)
{
    if (len > 255) {
        mip_writer_fail(w, MIP_ERR_BAD_VALUE);
        return;
    }
    uint8_t *p = mip_writer_reserve(w, 2 + len);
    if (!p)
        return;
    p[0] = type;
    p[1] = (uint8_t)len;
    if (len)
        memcpy(p + 2, data, len);
}

void mip_put_nai(struct mip_writer *w, const void *nai, size_t len)
{
    put_short_ext(w, MIP_EXT_NAI, nai, len);
}

void mip_put_challenge(struct mip_writer *w, const void *chal, size_t len)
{
    put_short_ext(w, MIP_EXT_MN_FA_CHALLENGE, chal, len);
}

void mip_put_encap_delivery(struct mip_writer *w)
{
    put_short_ext(w, MIP_EXT_ENCAP_DELIVERY, NULL, 0);
}

void mip_put_cvse(struct mip_writer *w, uint32_t vendor_id, uint16_t vtype, const void *data,
                  size_t len)
{
    /* RFC 3115 §3.1: Length excludes Type, Reserved and Length. */
    if (len > 0xffff - 6) {
        mip_writer_fail(w, MIP_ERR_BAD_VALUE);
        return;
    }
    uint8_t *p = mip_writer_reserve(w, CVSE_HDR + len);
    if (!p)
        return;
    p[0] = MIP_EXT_CVSE;
    p[1] = 0;
    mip_wr16(p + 2, (uint16_t)(6 + len));
    mip_wr32(p + 4, vendor_id);
    mip_wr16(p + 8, vtype);
    if (len)
        memcpy(p + CVSE_HDR, data, len);
}

void mip_put_nvse(struct mip_writer *w, uint32_t vendor_id, uint16_t vtype, const void *data,
                  size_t len)
{
    /* RFC 3115 §3.2: Length excludes Type and Length, includes Reserved. */
    if (len > 255 - 8) {
        mip_writer_fail(w, MIP_ERR_BAD_VALUE);
        return;
    }
    uint8_t *p = mip_writer_reserve(w, NVSE_HDR + len);
    if (!p)
        return;
    p[0] = MIP_EXT_NVSE;
    p[1] = (uint8_t)(8 + len);
    mip_wr16(p + 2, 0);
    mip_wr32(p + 4, vendor_id);
    mip_wr16(p + 8, vtype);
    if (len)
        memcpy(p + NVSE_HDR, data, len);
}

/* ---- extension decoding ------------------------------------------------ */

static enum mip_err fail_at(size_t *off_err, size_t off, enum mip_err e)
{
    if (off_err)
        *off_err = off;
    return e;
}

static bool is_auth(uint8_t type)
{
    return type == MIP_EXT_MN_HA_AUTH || type == MIP_EXT_MN_FA_AUTH || type == MIP_EXT_FA_HA_AUTH ||
           type == MIP_EXT_GEN_AUTH;
}

/*
 * Parses the extensions in buf[off..len).  Ordering (RFC 5944 §3.6.1.3,
 * §3.7.2.2, RFC 3012 §3): each authenticator covers everything before it, so
 *  - the MN-HA authenticator cannot follow the MN-FA, FA-HA or MN-AAA ones;
 *  - after the MN-FA or MN-AAA authenticator only other authenticators may
 *    follow (the FA appends its FA-HA one);
 *  - nothing may follow the FA-HA authenticator, which the FA adds last;
 *  - each authenticator appears at most once.
 * Extensions meant for the FA (challenge, NAI, vendor extensions) may sit
 * between the MN-HA authenticator and the later ones.
 */
static enum mip_err get_exts(const uint8_t *buf, size_t len, size_t off, struct mip_exts *x,
                             size_t *off_err)
{
    memset(x, 0, sizeof(*x));
    bool after_mn_fa_or_aaa = false;
    while (off < len) {
        size_t start = off;
        uint8_t type = buf[off];
        if (x->fa_ha.present)
            return fail_at(off_err, start, MIP_ERR_EXT_ORDER);
        if (after_mn_fa_or_aaa && !is_auth(type))
            return fail_at(off_err, start, MIP_ERR_EXT_ORDER);

        /* Long-form extensions (RFC 5944 §1.11): Type, Sub-Type/Reserved, Length(2). */
        if (type == MIP_EXT_GEN_AUTH || type == MIP_EXT_CVSE ||
            type == MIP_EXT_MN_HA_KEYGEN_REQUEST || type == MIP_EXT_MN_HA_KEYGEN_REPLY) {
            if (len - off < 4)
                return fail_at(off_err, start, MIP_ERR_TRUNCATED);
            uint8_t sub = buf[off + 1];
            size_t elen = mip_rd16(buf + off + 2);
            if (len - off - 4 < elen)
                return fail_at(off_err, start, MIP_ERR_TRUNCATED);
            const uint8_t *d = buf + off + 4;
            off += 4 + elen;
            if (type == MIP_EXT_GEN_AUTH) {
                /* RFC 3012 §5: only the MN-AAA subtype is defined. */
                if (sub != MIP_GEN_AUTH_SUBTYPE_MN_AAA)
                    return fail_at(off_err, start, MIP_ERR_UNKNOWN_CRITICAL_EXT);
                if (elen < 4)
                    return fail_at(off_err, start, MIP_ERR_BAD_LENGTH);
                if (x->mn_aaa.present)
                    return fail_at(off_err, start, MIP_ERR_DUPLICATE_EXT);
                x->mn_aaa.present = true;
                x->mn_aaa.subtype = sub;
                x->mn_aaa.spi = mip_rd32(d);
                x->mn_aaa.authenticator.ptr = d + 4;
                x->mn_aaa.authenticator.len = elen - 4;
                x->mn_aaa.offset = start;
                x->mn_aaa.covered_len = start + LONG_AUTH_HDR;
                after_mn_fa_or_aaa = true;
            } else if (type == MIP_EXT_MN_HA_KEYGEN_REQUEST) {
                /* RFC 3957: only the AAA subtype is ours to understand. */
                if (sub != MIP_KEYGEN_SUBTYPE_AAA)
                    return fail_at(off_err, start, MIP_ERR_UNKNOWN_CRITICAL_EXT);
                if (x->has_keygen_request)
                    return fail_at(off_err, start, MIP_ERR_DUPLICATE_EXT);
                x->has_keygen_request = true;
                x->keygen_request_subtype = sub;
            } else if (type == MIP_EXT_MN_HA_KEYGEN_REPLY) {
                if (sub != MIP_KEYGEN_SUBTYPE_AAA)
                    return fail_at(off_err, start, MIP_ERR_UNKNOWN_CRITICAL_EXT);
                if (elen < MIP_KEYGEN_REPLY_FIXED + 1)
                    return fail_at(off_err, start, MIP_ERR_BAD_LENGTH);
                if (x->keygen.present)
                    return fail_at(off_err, start, MIP_ERR_DUPLICATE_EXT);
                struct mip_keygen_reply *k = &x->keygen;
                k->present = true;
                k->subtype = sub;
                k->lifetime = mip_rd32(d);
                k->aaa_spi = mip_rd32(d + 4);
                k->ha_spi = mip_rd32(d + 8);
                k->alg = mip_rd16(d + 12);
                k->replay = mip_rd16(d + 14);
                k->nonce.ptr = d + MIP_KEYGEN_REPLY_FIXED;
                k->nonce.len = elen - MIP_KEYGEN_REPLY_FIXED;
                k->offset = start;
            } else {
                if (elen < 6)
                    return fail_at(off_err, start, MIP_ERR_BAD_LENGTH);
                if (x->n_cvse >= MIP_MAX_VSE)
                    return fail_at(off_err, start, MIP_ERR_BAD_LENGTH);
                struct mip_vse *v = &x->cvse[x->n_cvse++];
                v->vendor_id = mip_rd32(d);
                v->vendor_type = mip_rd16(d + 4);
                v->data.ptr = d + 6;
                v->data.len = elen - 6;
            }
            continue;
        }

        /* Short form: Type, Length, data. */
        if (len - off < 2)
            return fail_at(off_err, start, MIP_ERR_TRUNCATED);
        size_t elen = buf[off + 1];
        if (len - off - 2 < elen)
            return fail_at(off_err, start, MIP_ERR_TRUNCATED);
        const uint8_t *d = buf + off + 2;
        off += 2 + elen;

        struct mip_auth_ext *a = NULL;
        switch (type) {
        case MIP_EXT_MN_HA_AUTH:
            a = &x->mn_ha;
            if (x->mn_fa.present || x->mn_aaa.present)
                return fail_at(off_err, start, MIP_ERR_EXT_ORDER);
            break;
        case MIP_EXT_MN_FA_AUTH:
            a = &x->mn_fa;
            break;
        case MIP_EXT_FA_HA_AUTH:
            a = &x->fa_ha;
            break;
        case MIP_EXT_NAI:
            if (elen == 0)
                return fail_at(off_err, start, MIP_ERR_BAD_LENGTH);
            if (x->has_nai)
                return fail_at(off_err, start, MIP_ERR_DUPLICATE_EXT);
            x->has_nai = true;
            x->nai.ptr = d;
            x->nai.len = elen;
            continue;
        case MIP_EXT_MN_FA_CHALLENGE:
            /* RFC 3012 §4: at least 4 octets. */
            if (elen < 4)
                return fail_at(off_err, start, MIP_ERR_BAD_LENGTH);
            if (x->has_challenge)
                return fail_at(off_err, start, MIP_ERR_DUPLICATE_EXT);
            x->has_challenge = true;
            x->challenge.ptr = d;
            x->challenge.len = elen;
            continue;
        case MIP_EXT_ENCAP_DELIVERY:
            /* RFC 3024 §3.3: Length 0. */
            if (elen != 0)
                return fail_at(off_err, start, MIP_ERR_BAD_LENGTH);
            if (x->encap_delivery)
                return fail_at(off_err, start, MIP_ERR_DUPLICATE_EXT);
            x->encap_delivery = true;
            continue;
        case MIP_EXT_NVSE:
            if (elen < 8)
                return fail_at(off_err, start, MIP_ERR_BAD_LENGTH);
            if (x->n_nvse >= MIP_MAX_VSE)
                return fail_at(off_err, start, MIP_ERR_BAD_LENGTH);
            x->nvse[x->n_nvse].vendor_id = mip_rd32(d + 2);
            x->nvse[x->n_nvse].vendor_type = mip_rd16(d + 6);
            x->nvse[x->n_nvse].data.ptr = d + 8;
            x->nvse[x->n_nvse].data.len = elen - 8;
            x->n_nvse++;
            continue;
        default:
            /* RFC 5944 §1.9: unknown 0-127 invalidates the message, 128-255 skipped. */
            if (type < 128)
                return fail_at(off_err, start, MIP_ERR_UNKNOWN_CRITICAL_EXT);
            x->n_skipped++;
            continue;
        }

        /* Short authentication extension (RFC 5944 §3.5). */
        if (elen < 4)
            return fail_at(off_err, start, MIP_ERR_BAD_LENGTH);
        if (a->present)
            return fail_at(off_err, start, MIP_ERR_DUPLICATE_EXT);
        a->present = true;
        a->subtype = 0;
        a->spi = mip_rd32(d);
        a->authenticator.ptr = d + 4;
        a->authenticator.len = elen - 4;
        a->offset = start;
        a->covered_len = start + SHORT_AUTH_HDR;
        if (type == MIP_EXT_MN_FA_AUTH)
            after_mn_fa_or_aaa = true;
    }
    return MIP_OK;
}

/* ---- message decoding -------------------------------------------------- */

enum mip_err mip_get_reg_request(const uint8_t *buf, size_t len, struct mip_reg_request *rq,
                                 size_t *off_err)
{
    memset(rq, 0, sizeof(*rq));
    if (len < 1)
        return fail_at(off_err, 0, MIP_ERR_TRUNCATED);
    if (buf[0] != MIP_MSG_REG_REQUEST)
        return fail_at(off_err, 0, MIP_ERR_BAD_TYPE);
    if (len < RRQ_FIXED_LEN)
        return fail_at(off_err, len, MIP_ERR_TRUNCATED);
    /* RFC 5944 §3.3: r and x are "sent as zero; ignored on reception". */
    rq->flags = buf[1] & (uint8_t) ~(MIP_RRQ_FLAG_R | MIP_RRQ_FLAG_X);
    rq->lifetime = mip_rd16(buf + 2);
    rq->home_addr = get_addr(buf + 4);
    rq->home_agent = get_addr(buf + 8);
    rq->care_of_addr = get_addr(buf + 12);
    rq->identification = mip_rd64(buf + 16);
    return get_exts(buf, len, RRQ_FIXED_LEN, &rq->ext, off_err);
}

enum mip_err mip_get_reg_reply(const uint8_t *buf, size_t len, struct mip_reg_reply *rp,
                               size_t *off_err)
{
    memset(rp, 0, sizeof(*rp));
    if (len < 1)
        return fail_at(off_err, 0, MIP_ERR_TRUNCATED);
    if (buf[0] != MIP_MSG_REG_REPLY)
        return fail_at(off_err, 0, MIP_ERR_BAD_TYPE);
    if (len < RRP_FIXED_LEN)
        return fail_at(off_err, len, MIP_ERR_TRUNCATED);
    rp->code = buf[1];
    rp->lifetime = mip_rd16(buf + 2);
    rp->home_addr = get_addr(buf + 4);
    rp->home_agent = get_addr(buf + 8);
    rp->identification = mip_rd64(buf + 12);
    return get_exts(buf, len, RRP_FIXED_LEN, &rp->ext, off_err);
}

enum mip_err mip_get_experimental(const uint8_t *buf, size_t len, struct mip_experimental *m,
                                  size_t *off_err)
{
    memset(m, 0, sizeof(*m));
    if (len < 1)
        return fail_at(off_err, 0, MIP_ERR_TRUNCATED);
    if (buf[0] != MIP_MSG_EXPERIMENTAL)
        return fail_at(off_err, 0, MIP_ERR_BAD_TYPE);
    if (len < 3)
        return fail_at(off_err, len, MIP_ERR_TRUNCATED);
    m->subtype = buf[2];
    int flen = exp_fixed_len(m->subtype);
    if (flen < 0)
        return fail_at(off_err, 2, MIP_ERR_BAD_TYPE);
    if (buf[1] != flen)
        return fail_at(off_err, 1, MIP_ERR_BAD_LENGTH);
    if (len < 2 + (size_t)flen)
        return fail_at(off_err, len, MIP_ERR_TRUNCATED);
    const uint8_t *f = buf + 3;
    switch (m->subtype) {
    case MIP_EXP_BINDING_UPDATE:
        m->u.bu.flags = f[0];
        if (f[0] & 0x0f)
            return fail_at(off_err, 3, MIP_ERR_RESERVED_BITS);
        m->u.bu.lifetime = mip_rd16(f + 2);
        m->u.bu.home_addr = get_addr(f + 4);
        m->u.bu.care_of_addr = get_addr(f + 8);
        m->u.bu.identification = mip_rd64(f + 12);
        break;
    case MIP_EXP_BINDING_ACK:
        m->u.ba.status = f[1];
        m->u.ba.lifetime = mip_rd16(f + 2);
        m->u.ba.home_addr = get_addr(f + 4);
        m->u.ba.identification = mip_rd64(f + 8);
        break;
    case MIP_EXP_BINDING_REQUEST:
        m->u.br.home_addr = get_addr(f + 1);
        m->u.br.identification = mip_rd64(f + 5);
        break;
    case MIP_EXP_BINDING_WARNING:
        m->u.bw.home_addr = get_addr(f + 1);
        m->u.bw.target_node = get_addr(f + 5);
        break;
    }
    return get_exts(buf, len, 2 + (size_t)flen, &m->ext, off_err);
}
