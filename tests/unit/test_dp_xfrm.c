/* Unit tests of the dataplane's IPsec objects (XFRM SAs and policies) over the recorder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane.h"
#include "dp_backend.h"

static struct in_addr ip(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static const uint8_t KEY_ENC[16] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static const uint8_t KEY_AUTH[32] = {0xca, 0xfe, 0xba, 0xbe, 0x55};

static struct dp_xfrm_state sa_esp(uint32_t spi)
{
    struct dp_xfrm_state sa;
    memset(&sa, 0, sizeof(sa));
    sa.src = ip("192.0.2.1");
    sa.dst = ip("192.0.2.11");
    sa.proto = DP_XFRM_ESP;
    sa.spi = spi;
    strcpy(sa.enc.name, "cbc(aes)");
    sa.enc.key = KEY_ENC;
    sa.enc.key_len = sizeof(KEY_ENC);
    strcpy(sa.auth.name, "hmac(sha256)");
    sa.auth.key = KEY_AUTH;
    sa.auth.key_len = sizeof(KEY_AUTH);
    sa.auth.icv_bits = 128;
    return sa;
}

static struct dp_xfrm_policy pol_out(const char *dst)
{
    struct dp_xfrm_policy p;
    memset(&p, 0, sizeof(p));
    p.src = ip("10.0.0.0");
    p.src_plen = 24;
    p.dst = ip(dst);
    p.dst_plen = 32;
    p.dir = DP_XFRM_DIR_OUT;
    p.priority = 100;
    p.tmpl_src = ip("192.0.2.1");
    p.tmpl_dst = ip("192.0.2.11");
    p.proto = DP_XFRM_ESP;
    p.spi = 0x1000;
    return p;
}

static int setup(void **state)
{
    struct dataplane *dp = dp_new_recorder();
    if (!dp)
        return -1;
    *state = dp;
    return 0;
}

static int teardown(void **state)
{
    struct dataplane *dp = *state;
    dp_flush(dp);
    assert_int_equal(dp_recorder_kernel_count(dp), 0);
    dp_free(dp);
    return 0;
}

static void test_state_and_policy(void **state)
{
    struct dataplane *dp = *state;
    struct dp_xfrm_state sa = sa_esp(0x1000);
    struct dp_xfrm_policy p = pol_out("10.10.0.100");
    assert_int_equal(dp_xfrm_state_get(dp, &sa), 0);
    assert_int_equal(dp_xfrm_policy_get(dp, &p), 0);
    assert_string_equal(dp_recorder_log(dp),
                        "xfrm_state_add esp spi 0x1000 192.0.2.1>192.0.2.11 enc cbc(aes) auth "
                        "hmac(sha256)\n"
                        "xfrm_policy_add out 10.0.0.0/24>10.10.0.100/32 tmpl esp "
                        "192.0.2.1>192.0.2.11 spi 0x1000 reqid 0 prio 100\n");
    assert_int_equal(dp_count(dp, DP_OBJ_XFRM_STATE), 1);
    assert_int_equal(dp_count(dp, DP_OBJ_XFRM_POLICY), 1);
    assert_int_equal(dp_recorder_check(dp), 0);

    /* Shared: second get only counts. */
    dp_recorder_clear_log(dp);
    assert_int_equal(dp_xfrm_state_get(dp, &sa), 0);
    assert_string_equal(dp_recorder_log(dp), "");
    assert_int_equal(dp_obj_at(dp, 0)->refs, 2);

    /* The shadow's description has no keys. */
    const struct dp_xfrm_state *d = dp_obj_xfrm_state(dp_obj_at(dp, 0));
    assert_non_null(d);
    assert_null(d->enc.key);
    assert_null(d->auth.key);
    assert_int_equal(d->enc.key_len, 16);
    assert_int_equal(d->spi, 0x1000);
    assert_null(dp_obj_xfrm_policy(dp_obj_at(dp, 0)));
    const struct dp_xfrm_policy *dpol = dp_obj_xfrm_policy(dp_obj_at(dp, 1));
    assert_non_null(dpol);
    assert_int_equal(dpol->priority, 100);

    /* Same identity (dst, spi, proto) with other parameters: conflict. */
    struct dp_xfrm_state other = sa;
    strcpy(other.enc.name, "cbc(des3_ede)");
    assert_int_equal(dp_xfrm_state_get(dp, &other), -EEXIST);
    struct dp_xfrm_policy p2 = p;
    p2.priority = 7;
    assert_int_equal(dp_xfrm_policy_get(dp, &p2), -EEXIST);

    /* Put: only identity fields count. */
    struct dp_xfrm_state id;
    memset(&id, 0, sizeof(id));
    id.dst = sa.dst;
    id.spi = sa.spi;
    id.proto = DP_XFRM_ESP;
    dp_recorder_clear_log(dp);
    assert_int_equal(dp_xfrm_state_put(dp, &id), 0);
    assert_string_equal(dp_recorder_log(dp), "");
    assert_int_equal(dp_xfrm_policy_put(dp, &p2), 0);
    assert_int_equal(dp_xfrm_state_put(dp, &id), 0);
    assert_string_equal(dp_recorder_log(dp),
                        "xfrm_policy_del out 10.0.0.0/24>10.10.0.100/32\n"
                        "xfrm_state_del esp spi 0x1000 192.0.2.1>192.0.2.11\n");
    assert_int_equal(dp_count(dp, -1), 0);
    assert_int_equal(dp_xfrm_state_put(dp, &id), -ENOENT);
}

static void test_validation(void **state)
{
    struct dataplane *dp = *state;
    struct dp_xfrm_state sa = sa_esp(0x2000);
    sa.proto = 17;
    assert_int_equal(dp_xfrm_state_get(dp, &sa), -EINVAL);
    sa = sa_esp(0x2000);
    sa.enc.key = NULL;
    assert_int_equal(dp_xfrm_state_get(dp, &sa), -EINVAL);
    sa = sa_esp(0x2000);
    sa.enc.key_len = DP_XFRM_KEY_MAX + 1;
    assert_int_equal(dp_xfrm_state_get(dp, &sa), -EINVAL);
    sa = sa_esp(0x2000);
    strcpy(sa.aead.name, "rfc4106(gcm(aes))"); /* aead with enc */
    assert_int_equal(dp_xfrm_state_get(dp, &sa), -EINVAL);
    sa = sa_esp(0x2000);
    sa.proto = DP_XFRM_AH; /* AH with enc */
    assert_int_equal(dp_xfrm_state_get(dp, &sa), -EINVAL);
    sa.enc.name[0] = '\0';
    sa.enc.key_len = 0;
    assert_int_equal(dp_xfrm_state_get(dp, &sa), 0); /* AH, auth only */
    assert_string_equal(dp_recorder_log(dp),
                        "xfrm_state_add ah spi 0x2000 192.0.2.1>192.0.2.11 auth hmac(sha256)\n");

    struct dp_xfrm_policy p = pol_out("10.10.0.100");
    p.dst_plen = 24; /* host bits set */
    assert_int_equal(dp_xfrm_policy_get(dp, &p), -EINVAL);
    p = pol_out("10.10.0.100");
    p.dir = 3;
    assert_int_equal(dp_xfrm_policy_get(dp, &p), -EINVAL);
    assert_int_equal(dp_count(dp, -1), 1);
}

static void test_failure_and_json(void **state)
{
    struct dataplane *dp = *state;
    struct dp_xfrm_state sa = sa_esp(0x3000);
    dp_recorder_fail_next(dp, -ENOMEM);
    assert_int_equal(dp_xfrm_state_get(dp, &sa), -ENOMEM);
    assert_int_equal(dp_count(dp, -1), 0);
    assert_int_equal(dp_xfrm_state_get(dp, &sa), 0);
    struct dp_xfrm_policy p = pol_out("10.10.0.100");
    p.dir = DP_XFRM_DIR_FWD;
    assert_int_equal(dp_xfrm_policy_get(dp, &p), 0);
    /* Failed removal leaves the shadow as it was. */
    dp_recorder_fail_next(dp, -EPERM);
    assert_int_equal(dp_xfrm_state_put(dp, &sa), -EPERM);
    assert_int_equal(dp_count(dp, DP_OBJ_XFRM_STATE), 1);
    assert_int_equal(dp_recorder_check(dp), 0);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    dp_dump_json(dp, f);
    fclose(f);
    assert_string_equal(
        buf,
        "[{\"kind\":\"xfrm_state\",\"proto\":\"esp\",\"spi\":\"0x3000\",\"src\":\"192.0.2.1\","
        "\"dst\":\"192.0.2.11\",\"reqid\":0,\"enc\":\"cbc(aes)\",\"auth\":\"hmac(sha256)\","
        "\"aead\":null,\"refs\":1},"
        "{\"kind\":\"xfrm_policy\",\"dir\":\"fwd\",\"src\":\"10.0.0.0/24\",\"dst\":"
        "\"10.10.0.100/32\",\"priority\":100,\"tmpl\":{\"proto\":\"esp\",\"src\":\"192.0.2.1\","
        "\"dst\":\"192.0.2.11\",\"spi\":\"0x1000\",\"reqid\":0},\"refs\":1}]");
    /* No key byte in the dump nor the log. */
    assert_null(strstr(buf, "dead"));
    assert_null(strstr(dp_recorder_log(dp), "dead"));
    free(buf);

    /* Flush: reverse order, in one batch. */
    dp_recorder_clear_log(dp);
    dp_flush(dp);
    assert_string_equal(dp_recorder_log(dp),
                        "xfrm_batch 2\n"
                        "xfrm_policy_del fwd 10.0.0.0/24>10.10.0.100/32\n"
                        "xfrm_state_del esp spi 0x3000 192.0.2.1>192.0.2.11\n");
}

static void test_batch(void **state)
{
    struct dataplane *dp = *state;
    enum { N = 1000 };
    static struct dp_xfrm_state sas[N];
    static struct dp_xfrm_policy pols[N];
    static struct dp_xfrm_op ops[2 * N + 2];
    for (unsigned i = 0; i < N; i++) {
        sas[i] = sa_esp(0x10000 + i);
        char dst[32];
        snprintf(dst, sizeof(dst), "10.10.%u.%u", i / 250, i % 250 + 1);
        pols[i] = pol_out(dst);
        pols[i].spi = sas[i].spi;
        ops[2 * i] = (struct dp_xfrm_op){.op = DP_XFRM_STATE_GET, .sa = &sas[i]};
        ops[2 * i + 1] = (struct dp_xfrm_op){.op = DP_XFRM_POLICY_GET, .pol = &pols[i]};
    }
    /* A duplicate get in the same batch shares the pending object; a put of a
     * pending object is refused. */
    ops[2 * N] = (struct dp_xfrm_op){.op = DP_XFRM_STATE_GET, .sa = &sas[0]};
    ops[2 * N + 1] = (struct dp_xfrm_op){.op = DP_XFRM_POLICY_PUT, .pol = &pols[1]};
    assert_int_equal(dp_xfrm_many(dp, ops, 2 * N + 2), 1);
    assert_int_equal(ops[2 * N].result, 0);
    assert_int_equal(ops[2 * N + 1].result, -EBUSY);
    assert_int_equal(dp_count(dp, DP_OBJ_XFRM_STATE), N);
    assert_int_equal(dp_count(dp, DP_OBJ_XFRM_POLICY), N);
    assert_int_equal(dp_obj_at(dp, 0)->refs, 2);
    assert_int_equal(dp_recorder_check(dp), 0);
    assert_non_null(strstr(dp_recorder_log(dp), "xfrm_batch 2000\n"));

    /* Batch removal with one kernel failure: that op fails, the rest succeed. */
    dp_recorder_clear_log(dp);
    for (unsigned i = 0; i < N; i++) {
        ops[2 * i] = (struct dp_xfrm_op){.op = DP_XFRM_POLICY_PUT, .pol = &pols[i]};
        ops[2 * i + 1] = (struct dp_xfrm_op){.op = DP_XFRM_STATE_PUT, .sa = &sas[i]};
    }
    ops[2 * N] = (struct dp_xfrm_op){.op = DP_XFRM_STATE_PUT, .sa = &sas[0]};
    dp_recorder_fail_next(dp, -EIO);
    assert_int_equal(dp_xfrm_many(dp, ops, 2 * N + 1), 1);
    assert_int_equal(ops[0].result, -EIO);
    /* sas[0] had two refs: the first put only counted, the last removed it. */
    assert_int_equal(ops[1].result, 0);
    assert_int_equal(ops[2 * N].result, 0);
    assert_int_equal(dp_count(dp, -1), 1);
    assert_int_equal(dp_recorder_check(dp), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_state_and_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_and_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
