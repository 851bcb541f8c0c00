#!/usr/bin/env python3
"""A stand-in for systemd's notify socket: binds a datagram socket at PATH
and appends each message received to OUT, one line each, until killed."""
import socket
import sys

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], 'a', buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode() + '\n')
