#!/bin/sh
# Creates the build system: ./autogen.sh && ./configure && make
set -e
cd "$(dirname "$0")"
autoreconf -fi
