"""The presence service: session ownership, node liveness and join/leave.

The ownership records in KV ``HAWS_PRESENCE`` are the only state; every replica
mirrors them in memory through a KV watch and answers from that mirror, and one
elected leader does what must happen once (expiry, dead nodes, join/leave).
"""
