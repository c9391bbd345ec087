"""`mcpeeker serve`: the REST API (FastAPI under uvicorn) with OpenID Connect bearer tokens, hashed API tokens and
roles enforced by the server (docs/serve.md)."""
