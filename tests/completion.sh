#!/usr/bin/env bash
# The bash completion of cictl offers the commands of the table cictl
# itself prints: families, their verbs, and a command's flags.
# Usage: completion.sh BINDIR
set -euo pipefail
PATH=$1:$PATH
. "$(dirname "$0")/../contrib/bash-completion/cictl"
fail=0
expect() {	# expect "WORDS..." "wanted reply"
	local words=($1)
	COMP_WORDS=("${words[@]}")
	[[ $1 == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_cictl
	if [ "${COMPREPLY[*]}" != "$2" ]; then
		echo "completion of '$1': got '${COMPREPLY[*]}', want '$2'" >&2
		fail=1
	fi
}
expect "cictl sta" "status"
expect "cictl secret " "list rm set"
expect "cictl runs --" "--before --json --limit --repo"
expect "cictl -c x.conf tok" "token"
expect "cictl token " "create list revoke"
expect "cictl repo " "add edit list rm show"
expect "cictl repo rm --" "--json --purge"
expect "cictl artif" "artifacts"
expect "cictl artifacts " "download"
expect "cictl artifacts --" "--json"
expect "cictl cac" "cache"
expect "cictl cache " "list rm"
expect "cictl cache rm --" "--key --repo"
[ $fail = 0 ] && echo "completion: ok"
exit $fail
