"""Ingest pipeline: read (readers) -> normalise (normalise/) -> privacy -> deliver (bulk, retry, spool).

One module per stage; `follow` adds tailing with checkpoints; cli/ingest.py wires them to `mcpeeker ingest`.
"""
