"""Mult-VAE / Mult-DAE: the split, sparse == dense, the objective, and quality on planted data."""

import keras
import numpy as np
import pytest
import scipy.sparse as sp
import tensorflow as tf
import tensorflow_probability as tfp
from gentk_recommender.data import prepare, sparse_batches
from gentk_recommender.evaluation import (
    ease_scorer,
    model_scorer,
    popularity_scorer,
    ranking_metrics,
)
from gentk_recommender.model import LinearAnnealing, MultVAE, first_layer, sparse_matmul
from gentk_recommender.recipe import RecommenderConfig, RecommenderRecipe, use_dense

from gentk.config import resolve_config
from gentk.errors import UserError
from gentk.objectives import multinomial_log_likelihood


def _planted_file(path, n_users=600, n_items=120, rank=4, per_user=15, seed=0):
    """Clicks drawn from a planted low-rank model: user taste x item factors, softmax."""
    rng = np.random.default_rng(seed)
    users = rng.normal(size=(n_users, rank)) * 2
    items = rng.normal(size=(n_items, rank))
    popularity = rng.normal(size=n_items) * 0.3
    logits = users @ items.T + popularity
    rows = []
    for u in range(n_users):
        p = np.exp(logits[u] - logits[u].max())
        chosen = rng.choice(n_items, size=per_user, replace=False, p=p / p.sum())
        rows += [f"u{u},i{i}" for i in chosen]
    path.write_text("user,item\n" + "\n".join(rows) + "\n")
    return path


RECIPE = RecommenderRecipe()


def _config(**kw):
    base = {"validation_users": 100, "test_users": 100, "seed": 3}
    base.update(kw)
    return resolve_config(RecommenderConfig, None, [], **base)


def test_strong_generalisation_split(tmp_path):
    path = _planted_file(tmp_path / "r.csv")
    data = prepare(_config(), path)
    sets = [set(data.train_users), set(data.validation_users), set(data.test_users)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert len(sets[1]) == len(sets[2]) == 100 and sum(map(len, sets)) == 600
    for fold_in, target in (
        (data.validation_fold_in, data.validation_targets),
        (data.test_fold_in, data.test_targets),
    ):
        assert fold_in.multiply(target).nnz == 0  # disjoint
        n_in = np.asarray(fold_in.sum(1)).ravel()
        n_all = n_in + np.asarray(target.sum(1)).ravel()
        np.testing.assert_array_equal(n_in, np.ceil(0.8 * n_all))
    again = prepare(_config(), path)
    assert list(again.test_users) == list(data.test_users)
    assert (again.test_targets != data.test_targets).nnz == 0
    other = prepare(_config(seed=4), path)
    assert list(other.test_users) != list(data.test_users)
    # identifiers round-trip: every original user and item is in the outputs' vocabularies
    users, x = data.all_users()
    assert {f"u{k}" for k in range(600)} == set(users)
    assert set(data.item_ids) <= {f"i{k}" for k in range(120)}
    assert x.nnz == 600 * 15 - (
        15 * 200
        - data.validation_fold_in.nnz
        - data.test_fold_in.nnz
        - data.validation_targets.nnz
        - data.test_targets.nnz
    )


def test_min_rating_and_min_interactions(tmp_path):
    path = tmp_path / "r.csv"
    rows = [f"a,{i},5" for i in range(6)] + [f"b,{i},3" for i in range(6)]
    rows += [f"c,{i},4" for i in range(4)] + [f"d,{i},4.5" for i in range(5)]
    rows += [f"e,{i},4" for i in range(5)]
    path.write_text("\n".join(rows) + "\n")
    data = prepare(_config(validation_users=1, test_users=1), path)
    assert data.stats["n_users"] == 3  # b below min_rating, c below 5 positives
    assert data.stats["rows_below_min_rating"] == 6
    assert data.stats["users_below_min_interactions"] == 1


def test_multinomial_term_is_tfp_multinomial_without_the_coefficient():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 7)).astype("float32")
    x = (rng.random((3, 7)) < 0.4).astype("float32")
    ours = multinomial_log_likelihood(logits, x).numpy()
    n = x.sum(1)
    tfp_lp = tfp.distributions.Multinomial(n, logits=logits).log_prob(x).numpy()
    from scipy.special import gammaln

    log_coef = gammaln(n + 1) - gammaln(x + 1).sum(1)
    np.testing.assert_allclose(ours, tfp_lp - log_coef, rtol=1e-5)
    sparse = tf.sparse.from_dense(x)
    np.testing.assert_allclose(multinomial_log_likelihood(logits, sparse).numpy(), ours, rtol=1e-6)


def test_linear_annealing():
    schedule = LinearAnnealing(cap=0.2, steps=100)
    assert [float(schedule(s)) for s in (0, 50, 100, 1000)] == pytest.approx([0, 0.1, 0.2, 0.2])


@pytest.mark.parametrize("variational", [True, False])
def test_sparse_and_dense_batches_give_the_same_loss_and_gradients(variational):
    rng = np.random.default_rng(0)
    x = sp.csr_matrix((rng.random((20, 50)) < 0.2).astype("float32"))
    model = MultVAE(50, (16,), 8, dropout=0.0, variational=variational, anneal_steps=10)
    model.compile(optimizer="adam")
    dense = next(iter(sparse_batches(x, 20, dense=True)))
    sparse = next(iter(sparse_batches(x, 20, dense=False)))
    assert isinstance(sparse, tf.SparseTensor)
    np.testing.assert_array_equal(tf.sparse.to_dense(sparse).numpy(), x.toarray())
    results = []
    for batch in (dense, sparse):
        with tf.GradientTape() as tape:
            losses = model.compute_losses(batch, training=False)
        grads = tape.gradient(losses["loss"], model.trainable_variables)
        results.append((losses, [tf.convert_to_tensor(g).numpy() for g in grads]))
    (ld, gd), (ls, gs) = results
    for key in ("loss", "neg_ll", "kl"):
        np.testing.assert_allclose(ld[key].numpy(), ls[key].numpy(), rtol=1e-5)
    for a, b in zip(gd, gs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_sparse_matmul_is_the_dense_product_with_its_gradients():
    """The CSR first layer: x @ W, d/dW = x^T dh and d/dx_values = (dh W^T) at the entries,
    for entries given out of row-major order."""
    rng = np.random.default_rng(2)
    x = (rng.random((6, 9)) < 0.3) * rng.random((6, 9))
    x[2] = 0.0  # a user with no clicks left (all dropped)
    rows, cols = np.nonzero(x)
    order = rng.permutation(len(rows))
    indices = np.stack([rows[order], cols[order]], axis=1).astype("int64")
    values = tf.constant(x[rows[order], cols[order]], tf.float32)
    kernel = tf.constant(rng.normal(size=(9, 4)), tf.float32)
    dh = tf.constant(rng.normal(size=(6, 4)), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([values, kernel])
        h = sparse_matmul(tf.SparseTensor(indices, values, [6, 9]), kernel)
        dense = tf.scatter_nd(indices, values, [6, 9])
        expected = tf.matmul(dense, kernel)
    np.testing.assert_allclose(h.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    for wrt in (kernel, values):
        ours = tape.gradient(h, wrt, output_gradients=dh)
        theirs = tape.gradient(expected, wrt, output_gradients=dh)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        tape.gradient(h, kernel, output_gradients=dh).numpy(), x.T @ dh.numpy(), rtol=1e-5
    )
    # row_gradient: the same gradient as slices over the items the batch clicked
    with tf.GradientTape() as tape:
        tape.watch(kernel)
        h = sparse_matmul(tf.SparseTensor(indices, values, [6, 9]), kernel, row_gradient=True)
    rows_only = tape.gradient(h, kernel, output_gradients=dh)
    assert isinstance(rows_only, tf.IndexedSlices)
    assert set(rows_only.indices.numpy()) == set(cols)  # the clicked items' rows only
    np.testing.assert_allclose(
        tf.convert_to_tensor(rows_only).numpy(), x.T @ dh.numpy(), rtol=1e-5, atol=1e-6
    )


def test_sparse_input_dropout_drops_clicks_and_rescales_the_rest():
    """Training-mode dropout on a sparse batch keeps each click with probability 1 - rate
    and scales the kept ones by 1 / (1 - rate), as Keras' dropout does on dense batches."""
    x = tf.sparse.from_dense(tf.ones((200, 50)))
    layer = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")
    layer.build((None, 50))
    seeds = keras.random.SeedGenerator(0)
    h = first_layer(x, layer, 0.5, seeds, training=True).numpy()
    # each row is the L2-normalised row (entries 1/sqrt(50)) with about half its entries kept
    kept = h[:, 0] * np.sqrt(50) * 0.5
    assert abs(kept.mean() - 25) < 1.0 and kept.min() > 10 and kept.max() < 40
    np.testing.assert_allclose(kept, np.round(kept), atol=1e-4)  # whole clicks
    dense = first_layer(x, layer, 0.5, seeds, training=False).numpy()
    np.testing.assert_allclose(dense[:, 0], np.sqrt(50), rtol=1e-5)


def test_auto_input_mode_is_sparse_unless_xla_compiles_the_step():
    """On CPU the CSR first layer is the faster path at every catalogue size measured; dense
    batches are for XLA (a GPU or TPU, or jit_compile=true) up to dense_max_items."""
    accelerator = bool(tf.config.list_logical_devices("GPU"))
    assert use_dense(RECIPE, _config(), 1000) is accelerator
    assert use_dense(RECIPE, _config(jit_compile="true"), 1000) is True
    assert use_dense(RECIPE, _config(jit_compile="true"), 9000) is False
    assert use_dense(RECIPE, _config(jit_compile="false"), 1000) is False
    assert use_dense(RECIPE, _config(input_mode="dense"), 50000) is True
    assert use_dense(RECIPE, _config(input_mode="sparse", jit_compile="true"), 100) is False
    # the same rule as the runner's use_xla: a recipe's own XLA switches count
    no_xla, xla_on_cpu = RecommenderRecipe(), RecommenderRecipe()
    no_xla.supports_jit, xla_on_cpu.xla_on_cpu = False, True
    assert use_dense(no_xla, _config(jit_compile="true"), 1000) is False
    assert use_dense(xla_on_cpu, _config(), 1000) is True


def test_batches_keep_tf_data_autotuning_off():
    """The autotuner's background thread doubled one epoch in three on 2 cores."""
    x = sp.csr_matrix(np.eye(4, dtype="float32"))
    assert sparse_batches(x, 2).options().autotune.enabled is False


def test_sparse_training_matches_dense_training_in_distribution():
    rng = np.random.default_rng(1)
    x = sp.csr_matrix((rng.random((64, 40)) < 0.2).astype("float32"))
    losses = {}
    for dense in (True, False):
        keras.utils.set_random_seed(0)
        model = MultVAE(40, (16,), 8, variational=True, anneal_steps=10)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=dense)
        h = model.fit(
            sparse_batches(x, 16, shuffle=True, dense=dense), epochs=5, verbose=0, shuffle=False
        )
        losses[dense] = h.history["neg_ll"]
    assert losses[True][-1] < losses[True][0] and losses[False][-1] < losses[False][0]
    np.testing.assert_allclose(losses[True][-1], losses[False][-1], rtol=0.05)


@pytest.mark.slow
def test_mult_vae_beats_popularity_on_planted_low_rank_data(tmp_path):
    path = _planted_file(tmp_path / "r.csv")
    config = _config(hidden=(64,), latent_dim=16, batch_size=100, epochs=60)
    from gentk_recommender.recipe import RecommenderRecipe

    from gentk.training.runner import build_compiled_model, seed_everything

    seed_everything(0)
    data = prepare(config, path)
    recipe = RecommenderRecipe()
    model = build_compiled_model(recipe, config, data)
    model.fit(recipe.train_dataset(config, data), epochs=config.epochs, verbose=0, shuffle=False)
    vae = ranking_metrics(model_scorer(model), data.test_fold_in, data.test_targets)
    pop = ranking_metrics(popularity_scorer(data.train), data.test_fold_in, data.test_targets)
    ease = ranking_metrics(ease_scorer(data.train, 50.0), data.test_fold_in, data.test_targets)
    assert vae["ndcg@100"] > 1.3 * pop["ndcg@100"], (vae, pop)
    assert ease["ndcg@100"] > pop["ndcg@100"]


def test_ease_weights_solve_the_zero_diagonal_ridge_regression():
    """B = argmin ||X - XB||^2 + lambda ||B||^2 s.t. diag(B) = 0: the stationarity condition is
    that (G + lambda I) B - G is diagonal (one Lagrange multiplier per constrained entry)."""
    from gentk_recommender.evaluation import ease_weights

    rng = np.random.default_rng(0)
    x = sp.csr_matrix((rng.random((60, 12)) < 0.3).astype(np.float64))
    gram = (x.T @ x).toarray()
    b = ease_weights(x, 5.0)
    assert np.all(np.diag(b) == 0)
    m = (gram + 5.0 * np.eye(12)) @ b - gram
    np.testing.assert_allclose(m - np.diag(np.diag(m)), 0.0, atol=1e-9)
    p = np.linalg.inv(gram + 5.0 * np.eye(12))
    np.testing.assert_allclose(b, np.where(np.eye(12) > 0, 0.0, -p / np.diag(p)), atol=1e-12)
    np.testing.assert_allclose(ease_weights(x, 5.0, np.float32), b, atol=1e-5)


def test_the_runs_ease_baseline_takes_the_lambda_best_on_validation(tmp_path):
    from gentk_recommender.recipe import EASE_LAMBDAS, ease_baseline

    data = prepare(_config(), _planted_file(tmp_path / "r.csv"))
    validation = {
        lam: ranking_metrics(
            ease_scorer(data.train, lam, np.float32),
            data.validation_fold_in,
            data.validation_targets,
        )["ndcg@100"]
        for lam in EASE_LAMBDAS
    }
    out = ease_baseline(data)
    assert out["ease_lambda"] == max(validation, key=validation.get)
    test = ranking_metrics(
        ease_scorer(data.train, out["ease_lambda"], np.float32),
        data.test_fold_in,
        data.test_targets,
    )
    assert out["ease_test_ndcg@100"] == pytest.approx(test["ndcg@100"])


@pytest.mark.parametrize(
    ("decoder_hidden", "widths"), [(None, [(4, 16), (30, 16)]), ((), [(30, 4)])]
)
def test_decoder_widths_mirror_the_encoder_or_are_set(tmp_path, decoder_hidden, widths):
    model = MultVAE(30, (16,), 4, anneal_steps=10, decoder_hidden=decoder_hidden)
    model.build((None, 30))
    shapes = [tuple(v.shape) for v in model.decoder.weights if v.path.endswith(("kernel", "ings"))]
    assert shapes == widths  # the item-major output layer last: [I, H]
    x = (np.random.default_rng(0).random((5, 30)) < 0.3).astype("float32")
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.decoder_hidden == model.decoder_hidden
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-6)


def test_implicit_feedback_files_are_all_positives(tmp_path):
    """A rating column that is all 1 (or no rating column) is a file of positives: min_rating=4
    must not drop every row; implicit=false restores the threshold."""
    from gentk_recommender.data import load_interactions

    ones = tmp_path / "clicks.csv"
    ones.write_text("user,item,rating\n" + "".join(f"u{k % 7},i{k},1\n" for k in range(40)))
    rows = load_interactions(_config(), ones)
    assert rows.positive.all() and rows.report["implicit"]
    assert "40 rows read as implicit feedback (every rating is 1)" in rows.report["summary"]
    bare = tmp_path / "bare.csv"
    bare.write_text("user,item\n" + "".join(f"u{k % 7},i{k}\n" for k in range(40)))
    assert "(no rating column)" in load_interactions(_config(), bare).report["summary"]
    strict = load_interactions(_config(implicit="false"), ones)
    assert not strict.positive.any() and "0 with rating >= 4" in strict.report["summary"]


def test_rated_holds_every_interaction_and_exclusion_modes(tmp_path):
    from gentk_recommender.recipe import exclusion

    path = tmp_path / "r.csv"
    rows = [f"{u},{i},{1 if (u, i) == ('a', 6) else 5}" for u in "abcdefg" for i in range(7)]
    path.write_text("\n".join(rows) + "\n")
    data = prepare(_config(validation_users=0, test_users=0), path)
    users, x = data.all_users()
    assert len(data.validation_users) == 0 and len(data.test_users) == 0 and len(users) == 7
    a, col6 = list(users).index("a"), list(data.item_ids).index("6")
    assert x[a, col6] == 0 and data.rated[a, col6] == 1  # rated 1: not input, but seen
    assert (exclusion("seen", x, data.rated) != data.rated).nnz == 0
    assert (exclusion("positives", x, data.rated) != x).nnz == 0
    assert exclusion("none", x, data.rated).nnz == 0


def test_negative_held_out_counts_and_unknown_modes_are_refused():
    with pytest.raises(UserError, match="validation_users"):
        _config(validation_users=-1)
    with pytest.raises(UserError, match="`exclude` must be one of seen, positives, none"):
        _config(exclude="all")


def test_sampled_softmax_trains_mult_vae_and_keeps_its_proposal_through_save(tmp_path):
    from gentk_recommender.model import MultVAE
    from gentk_recommender.recipe import proposal

    data = prepare(_config(), _planted_file(tmp_path / "r.csv"))
    log_q = proposal(data.train, 0.75)
    counts = np.asarray(data.train.sum(axis=0)).ravel() + 1.0
    np.testing.assert_allclose(np.exp(log_q), counts**0.75 / (counts**0.75).sum(), rtol=1e-6)
    model = MultVAE(data.n_items, (16,), 4, sampled_softmax=8, item_log_q=log_q)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = data.train.toarray().astype("float32")
    history = model.fit(x, batch_size=64, epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    full = model.compute_losses(tf.constant(x[:32]), training=False)["neg_ll"]
    assert np.isfinite(float(full))  # evaluation uses the full softmax
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.item_log_q.numpy(), log_q, rtol=1e-6)
    np.testing.assert_allclose(loaded(x[:4]).numpy(), model(x[:4]).numpy(), rtol=1e-5)
    assert MultVAE(data.n_items, (16,), 4).item_log_q is None  # the full softmax adds no weight


def test_items_outside_every_sample_keep_their_starting_logits_so_the_start_is_popularity(
    tmp_path,
):
    """With a sampled softmax an item that is never a positive and never drawn gets no
    gradient: its bias and decoder column stay where they started, so its score is its start.
    ``item_bias=auto`` starts a sampling run at log popularity, which keeps that tail below
    the trained items; the full softmax starts at zeros."""
    from gentk_recommender.recipe import item_log_prior, proposal

    data = prepare(_config(), _planted_file(tmp_path / "r.csv"))
    n = data.n_items
    log_q = np.full(n, -1e4, dtype="float32")  # the last 20 items are never drawn
    log_q[: n - 20] = proposal(data.train[:, : n - 20], 0.75)
    x = data.train.toarray().astype("float32")
    x[:, n - 20 :] = 0  # ... and never positives
    prior = item_log_prior(_config(sampled_softmax=8), data.train)
    counts = np.asarray(data.train.sum(axis=0)).ravel() + 1.0
    np.testing.assert_allclose(np.exp(prior), counts / counts.sum(), rtol=1e-5)
    assert item_log_prior(_config(), data.train) is None  # the full softmax: zeros
    assert item_log_prior(_config(item_bias="zeros", sampled_softmax=8), data.train) is None
    np.testing.assert_allclose(item_log_prior(_config(item_bias="popularity"), data.train), prior)
    with pytest.raises(UserError, match="`item_bias` must be one of auto, popularity, zeros"):
        _config(item_bias="uniform")

    model = MultVAE(n, (16,), 4, sampled_softmax=8, item_log_q=log_q, item_log_prior=prior)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.build((None, n))
    head = model.decoder.head
    np.testing.assert_allclose(head.bias.numpy(), prior, rtol=1e-6)
    kernel0 = head.embeddings.numpy()
    model.fit(x, batch_size=64, epochs=2, verbose=0)
    bias, kernel = head.bias.numpy(), head.embeddings.numpy()
    np.testing.assert_array_equal(bias[n - 20 :], prior[n - 20 :])
    np.testing.assert_array_equal(kernel[n - 20 :], kernel0[n - 20 :])
    assert np.abs(bias[: n - 20] - prior[: n - 20]).max() > 1e-3  # the rest trained
    assert "item_log_prior" not in model.get_config()  # a start, not part of the model
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.decoder.head.bias.numpy(), bias)  # not re-started


def test_recvae_refuses_an_item_bias_it_would_ignore():
    from gentk_recommender.recipe import RecVAEConfig

    with pytest.raises(UserError, match="item_bias"):
        resolve_config(RecVAEConfig, None, [], item_bias="popularity")


def test_evaluation_holds_a_bounded_number_of_scores_and_gives_the_same_metrics(
    monkeypatch,
):
    """A 1M-item catalogue scores 16 users at a time (MAX_SCORES), not the batch's 1,000."""
    from gentk_recommender import evaluation

    rng = np.random.default_rng(0)
    fold_in = sp.random(40, 300, density=0.05, random_state=0, format="csr")
    targets = sp.random(40, 300, density=0.05, random_state=1, format="csr")
    weights = rng.normal(size=(300, 300))
    seen = []

    def scorer(x):
        seen.append(x.shape[0])
        return x @ weights

    whole = evaluation.ranking_metrics(scorer, fold_in, targets, per_user=True)
    assert seen == [40]
    whole_top = evaluation.top_n(scorer, fold_in, 10)
    seen.clear()
    monkeypatch.setattr(evaluation, "MAX_SCORES", 3 * 300)
    batched = evaluation.ranking_metrics(scorer, fold_in, targets, per_user=True)
    assert max(seen) == 3 and sum(seen) == 40
    for name in whole:
        np.testing.assert_array_equal(batched[name], whole[name])
    for a, b in zip(evaluation.top_n(scorer, fold_in, 10), whole_top):
        np.testing.assert_array_equal(a, b)


def test_the_best_epoch_is_the_runs_own_and_not_kept_on_the_shared_recipe(tmp_path):
    """metrics.json reports the epoch validation picked (as its checkpoint recorded it); the
    registry's recipe object keeps nothing of the run, so evaluating other data with it in the
    same process reports no best epoch (#24 item 1: per-run state off the shared recipe)."""
    import json

    import gentk
    from gentk.plugins import get_registry
    from gentk.training.callbacks import read_checkpoint_state

    path = _planted_file(tmp_path / "r.csv", n_users=300, n_items=60)
    recipe = get_registry().get("model", "recommender-vae").factory
    result = gentk.run(recipe, data=str(path), output=tmp_path / "run", verbose=0, epochs=3,
                       overrides=["validation_users=50", "test_users=50", "hidden=16",
                                  "latent_dim=8", "batch_size=50"])  # fmt: skip
    picked = read_checkpoint_state(tmp_path / "run")["callbacks"]["ValidationNDCG"]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert 1 <= metrics["best_epoch"] == picked["epoch"] <= 3
    assert metrics["best_val_ndcg@100"] == pytest.approx(picked["best"])
    assert set(vars(recipe)) <= {"help"}, vars(recipe)  # what the registry sets, nothing more
    again = recipe.evaluate(result.model, result.config, prepare(result.config, str(path)))
    assert "best_epoch" not in again and "test_ndcg@100" in again


def test_sampled_softmax_gradients_are_row_slices_and_the_recipe_applies_them_lazily(tmp_path):
    """The item-major output layer: the sampled softmax's gradients to the item embeddings and
    biases are ``tf.IndexedSlices`` over the positives and the sample, and the recipe trains a
    sampling model with ``LazyAdam`` (``lazy_adam=false``: dense Adam; the full softmax:
    FusedAdam)."""
    from gentk.training.optimizers import FusedAdam, LazyAdam

    data = prepare(_config(), _planted_file(tmp_path / "r.csv"))
    model = MultVAE(data.n_items, (16,), 4, sampled_softmax=8)
    model.compile(optimizer=LazyAdam(1e-3))
    model.build((None, data.n_items))
    x = next(iter(sparse_batches(data.train[:32], 32, shuffle=False, dense=False)))
    with tf.GradientTape() as tape:
        loss = model.compute_losses(x, training=True)["loss"]
    head, first = model.decoder.head, model.encoder.layers_[0]
    grads = tape.gradient(loss, [head.embeddings, head.bias, first.kernel])
    assert all(isinstance(g, tf.IndexedSlices) for g in grads)  # the [I, H] input layer too
    touched = np.unique(grads[0].indices.numpy())
    assert len(touched) < data.n_items  # the batch's positives and 8 draws, not every item
    assert tuple(head.embeddings.shape) == (data.n_items, 16)  # [I, H]
    recipe = RecommenderRecipe()
    assert type(recipe.optimizer(_config(sampled_softmax=8))) is LazyAdam
    assert type(recipe.optimizer(_config(sampled_softmax=8, lazy_adam=False))) is FusedAdam
    assert type(recipe.optimizer(_config())) is FusedAdam


def test_models_saved_with_the_hidden_major_output_layer_load_transposed(tmp_path):
    """``mult_vae_hidden_major.keras`` was saved by gentk before ``ItemOutput`` (a ``Dense``
    head, kernel ``[H, I]``, H=5, I=7, sampled softmax): it loads with its logits unchanged,
    and saved again it loads again the same."""
    from pathlib import Path

    fixtures = Path(__file__).parent / "fixtures"
    expected = np.load(fixtures / "mult_vae_hidden_major_expected.npz")
    old = keras.models.load_model(fixtures / "mult_vae_hidden_major.keras", safe_mode=True)
    np.testing.assert_allclose(old(expected["x"]).numpy(), expected["logits"], rtol=1e-5)
    np.testing.assert_array_equal(old.decoder.head.embeddings.numpy(), expected["kernel"].T)
    assert old.get_config()["item_major"] is True
    assert old.decoder.get_config()["hidden_major"] is False  # in memory: item-major
    old.save(tmp_path / "again.keras")
    again = keras.models.load_model(tmp_path / "again.keras", safe_mode=True)
    np.testing.assert_allclose(again(expected["x"]).numpy(), expected["logits"], rtol=1e-5)
    # a checkpoint of a run started before the change: its [H, I] matrix loads transposed
    fresh = MultVAE(7, hidden=(5,), latent_dim=3, sampled_softmax=4)
    fresh.build((None, 7))
    head = fresh.decoder.head
    head.load_own_variables({"0": expected["kernel"], "1": np.zeros(7, "float32")})
    np.testing.assert_array_equal(head.embeddings.numpy(), expected["kernel"].T)
