/* Path decision (seed Fig. 13): see path.h. */
#include "path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void vpn_path_free(struct vpn_path *p)
{
    for (unsigned i = 0; i < p->n_ha; i++)
        vpn_profile_clear(&p->ha[i]);
    for (unsigned i = 0; i < p->n_fa; i++)
        vpn_profile_clear(&p->fa[i]);
    free(p->ha);
    free(p->fa);
    free(p->plain);
    memset(p, 0, sizeof(*p));
}

bool vpn_path_ha_installs(const struct vpn_profile *p)
{
    return p->leg == VPN_LEG_HA_GW || p->leg == VPN_LEG_FA_HA;
}

/* A derived profile: the database profile re-aimed at one leg, without the NAI
 * (the cache session holds it). */
static bool derive(struct vpn_profile *d, const struct vpn_profile *db,
                   const struct vpn_path_input *in, enum vpn_leg leg, enum vpn_gw_type type,
                   struct in_addr src_gw, struct in_addr dst_gw)
{
    if (!vpn_profile_copy(d, db))
        return false;
    (void)vpn_profile_set_nai(d, NULL);
    d->leg = (uint8_t)leg;
    d->gw_type = (uint8_t)type;
    d->src_gw = src_gw;
    d->dst_gw = dst_gw;
    if (in->hoa.s_addr) {
        d->src.addr = in->hoa;
        d->src.len = 32;
    }
    return true;
}

static bool fail(struct vpn_path *out, char *err, size_t errlen, const char *msg, uint32_t num)
{
    vpn_path_free(out);
    if (err && errlen)
        snprintf(err, errlen, "profile %u: %s", (unsigned)num, msg);
    return false;
}

bool vpn_path_decide(const struct vpn_path_input *in, struct vpn_path *out, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!in->fa.s_addr || !in->ha.s_addr) {
        if (err && errlen)
            snprintf(err, errlen, "path: %s address unknown", in->fa.s_addr ? "HA" : "FA");
        return false;
    }
    if (in->n_db > 64) {
        if (err && errlen)
            snprintf(err, errlen, "path: %u profiles, at most 64", in->n_db);
        return false;
    }
    if (in->n_db) {
        out->ha = calloc(2 * (size_t)in->n_db, sizeof(*out->ha));
        out->fa = calloc(in->n_db, sizeof(*out->fa));
        out->plain = calloc(in->n_db, sizeof(*out->plain));
        if (!out->ha || !out->fa || !out->plain)
            return fail(out, err, errlen, "out of memory", 0);
    }

    for (unsigned i = 0; i < in->n_db; i++) {
        const struct vpn_profile *db = &in->db[i];
        if (!vpn_profile_validate(db, err, errlen)) {
            vpn_path_free(out);
            return false;
        }
        /* S110: the gateway in front of the correspondent. */
        const struct cngw_entry *e = in->cngw ? cngw_lookup_prefix(in->cngw, db->dst) : NULL;
        if (!e) {
            char pb[20];
            struct vpn_path_note *n = &out->plain[out->n_plain++];
            n->number = db->number;
            snprintf(n->reason, sizeof(n->reason),
                     "profile %u: no CN-GW entry covers %s: plain Mobile IP, no VPN",
                     (unsigned)db->number, vpn_prefix_str(&db->dst, pb));
            continue;
        }
        if (e->gw.s_addr == in->fa.s_addr || e->gw.s_addr == in->ha.s_addr)
            return fail(out, err, errlen, "CN-GW gateway is the FA or HA itself", db->number);

        if (e->type == VPN_GW_STATIC) {
            /* S113: route FA-HA-GW. */
            struct vpn_profile *hg = &out->ha[out->n_ha];
            if (!derive(hg, db, in, VPN_LEG_HA_GW, VPN_GW_STATIC, in->ha, e->gw))
                return fail(out, err, errlen, "out of memory", db->number);
            out->n_ha++;
            if (vpn_profile_needs_keys(hg) && !hg->has_keys && !vpn_profile_generate_keys(hg))
                return fail(out, err, errlen, "RAND_bytes failed", db->number);

            struct vpn_profile *hf = &out->ha[out->n_ha];
            if (!derive(hf, db, in, VPN_LEG_FA_HA, VPN_GW_STATIC, in->ha, in->fa))
                return fail(out, err, errlen, "out of memory", db->number);
            out->n_ha++;
            OPENSSL_cleanse(&hf->key_up, sizeof(hf->key_up));
            OPENSSL_cleanse(&hf->key_down, sizeof(hf->key_down));
            hf->has_keys = false;
            if (vpn_profile_needs_keys(hf)) {
                /* The FA-HA SA is a new SA: its own SPIs and keys, never the SLA's. */
                if (!in->alloc_spi || !in->alloc_spi(in->alloc_arg, &hf->spi_up, &hf->spi_down))
                    return fail(out, err, errlen, "no SPI available for the FA-HA leg", db->number);
                if (!vpn_profile_generate_keys(hf))
                    return fail(out, err, errlen, "RAND_bytes failed", db->number);
            } else if (hf->sec != VPN_SEC_ENCAP) {
                hf->spi_up = hf->spi_down = 0; /* the default FA-HA SA (seed [0062]) */
            }
            if (!vpn_profile_validate(hf, err, errlen)) {
                vpn_path_free(out);
                return false;
            }

            struct vpn_profile *ff = &out->fa[out->n_fa];
            if (!vpn_profile_copy(ff, hf))
                return fail(out, err, errlen, "out of memory", db->number);
            out->n_fa++;
            ff->src_gw = in->fa;
            ff->dst_gw = in->ha;
        } else {
            /* S112: route FA-PCN directly. */
            struct vpn_profile *hp = &out->ha[out->n_ha];
            if (!derive(hp, db, in, VPN_LEG_FA_PCN, VPN_GW_DYNAMIC, e->gw, in->fa))
                return fail(out, err, errlen, "out of memory", db->number);
            out->n_ha++;
            if (vpn_profile_needs_keys(hp) && !hp->has_keys && !vpn_profile_generate_keys(hp))
                return fail(out, err, errlen, "RAND_bytes failed", db->number);
            struct vpn_profile *ff = &out->fa[out->n_fa];
            if (!vpn_profile_copy(ff, hp))
                return fail(out, err, errlen, "out of memory", db->number);
            out->n_fa++;
            ff->src_gw = in->fa;
            ff->dst_gw = e->gw;
        }
    }
    return true;
}
