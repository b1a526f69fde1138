/* dict_mip4vpn.fdx: the dictionary as a freeDiameter extension, for a stock freeDiameterd.
 *
 *   LoadExtension = "dict_mip4vpn.fdx";                          # vendor 32473
 *   LoadExtension = "dict_mip4vpn.fdx" : "vendor_id=32473";      # explicit vendor ID
 *
 * The argument after ':' is not a file name: it is "vendor_id=N" (or just N).
 */
#include "mip4vpn_dict.h"

#include <freeDiameter/extension.h>

static int mip4vpn_ext_entry(char *conffile)
{
    uint32_t vendor_id;
    int ret = mip4vpn_dict_parse_arg(conffile, &vendor_id);
    if (ret) {
        fd_log(FD_LOG_ERROR, "dict_mip4vpn: bad argument '%s' (want \"vendor_id=N\")", conffile);
        return ret;
    }
    ret = mip4vpn_dict_init(vendor_id);
    if (ret) {
        fd_log(FD_LOG_ERROR, "dict_mip4vpn: registering the dictionary failed: %s", strerror(ret));
        return ret;
    }
    fd_log(FD_LOG_NOTICE,
           "dict_mip4vpn: RFC 4004 (application %u) and MIP4VPN vendor %u AVPs initialised",
           MIP4_APPLICATION_ID, vendor_id);
    return 0;
}

/* No dependency: only the base protocol dictionary is needed. */
EXTENSION_ENTRY("dict_mip4vpn", mip4vpn_ext_entry);
