# Scenario "demo": a narrated tour of the testbed (for now: the plain Mobile IP tour).
# Sourced by testbed/run.  Each step says what happens and why; the checks are the
# same as in "plain", so the demo also proves what it shows.

say -a tour "The world: a backbone (192.0.2.0/24) joins the home ISP (HA 192.0.2.1,"
say -a tour "home link 10.10.0.0/24), visited ISP A (FA1 192.0.2.11, FA2 192.0.2.12),"
say -a tour "visited ISP B (FA3 192.0.2.13) and a correspondent host (CN 192.0.2.100)."
say -a tour "Mobile nodes keep their home address wherever they attach; the HA tunnels"
say -a tour "their traffic to the foreign agent they registered through."
# shellcheck disable=SC2034 # read by plain.sh
TB_NARRATE=1
# shellcheck source=plain.sh
source "$TB_DIR/scenarios/plain.sh"
say -a tour "End of the tour: every check above is in the JSON result."
