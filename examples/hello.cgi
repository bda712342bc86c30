#!/bin/sh
# A tiny CGI program for `make demo` (scripts/demo) and for trying
# `fcgi-bridge serve` by hand:
#
#   fcgi-bridge serve -s unix:/tmp/demo.sock -r "$PWD/examples" &
#   fcgi-bridge request -i -r "$PWD/examples" unix:/tmp/demo.sock '/hello.cgi?name=world'
#
# It greets the value of name= in QUERY_STRING ("stranger" when absent) and
# shows the raw query string.  Plain text, so nothing needs escaping.
name=stranger
q="&${QUERY_STRING-}"
case "$q" in
*'&name='*)
	name=${q#*&name=}
	name=${name%%&*}
	;;
esac
printf 'Content-Type: text/plain\r\n\r\n'
printf 'Hello, %s!\n' "${name:-stranger}"
printf 'QUERY_STRING=%s\n' "${QUERY_STRING-}"
