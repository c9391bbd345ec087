"""The domain model shared by the endpoint agent and the SIEM side. Standard library only: the agent zipapp
(scripts/build-agent-zipapp.py) carries this package without the rest of mcpeeker."""
