#!/usr/bin/env bats
# The operator files in scripts/ are exercised so that they cannot rot:
# the nginx server block under nginx -t and in front of serve, the systemd
# units under systemd-analyze and through emulated socket activation.

@test "operator configs: nginx -t, systemd-analyze verify, socket activation, nginx in front" {
	run timeout 300 scripts/check-configs
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[-1]}" == "check-configs: all checks passed" ]]
}
