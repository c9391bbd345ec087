"""The embedded local OpenSearch node: assembled from registry packages, managed by `mcpeeker opensearch`."""

from .assemble import OPENSEARCH_VERSION, ensure_distribution, mcpeeker_home
from .node import LocalNode, NodeStatus

__all__ = ["OPENSEARCH_VERSION", "LocalNode", "NodeStatus", "ensure_distribution", "mcpeeker_home"]
