"""Evaluation metrics: ranking (Recall@K, NDCG@K) and likelihood (importance-sampled NLL)."""

from gentk.metrics.ranking import ndcg_at_k, rank_top_k, recall_at_k

__all__ = ["ndcg_at_k", "rank_top_k", "recall_at_k"]
