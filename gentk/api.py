"""The declared plugin API: everything a plugin may import from gentk, in one module.

Built-in plugins and third-party ones import from here (and ``hookimpl`` and the other names
of ``gentk.__all__`` from ``gentk`` itself); a test fails when a built-in plugin or the example
plugin imports anything else from gentk, or from another plugin. The names keep their meaning
across minor versions; the modules they live in are the core's business and may move.

Loading is lazy (PEP 562): ``from gentk.api import option`` imports ``gentk.config`` only,
so a plugin's hooks stay cheap to load (no TensorFlow until a name that needs it is asked for).

Groups (see docs/plugins.md for what each is for):

- interfaces: ``Encoder``, ``Decoder``, ``Generator``, ``Critic``, ``Bijector``, ``Prior``,
  ``Divergence``;
- recipes and options: ``Recipe``, ``TrainConfig``, ``option``, ``with_defaults``,
  ``parse_every``, ``check_active_options``, ``ImageRecipe`` and ``ImageDataConfig`` (data
  of images or vectors), ``EncoderDecoderRecipe`` and ``EncoderDecoderConfig`` (models of a
  registered encoder and decoder; ``ImageConfig`` is the config's former name),
  ``in_batches``, ``use_xla``, ``records_config`` (``get_config`` from the constructor's
  arguments) and ``constructor_options`` (a config's fields a constructor names);
- models and training: ``GenerativeModel``, ``EncoderDecoderModel``, ``unpack_x``,
  ``batch_rows``, ``record_weighted``, ``FusedAdam``, ``LazyAdam``, ``gather_rows``,
  ``Optimized`` and ``training_contract`` (a model with several optimizers declares what
  each trains), ``BestWeights``, ``restore_best``, ``read_checkpoint_state``,
  ``Cadence``, ``ValidationEpochs``, and under ``tf.distribute`` ``run_if``, ``replica_sum``,
  ``global_moments``, ``from_first_replica``;
- likelihoods and objectives: ``pixel_likelihood``, ``latent_distribution``, ``LIKELIHOODS``,
  ``LEARNED_SCALE``, ``elbo``, ``iwae_bound``, ``kl_divergence``, ``standard_normal``,
  ``multinomial_log_likelihood``, ``sampled_multinomial_log_likelihood``, ``f_critic_loss``,
  ``f_generator_loss``, the module ``adversarial`` (every adversarial loss pair);
- layers and flows: ``dense_stack``, ``conv_down``, ``conv_up``, ``MaxPoolingWithArgmax2D``,
  ``MaxUnpooling2D``, ``AverageUnpooling2D``, ``build_layers``, ``parse_step``,
  ``validate_step``;
- data: ``TabularData``, ``ImageSplits`` (what ``ImageRecipe.load_data`` returns),
  ``EncodedRows``, ``read_interactions``, ``gaussian_ring``;
- metrics: ``frechet_distance``, ``kernel_distance``, ``precision_recall``, ``mode_coverage``,
  ``bootstrap_se``, ``FeatureExtractor``, ``rank_top_k``, ``top_k_metrics``;
- runs, files and output: ``get_registry``, ``open_run``, ``RunLock``, ``check_output_path``,
  ``atomic_path``, ``atomic_write_text``, ``disk_full``, ``task``, ``note``, ``quiet``, the
  module ``plots``;
- errors: ``UserError``, ``DataError``, ``printable``.
"""

from __future__ import annotations

import importlib

#: name -> the module that defines it (a module itself where the name is the module's)
_WHERE = {
    # interfaces
    "Bijector": "gentk.interfaces",
    "Critic": "gentk.interfaces",
    "Decoder": "gentk.interfaces",
    "Divergence": "gentk.interfaces",
    "Encoder": "gentk.interfaces",
    "Generator": "gentk.interfaces",
    "Prior": "gentk.interfaces",
    # recipes and options
    "Recipe": "gentk.recipe",
    "check_active_options": "gentk.recipe",
    "TrainConfig": "gentk.config",
    "option": "gentk.config",
    "with_defaults": "gentk.config",
    "parse_every": "gentk.config",
    "ImageRecipe": "gentk.image_recipe",
    "ImageConfig": "gentk.encoder_decoder",
    "EncoderDecoderConfig": "gentk.encoder_decoder",
    "EncoderDecoderRecipe": "gentk.encoder_decoder",
    "ImageDataConfig": "gentk.image_recipe",
    "in_batches": "gentk.image_recipe",
    "use_xla": "gentk.training.plan",
    "records_config": "gentk.configurable",
    "constructor_options": "gentk.configurable",
    # models and training
    "GenerativeModel": "gentk.models",
    "EncoderDecoderModel": "gentk.models",
    "unpack_x": "gentk.models",
    "batch_rows": "gentk.models",
    "record_weighted": "gentk.models",
    "FusedAdam": "gentk.training.optimizers",
    "LazyAdam": "gentk.training.optimizers",
    "gather_rows": "gentk.training.optimizers",
    "Optimized": "gentk.training.contract",
    "training_contract": "gentk.training.contract",
    "BestWeights": "gentk.training.callbacks",
    "restore_best": "gentk.training.callbacks",
    "read_checkpoint_state": "gentk.training.callbacks",
    "Cadence": "gentk.training.callbacks",
    "ValidationEpochs": "gentk.training.callbacks",
    "run_if": "gentk.replicas",
    "replica_sum": "gentk.replicas",
    "global_moments": "gentk.replicas",
    "from_first_replica": "gentk.replicas",
    # likelihoods and objectives
    "pixel_likelihood": "gentk.distributions.heads",
    "latent_distribution": "gentk.distributions.heads",
    "LIKELIHOODS": "gentk.distributions.heads",
    "LEARNED_SCALE": "gentk.distributions.heads",
    "elbo": "gentk.objectives",
    "iwae_bound": "gentk.objectives",
    "kl_divergence": "gentk.objectives",
    "standard_normal": "gentk.objectives",
    "multinomial_log_likelihood": "gentk.objectives",
    "sampled_multinomial_log_likelihood": "gentk.objectives",
    "f_critic_loss": "gentk.objectives.adversarial",
    "f_generator_loss": "gentk.objectives.adversarial",
    "adversarial": "gentk.objectives.adversarial",
    # layers and flows
    "dense_stack": "gentk.layers",
    "conv_down": "gentk.layers",
    "conv_up": "gentk.layers",
    "MaxPoolingWithArgmax2D": "gentk.layers",
    "MaxUnpooling2D": "gentk.layers",
    "AverageUnpooling2D": "gentk.layers",
    "build_layers": "gentk.flow_layout",
    "parse_step": "gentk.flow_layout",
    "validate_step": "gentk.flow_layout",
    # data
    "TabularData": "gentk.data.tabular",
    "ImageSplits": "gentk.image_recipe",
    "EncodedRows": "gentk.data.interactions",
    "read_interactions": "gentk.data",
    "gaussian_ring": "gentk.data",
    # metrics
    "frechet_distance": "gentk.metrics.sample_quality",
    "kernel_distance": "gentk.metrics.sample_quality",
    "precision_recall": "gentk.metrics.sample_quality",
    "mode_coverage": "gentk.metrics.sample_quality",
    "bootstrap_se": "gentk.metrics.sample_quality",
    "FeatureExtractor": "gentk.metrics.sample_quality",
    "rank_top_k": "gentk.metrics.ranking",
    "top_k_metrics": "gentk.metrics.ranking",
    # runs, files and output
    "get_registry": "gentk.plugins",
    "open_run": "gentk.cli.common",
    "RunLock": "gentk.training.rundir",
    "check_output_path": "gentk.training.rundir",
    "atomic_path": "gentk.atomic",
    "atomic_write_text": "gentk.atomic",
    "disk_full": "gentk.atomic",
    "task": "gentk.progress",
    "note": "gentk.progress",
    "quiet": "gentk.progress",
    "plots": "gentk.plots",
    # errors
    "UserError": "gentk.errors",
    "DataError": "gentk.errors",
    "printable": "gentk.errors",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'gentk.api' has no attribute {name!r}")
    module = importlib.import_module(where)
    value = module if where.rsplit(".", 1)[-1] == name else getattr(module, name)
    globals()[name] = value  # once
    return value


def __dir__():
    return __all__
