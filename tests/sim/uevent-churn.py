#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A client that opens and closes netlink uevent sockets as fast as it can for SECONDS.

Under the umockdev preload every bind() first unlinks the stale "event<fd>" socket of
the last client with that descriptor and then binds its own, so a simulator sending
uevents meanwhile finds sockets that vanish between its glob() and its connect(), and
sockets closed between its connect() and its sendmsg().  Prints how many it opened.
"""
import socket
import sys
import time

NETLINK_KOBJECT_UEVENT = 15

end = time.monotonic() + float(sys.argv[1])
n = 0
while time.monotonic() < end:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_KOBJECT_UEVENT)
    s.bind((0, 0))
    s.close()
    n += 1
print("uevent sockets opened:", n)
