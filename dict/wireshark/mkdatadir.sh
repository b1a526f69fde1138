#!/usr/bin/env bash
# Make a Wireshark data directory that knows our Diameter vendor AVPs, for tshark/wireshark:
#
#   bash dict/wireshark/mkdatadir.sh OUTDIR [VENDOR_ID]
#   WIRESHARK_DATA_DIR=OUTDIR tshark -r capture.pcap -V
#
# Wireshark 4.0 reads its Diameter dictionary only from <data dir>/diameter/dictionary.xml
# (there is no preference naming another file), and honours WIRESHARK_DATA_DIR. OUTDIR gets
# links to everything in the system data directory except diameter/, which is a copy whose
# dictionary.xml also includes mip4vpn-diameter.xml (with the vendor code set to VENDOR_ID,
# default 32473). OUTDIR must not exist or be empty.
set -eu
out=${1:?usage: mkdatadir.sh OUTDIR [VENDOR_ID]}
vendor=${2:-32473}
here=$(cd "$(dirname "$0")" && pwd)
sys=${MIP_WIRESHARK_SYSTEM_DATA_DIR:-/usr/share/wireshark}
[[ $vendor =~ ^[0-9]+$ ]] || { echo "mkdatadir: bad vendor id '$vendor'" >&2; exit 1; }
[ -f "$sys/diameter/dictionary.xml" ] || { echo "mkdatadir: no $sys/diameter/dictionary.xml" >&2; exit 1; }
mkdir -p "$out/diameter"
for f in "$sys"/*; do
    [ "$(basename "$f")" = diameter ] || ln -sfn "$f" "$out/$(basename "$f")"
done
for f in "$sys"/diameter/*; do
    [ "$(basename "$f")" = dictionary.xml ] || ln -sfn "$f" "$out/diameter/$(basename "$f")"
done
sed "s/code=\"32473\" name=\"MIP4VPN\"/code=\"$vendor\" name=\"MIP4VPN\"/" \
    "$here/mip4vpn-diameter.xml" >"$out/diameter/mip4vpn-diameter.xml"
grep -q "code=\"$vendor\" name=\"MIP4VPN\"" "$out/diameter/mip4vpn-diameter.xml" ||
    { echo "mkdatadir: could not set the vendor code" >&2; exit 1; }
# Declare the entity next to Custom's and reference it where &Custom; is.
awk '
    /<!ENTITY[ \t]+Custom[ \t]/ { print "\t<!ENTITY mip4vpn\t\tSYSTEM \"mip4vpn-diameter.xml\">"; e++ }
    /^[ \t]*&Custom;/ { print "\t&mip4vpn;"; r++ }
    { print }
    END { if (e != 1 || r != 1) exit 1 }
' "$sys/diameter/dictionary.xml" >"$out/diameter/dictionary.xml" ||
    { echo "mkdatadir: dictionary.xml has no Custom entity to hook into" >&2; exit 1; }
