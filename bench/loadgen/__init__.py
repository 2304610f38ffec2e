"""The load generator: raw WebSocket clients on one asyncio loop (uvloop when present).

Clients are ``asyncio.Protocol`` objects rather than aiohttp client sockets: a
received chunk is split into frames in one pass and a ``msg`` frame is read
with two or three ``bytes.find`` calls instead of a JSON parse, so the generator
costs a fraction of what the server spends on the same frames.
"""
