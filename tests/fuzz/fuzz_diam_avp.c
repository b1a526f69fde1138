/* libFuzzer target: the Diameter decoders run on received messages (DESIGN §10), on a whole
 * Diameter message as it comes off the wire:
 *   fd_msg_parse_buffer + fd_msg_parse_dict against our dictionary (RFC 6733 base protocol +
 *   RFC 4004 + our vendor AVPs, dict/mip4vpn_dict.h), then, whatever the command, every reader
 *   the daemons apply: vpn_avp_get_profiles / _profile_cache / _prev_fa / _service_update
 *   (dict/vpn_avp.h) and aaad's AMR, AMA, HAA, HAR and STR readers plus the AMR's
 *   MIP-Originating-Foreign-AAA path walk (aaad/aaad_msg.h), and vpn_avp_wipe_keys.
 * The dictionary is built with libfdproto alone (fd_libproto_init, fd_dict_init, the base
 * protocol, mip4vpn_dict_register): no libfdcore threads.
 * Seeds (tests/fuzz/corpus/fuzz_diam_avp/): AMR/AMA/HAR/HAA of dict/tools/mip4vpn_msggen and
 * the messages diamtool exchanged with aaad in aaad/tests/test_aaad_move.sh (DIAMTOOL_SAVE). */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <freeDiameter/freeDiameter-host.h>
#include <freeDiameter/libfdproto.h>

#include "aaad_msg.h"
#include "mip4vpn_dict.h"
#include "vpn_avp.h"

/* libfdcore's base protocol dictionary (no thread; not in its public header). */
int fd_dict_base_protocol(struct dictionary *dict);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c);                  \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static struct dictionary *D;

static void quiet(int level, const char *fmt, va_list ap)
{
    (void)level;
    (void)fmt;
    (void)ap;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(fd_libproto_init() == 0);
    fd_log_handler_register(quiet);
    CHECK(fd_dict_init(&D) == 0);
    CHECK(fd_dict_base_protocol(D) == 0);
    CHECK(mip4vpn_dict_register(D, 0) == 0);
    return 0;
}

static void vendor_avps(struct msg *m)
{
    char err[VPN_AVP_ERR_MAX];
    struct vpn_profile *p = calloc(VPN_MAX_PROFILES, sizeof(*p));
    size_t n = 99;
    if (!p)
        return;
    int rc = vpn_avp_get_profiles(m, p, VPN_MAX_PROFILES, &n, err, sizeof(err));
    if (rc == 0) {
        CHECK(n <= VPN_MAX_PROFILES);
        for (size_t i = 0; i < n; i++) {
            char verr[VPN_ERR_MAX];
            CHECK(vpn_profile_validate(&p[i], verr, sizeof(verr)));
            vpn_profile_clear(&p[i]);
        }
    } else {
        CHECK(n == 0 && err[0]);
    }
    free(p);
    bool present;
    uint32_t u;
    struct in_addr a;
    err[0] = '\0';
    if (vpn_avp_get_profile_cache(m, &present, &u, err, sizeof(err)))
        CHECK(!present && err[0]);
    err[0] = '\0';
    if (vpn_avp_get_prev_fa(m, &present, &a, err, sizeof(err)))
        CHECK(!present && err[0]);
    err[0] = '\0';
    if (vpn_avp_get_service_update(m, &present, err, sizeof(err)))
        CHECK(!present && err[0]);
}

static void aaad_readers(struct msg *m)
{
    struct aaad_amr_in amr;
    aaad_amr_read(m, &amr);
    CHECK(strlen(amr.sid) <= VPN_SESSION_ID_MAX && strlen(amr.nai) <= VPNDB_NAI_MAX);
    CHECK(!amr.rc || amr.why[0]);
    CHECK(!amr.rq_ok || amr.rrq);
    char host[AAAD_ID_MAX], realm[AAAD_ID_MAX];
    if (aaad_amr_foreign_aaa(m, "peer.example", host, sizeof(host), realm, sizeof(realm)))
        CHECK(host[0] && realm[0]);

    struct aaad_ama_in ama;
    aaad_ama_read(m, &ama);
    CHECK(ama.fa_ha_key_len <= sizeof(ama.fa_ha_key) && (ama.has_fa_ha || !ama.fa_ha_key_len));
    CHECK(ama.n <= VPN_MAX_PROFILES && (!ama.n || ama.profiles));
    aaad_ama_in_clear(&ama);

    struct aaad_haa_in haa;
    aaad_haa_read(m, &haa);
    CHECK(!haa.reply_ok || haa.reply);

    struct aaad_har_in har;
    aaad_har_read(m, &har);
    CHECK(har.n <= VPN_MAX_PROFILES && (!har.rc || har.why[0]));
    aaad_har_in_clear(&har);

    struct aaad_str_in str;
    aaad_str_read(m, &str);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* fd_msg_parse_buffer takes ownership of a malloc'ed buffer. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct msg *m = NULL;
    if (fd_msg_parse_buffer(&buf, size, &m) != 0) {
        free(buf);
        return 0;
    }
    struct fd_pei pei;
    memset(&pei, 0, sizeof(pei));
    /* What freeDiameter delivers (locally or to a forward callback) has passed this. */
    if (fd_msg_parse_dict(m, D, &pei) == 0) {
        vendor_avps(m);
        aaad_readers(m);
        vpn_avp_wipe_keys(m);
    } else if (pei.pei_avp_free && pei.pei_avp) {
        fd_msg_free(pei.pei_avp);
    }
    fd_msg_free(m);
    return 0;
}
