"""Evaluation metrics: ranking (Recall@K, NDCG@K) and likelihood (importance-sampled NLL)."""

from gentk.metrics.ranking import ndcg_at_k, rank_top_k, recall_at_k, top_k_metrics

__all__ = ["ndcg_at_k", "rank_top_k", "recall_at_k", "top_k_metrics"]
