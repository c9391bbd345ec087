"""Ingest pipeline: read (readers) -> normalise (normalise/) -> privacy -> deliver (bulk, retry, spool).

One module per stage; `commands` wires them to `mcpeeker ingest`, `follow` adds tailing with checkpoints.
"""
