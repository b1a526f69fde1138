/* libFuzzer target: the PCN's handling of binding updates (src/pcn.c), the
 * whole path an untrusted datagram takes: decoding, peer lookup, RO-auth,
 * replay check, VPN-INFO, profile checks, the VPN cache.  Each input is fed as
 * is and again with a valid RO authenticator appended (made with the peer's
 * key), so the fuzzer reaches what lies behind the authentication. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "mip_proto.h"
#include "vpn_cache.h"

static const char *conf =
    "pcn: { address = \"192.0.2.70\"; serves = ( \"172.16.60.0/24\" ); replay_window = 7;\n"
    "  ha_peers = ( { address = \"10.10.0.1\"; spi = 4096;\n"
    "    key = \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"; } ); };\n";
static const uint8_t KEY[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static int null_tx(void *ctx, const struct pkt_addr *to, const uint8_t *buf, size_t len)
{
    (void)ctx;
    (void)to;
    /* What we answer must decode. */
    struct mip_experimental m;
    if (mip_get_experimental(buf, len, &m, NULL) != MIP_OK || m.subtype != MIP_EXP_BINDING_ACK)
        __builtin_trap();
    return 0;
}

static uint64_t fixed_ntp(void)
{
    return 3900000000ull << 32;
}

static struct mipd_config cfg;
static struct agent agent;

static void setup(void)
{
    char err[256];
    if (config_load_string(&cfg, conf, "fuzz.conf", ROLE_PCN, err, sizeof(err)) < 0)
        abort();
    agent.cfg = &cfg;
    agent.loop = loop_new();
    loop_set_fake_time(agent.loop, 1000000);
    agent.dp = dp_new_recorder();
    agent.tx = null_tx;
    agent.ntp_now = fixed_ntp;
    agent.identity = "pcn";
    agent.event_out = fopen("/dev/null", "w");
    if (!agent.loop || !agent.dp || pcn_init(&agent) < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size > MIP_MAX_MSG - 64)
        return 0;
    struct pkt_addr from = {.port = 434};
    from.addr.s_addr = htonl(0x0a0a0001); /* the configured HA */
    pcn_rx(&agent, &from, data, size);
    uint8_t buf[MIP_MAX_MSG];
    struct mip_writer w;
    mip_writer_init(&w, buf, sizeof(buf));
    mip_put_bytes(&w, data, size);
    mip_put_ro_auth(&w, MIP_DEFAULT_VENDOR_ID, 4096, KEY, sizeof(KEY));
    if (w.err == MIP_OK)
        pcn_rx(&agent, &from, buf, w.len);
    /* Keep the cache bounded across runs. */
    if (vpn_cache_count(agent.vpn) > 1000)
        vpn_cache_expire(agent.vpn, (time_t)1 << 40, NULL, NULL);
    return 0;
}
