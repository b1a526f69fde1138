# Scenario "intra-move": seed scenario 2 -- alice moves from FA1 to FA2 inside visited ISP A,
# static company gateway (seeds [0063]-[0067], Fig. 25; aaad/FLOWS.md "Intra-domain move"),
# with smooth hand-off (fa.smooth_handoff = true): the old FA buffers alice's packets from the
# moment her link goes and forwards them, and everything still reaching it, to FA2.
# tb-world: aaa
# Sourced by testbed/run; the steps are in testbed/lib/move.sh (shared with intra-move-nosmooth).
export TB_SMOOTH_HANDOFF=true
MOVE_TO=fa2 MOVE_SET=static
# shellcheck source=../lib/move.sh
source "$TB_DIR/lib/move.sh"
