#!/bin/sh
# The nemesis (tests/nemesis/README.md) as a TAP script for prove:
# NEMESIS_MIN minutes (default 30) of seeded random faults, NEMESIS_SEED
# to replay a run.
exec /usr/bin/python3 "$(dirname "$0")/nemesis.py"
