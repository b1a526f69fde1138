# Scenario "inter-move": seed scenario 3 -- alice moves from FA1 (visited ISP A) to FA3 in
# visited ISP B, static company gateway (seeds [0068]-[0073], Fig. 26; aaad/FLOWS.md
# "Inter-domain move"): FA3's AMR goes through AAAF-B to the AAAH, which rewrites the FA; HAR,
# the HA moves its tunnels to FA3; the HAA and the AMA carry FA1's address; FA3 sets its tunnel
# and sends the hand-off BU to FA1 (smooth hand-off on).
# tb-world: aaa
# Sourced by testbed/run; the steps are in testbed/lib/move.sh.
export TB_SMOOTH_HANDOFF=true
MOVE_TO=fa3 MOVE_SET=static
# shellcheck source=../lib/move.sh
source "$TB_DIR/lib/move.sh"
